"""Options shared by the whole test tree (here, at the root, so pytest knows them for any selection of tests)."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--snapshot-update", action="store_true", default=False,
        help="rewrite the golden exposition files in tests/collectors/golden/ instead of comparing with them "
             "(after a deliberate change; review the diff and say why in the commit)",
    )
