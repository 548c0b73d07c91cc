"""One Prism per mode per test run (static examples; dynamic data per seed), each behind a ContractProxy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from exporter.simulator import RunningSimulator, SimulatorConfig
from tests.contract import description
from tests.contract.harness import ContractProxy, Prism


@pytest.fixture(scope="session")
def contract_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("contract")


@pytest.fixture(scope="session")
def contract_description(contract_dir: Path) -> Path:
    return description.write(contract_dir)


@pytest.fixture(scope="session")
def downloads() -> Iterator[RunningSimulator]:
    """The signed-download origin report files come from (exports complete at once)."""
    with RunningSimulator(config=SimulatorConfig(billing_export_delay=0.0)) as running:
        yield running


def serve(contract_description: Path, downloads: RunningSimulator, seed: str | None) -> Iterator[ContractProxy]:
    name = "static" if seed is None else f"dynamic-{seed}"
    prism = Prism(contract_description, contract_description.parent / f"prism-{name}.log", seed).wait_ready()
    proxy = ContractProxy(prism.url, downloads).start()
    try:
        yield proxy
    finally:
        proxy.stop()
        prism.stop()
        print(f"Prism ({name}) log: {prism.log_path}")


@pytest.fixture(scope="session")
def static_github(contract_description: Path, downloads: RunningSimulator) -> Iterator[ContractProxy]:
    yield from serve(contract_description, downloads, None)
