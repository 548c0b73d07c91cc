"""Write generated files, or with --check only say which differ: shared by the generators under deploy/."""

from __future__ import annotations

import difflib
import sys
from pathlib import Path


def update(outputs: dict[Path, str], *, check: bool) -> list[Path]:
    """Write each changed file (or, when checking, print its diff); return the files that were out of date."""
    stale = []
    for path, text in outputs.items():
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current == text:
            continue
        stale.append(path)
        if check:
            sys.stdout.writelines(difflib.unified_diff(
                current.splitlines(keepends=True), text.splitlines(keepends=True), str(path), "generated"))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    return stale
