"""GitHub App authentication: an RS256 JWT finds the installation and buys an installation token."""

from __future__ import annotations

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from exporter.simulator import RunningSimulator, SimulatorConfig
from exporter.simulator.routing import iso, parse_iso
from tests.simulator.conftest import NOW, ORG

APP_ID = 424242
WINDOW = {"min_timestamp": iso(NOW - 86400), "max_timestamp": iso(NOW)}


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def keys() -> tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey]:
    return _key(), _key()


@pytest.fixture(scope="module")
def simulator_config(keys) -> SimulatorConfig:
    """The loopback simulator (`running`, tests/conftest.py) knows the app by its first key."""
    public = keys[0].public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    return SimulatorConfig(tokens=("ghp_static",), app_id=APP_ID, app_public_key_pem=public.decode(),
                           installation_token_lifetime=600)


def _jwt(key: rsa.RSAPrivateKey, now: float = NOW, iss: str = str(APP_ID), exp_in: int = 540) -> str:
    return jwt.encode({"iat": int(now) - 60, "exp": int(now) + exp_in, "iss": iss}, key, algorithm="RS256")


def test_jwt_to_installation_token_to_data(running: RunningSimulator, keys) -> None:
    with httpx.Client(base_url=running.url) as http:
        app_auth = {"Authorization": f"Bearer {_jwt(keys[0])}", "Accept": "application/vnd.github+json"}
        installation = http.get(f"/orgs/{ORG.upper()}/installation", headers=app_auth)
        assert installation.status_code == 200, installation.text
        body = installation.json()
        assert body["app_id"] == APP_ID and body["account"]["login"] == ORG and body["target_type"] == "Organization"
        assert body["access_tokens_url"] == f"{running.url}/app/installations/{body['id']}/access_tokens"

        created = http.post(body["access_tokens_url"], headers=app_auth)
        assert created.status_code == 201, created.text
        token = created.json()["token"]
        assert token.startswith("ghs_") and len(token) == 40
        assert parse_iso(created.json()["expires_at"]) == NOW + 600

        data = http.get(f"/orgs/{ORG}/insights/api/summary-stats", params=WINDOW,
                        headers={"Authorization": f"Bearer {token}"})
        assert data.status_code == 200 and data.json()["total_request_count"] > 0
        # A second token of the same installation draws on the same budget.
        second = http.post(body["access_tokens_url"], headers=app_auth).json()["token"]
        assert second != token
        again = http.get(f"/orgs/{ORG}/insights/api/summary-stats", params=WINDOW,
                         headers={"Authorization": f"token {second}"})
        assert again.headers["x-ratelimit-used"] == "2"

        running.sim.advance_clock(601)
        expired = http.get(f"/orgs/{ORG}/insights/api/summary-stats", params=WINDOW,
                           headers={"Authorization": f"Bearer {token}"})
        assert expired.status_code == 401 and expired.json()["message"] == "Bad credentials"


def test_enterprise_installation(running: RunningSimulator, keys) -> None:
    with httpx.Client(base_url=running.url, headers={"Authorization": f"Bearer {_jwt(keys[0])}"}) as http:
        found = http.get("/enterprises/octo-enterprise/installation")
        assert found.status_code == 200 and found.json()["target_type"] == "Enterprise"
        assert http.get("/enterprises/someone-else/installation").status_code == 404
        assert http.get("/orgs/someone-else/installation").status_code == 404
        assert http.post("/app/installations/1/access_tokens").status_code == 404


@pytest.mark.parametrize("case", ["wrong key", "wrong issuer", "expired", "too long", "garbage", "static token"])
def test_bad_app_credentials_are_401(running: RunningSimulator, keys, case: str) -> None:
    credential = {
        "wrong key": _jwt(keys[1]),
        "wrong issuer": _jwt(keys[0], iss=str(APP_ID + 1)),
        "expired": _jwt(keys[0], exp_in=-1),
        "too long": _jwt(keys[0], exp_in=3600),
        "garbage": "eyJhbGciOi.not.ajwt",
        "static token": "ghp_static",
    }[case]
    with httpx.Client(base_url=running.url) as http:
        response = http.get(f"/orgs/{ORG}/installation", headers={"Authorization": f"Bearer {credential}"})
        assert response.status_code == 401, response.text
        assert set(response.json()) == {"message", "documentation_url", "status"}


def test_issuer_may_be_the_client_id(running: RunningSimulator, keys) -> None:
    """GitHub accepts the app's client ID as `iss` as well as its numeric id."""
    with httpx.Client(base_url=running.url) as http:
        client_id = http.get(f"/orgs/{ORG}/installation",
                             headers={"Authorization": f"Bearer {_jwt(keys[0])}"}).json()["client_id"]
        ok = http.get(f"/orgs/{ORG}/installation", headers={"Authorization": f"Bearer {_jwt(keys[0], iss=client_id)}"})
        assert ok.status_code == 200


def test_a_jwt_does_not_open_data_endpoints(running: RunningSimulator, keys) -> None:
    with httpx.Client(base_url=running.url) as http:
        response = http.get(f"/orgs/{ORG}/insights/api/summary-stats", params=WINDOW,
                            headers={"Authorization": f"Bearer {_jwt(keys[0])}"})
        assert response.status_code == 401
