"""A GitHubClient pointed at the loopback simulator (`running`, in tests/conftest.py); waits are recorded, not slept."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from prometheus_client import CollectorRegistry

from exporter.github.client import GitHubClient
from exporter.settings import GitHubSettings
from exporter.simulator import RunningSimulator, Simulator
from exporter.telemetry import ExporterMetrics

TOKEN = "ghp_clienttesttoken0001"


class RecordedSleep:
    """Stands in for asyncio.sleep so back-off and rate-limit waits are asserted, not waited."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def sim(running: RunningSimulator) -> Simulator:
    return running.sim


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def sleeps() -> RecordedSleep:
    return RecordedSleep()


@pytest.fixture
async def client(
    running: RunningSimulator, sim, registry: CollectorRegistry, sleeps: RecordedSleep
) -> AsyncIterator[GitHubClient]:
    settings = GitHubSettings(api_url=running.url, token=TOKEN, max_retries=3, max_rate_limit_wait=120)
    client = GitHubClient(settings, ExporterMetrics(registry), clock=sim.now, sleep=sleeps)
    yield client
    await client.aclose()


def rsa_key_pair() -> tuple[str, str]:
    """A GitHub App's RSA key: (private PEM for the exporter, public PEM for the simulator)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@pytest.fixture(scope="module")
def key_pair() -> tuple[str, str]:
    return rsa_key_pair()
