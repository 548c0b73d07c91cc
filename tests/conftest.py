"""Options shared by the whole test tree (here, at the root, so pytest knows them for any selection of tests)."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--snapshot-update", action="store_true", default=False,
        help="rewrite the golden exposition files in tests/collectors/golden/ instead of comparing with them "
             "(after a deliberate change; review the diff and say why in the commit)",
    )


# Hypothesis's per-example deadline times the machine, not the code: on a loaded two-core CI box a first call
# can take 300 ms and fail as "flaky". The properties are about results, so no deadline; a fixed derandomised
# seed under CI keeps a run reproducible.
settings.register_profile("suite", deadline=None, derandomize=bool(os.environ.get("CI")))
settings.load_profile("suite")
