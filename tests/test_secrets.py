"""The daemon through every fault at debug level: no token or App key in any output; credentials stay home.

Two runs: a personal access token, and a GitHub App (its key, its JWTs and the installation tokens it buys).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from exporter.simulator import RunningSimulator, SimulatorConfig
from exporter.simulator import billing as sim_billing
from exporter.simulator import copilot as sim_copilot
from tests.github import conftest as github_fixtures
from tests.hostile import Daemon, daemon_config, faults

TOKEN = "ghp_SECRETSENTINEL0123456789abcdefSECRET"
APP_ID = 777
app_key = github_fixtures.key_pair  # an RSA key pair: the App's private key and the public key the simulator checks
FAULT_SECONDS = 0.4


@pytest.fixture(scope="module")
def elsewhere() -> Iterator[RunningSimulator]:
    with RunningSimulator() as running:
        yield running


def run_through_faults(running: RunningSimulator, elsewhere: RunningSimulator, daemon: Daemon) -> set[str]:
    """Each fault for a moment, scraping all along, then the healthy simulator again; the tokens the App bought."""
    every = faults(f"{elsewhere.url}/orgs/octo-demo/insights/api/subject-stats?page=2")
    issued: set[str] = set()
    try:
        time.sleep(1.5)  # a healthy round first: App tokens bought, exports created, pages followed
        for switch in every.values():
            issued |= running.sim.credentials.issued()  # reset() forgets them
            running.sim.reset()
            switch(running.sim)
            deadline = time.monotonic() + FAULT_SECONDS
            while time.monotonic() < deadline:
                daemon.scrape()
                time.sleep(0.15)
        issued |= running.sim.credentials.issued()
        running.sim.reset()
        time.sleep(1.0)
        daemon.scrape()
    finally:
        daemon.stop()
    return issued | running.sim.credentials.issued()


def secret_pieces(text: str) -> list[str]:
    """The parts of a secret worth looking for: the whole of it and every line of a PEM body."""
    return [text] + [line for line in text.splitlines() if line and "-----" not in line]


def assert_nothing_leaked(daemon: Daemon, secrets: list[str], elsewhere: RunningSimulator,
                          running: RunningSimulator) -> None:
    everything = daemon.output() + "\n".join(daemon.scrapes)
    assert daemon.scrapes and all("github_exporter_collector_success" in s for s in daemon.scrapes)
    for secret in secrets:
        for piece in secret_pieces(secret):
            assert piece not in everything, f"a secret ({piece[:6]}...) appears in the daemon's output"
    assert "Traceback" not in everything
    assert "Bearer " not in everything and "authorization" not in everything.lower().replace(
        "refused_authorization", ""
    ).replace("with_authorization", "")
    # The next-page link to another host was never followed, with or without credentials.
    assert elsewhere.sim.request_counts()["total"] == 0
    # Signed downloads (billing CSV, Copilot NDJSON) never carried an Authorization header.
    assert running.sim.billing.downloads().get("refused_authorization", 0) == 0
    assert sim_copilot.download_counts(running.sim).get("with_authorization", 0) == 0
    assert sim_billing.DOWNLOAD_TEMPLATE  # the download faults above covered both stores


def test_a_token_never_leaks(tmp_path: Path, elsewhere: RunningSimulator) -> None:
    with RunningSimulator(config=SimulatorConfig(tokens=(TOKEN,))) as running:
        daemon = Daemon(tmp_path, daemon_config(running.sim, running.url, {"token": TOKEN}))
        run_through_faults(running, elsewhere, daemon)
        assert_nothing_leaked(daemon, [TOKEN], elsewhere, running)


def test_an_app_key_and_its_tokens_never_leak(tmp_path: Path, elsewhere: RunningSimulator, app_key) -> None:
    (tmp_path / "app.pem").write_text(app_key[0])
    config = SimulatorConfig(app_id=APP_ID, app_public_key_pem=app_key[1], installation_token_lifetime=3600)
    with RunningSimulator(config=config) as running:
        app = {"app": {"app_id": APP_ID, "private_key_file": str(tmp_path / "app.pem")}}
        daemon = Daemon(tmp_path, daemon_config(running.sim, running.url, app))
        issued = run_through_faults(running, elsewhere, daemon)
        assert issued, "the App bought no installation token: the run proves nothing"
        assert_nothing_leaked(daemon, [app_key[0], *issued], elsewhere, running)
