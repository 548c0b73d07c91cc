"""GitHub's HTTP behaviour over a real loopback server: paging, ETags, rate limits, faults, auth, counting."""

from __future__ import annotations

import re
import time

import httpx
import pytest

from exporter.simulator import RunningSimulator
from exporter.simulator.routing import iso
from tests.simulator.conftest import AUTH, NOW, ORG, TOKEN

API = f"/orgs/{ORG}/insights/api"
WINDOW = {"min_timestamp": iso(NOW - 86400), "max_timestamp": iso(NOW)}
TIME_STATS = "/orgs/{org}/insights/api/time-stats"
SUMMARY = "/orgs/{org}/insights/api/summary-stats"


def _links(response: httpx.Response) -> dict[str, str]:
    return {m["rel"]: m["url"] for m in re.finditer(r'<(?P<url>[^>]+)>; rel="(?P<rel>\w+)"',
                                                      response.headers.get("link", ""))}


def test_link_header_pagination_walks_every_page(http: httpx.Client) -> None:
    everything = http.get(f"{API}/subject-stats", params={**WINDOW, "per_page": 100}).json()
    assert len(everything) == 15
    first = http.get(f"{API}/subject-stats", params=[*WINDOW.items(), ("per_page", "4"),
                                                     ("sort", "subject_name"), ("direction", "asc")])
    assert "link" in first.headers
    links = _links(first)
    assert set(links) == {"next", "last"}
    assert links["last"].endswith("page=4") and "sort=subject_name" in links["next"] and "per_page=4" in links["next"]
    assert links["next"].startswith(str(http.base_url).rstrip("/"))
    pages, rels, url = [first.json()], [set(links)], links["next"]
    while url:
        response = http.get(url)
        assert response.status_code == 200
        pages.append(response.json())
        rels.append(set(_links(response)))
        url = _links(response).get("next")
    assert [len(p) for p in pages] == [4, 4, 4, 3]
    assert rels[1] == {"prev", "next", "last", "first"} and rels[-1] == {"prev", "first"}
    names = [row["subject_name"] for page in pages for row in page]
    assert names == sorted((row["subject_name"] for row in everything), key=str.lower)


def test_single_page_has_no_link_header(http: httpx.Client) -> None:
    response = http.get(f"{API}/subject-stats", params={**WINDOW, "per_page": 50})
    assert response.status_code == 200 and "link" not in response.headers


def test_etag_revalidation_gives_304_without_using_budget(running: RunningSimulator, http: httpx.Client) -> None:
    first = http.get(f"{API}/summary-stats", params=WINDOW)
    etag = first.headers["etag"]
    assert re.fullmatch(r'"[0-9a-f]{40}"', etag) and first.headers["last-modified"].endswith("GMT")
    remaining = int(first.headers["x-ratelimit-remaining"])
    for candidate in (etag, f"W/{etag}", f'"other", {etag}'):
        again = http.get(f"{API}/summary-stats", params=WINDOW, headers={"If-None-Match": candidate})
        assert again.status_code == 304 and again.content == b""
        assert again.headers["etag"] == etag
        assert int(again.headers["x-ratelimit-remaining"]) == remaining
    changed = http.get(f"{API}/summary-stats", params=WINDOW, headers={"If-None-Match": '"stale"'})
    assert changed.status_code == 200 and int(changed.headers["x-ratelimit-remaining"]) == remaining - 1
    # Data for the window grows as the clock moves past the lag: a new body, a new ETag.
    running.sim.advance_clock(3600)
    moved = http.get(f"{API}/summary-stats", params=WINDOW, headers={"If-None-Match": etag})
    assert moved.status_code == 200 and moved.headers["etag"] != etag
    assert running.sim.request_counts()["route_statuses"][SUMMARY] == {"200": 3, "304": 3}


def test_rate_limit_headers_count_down_and_reset_after_an_hour(running: RunningSimulator, http) -> None:
    seen = []
    for _ in range(3):
        r = http.get(f"{API}/summary-stats", params=WINDOW)
        seen.append({k: r.headers[f"x-ratelimit-{k}"] for k in ("limit", "remaining", "used", "reset", "resource")})
    assert [s["remaining"] for s in seen] == ["4999", "4998", "4997"]
    assert [s["used"] for s in seen] == ["1", "2", "3"]
    assert {s["limit"] for s in seen} == {"5000"} and {s["resource"] for s in seen} == {"core"}
    assert int(seen[0]["reset"]) == NOW + 3600
    running.sim.advance_clock(3601)
    r = http.get(f"{API}/summary-stats", params=WINDOW)
    assert r.headers["x-ratelimit-remaining"] == "4999" and int(r.headers["x-ratelimit-reset"]) == NOW + 7201


def test_exhausted_budget_is_403_until_reset(running: RunningSimulator, http: httpx.Client) -> None:
    running.sim.set_rate_limit(remaining=2)
    assert [http.get(f"{API}/summary-stats", params=WINDOW).status_code for _ in range(2)] == [200, 200]
    refused = http.get(f"{API}/summary-stats", params=WINDOW)
    assert refused.status_code == 403
    assert refused.headers["x-ratelimit-remaining"] == "0"
    assert refused.json()["message"].startswith("API rate limit exceeded for user ID ")
    assert refused.json()["documentation_url"].startswith("https://docs.github.com/")
    other = http.get(f"{API}/summary-stats", params=WINDOW, headers={"Authorization": "token another-token"})
    assert other.status_code == 200, "a token first seen after the override also got 2"
    assert other.headers["x-ratelimit-remaining"] == "1"
    running.sim.advance_clock(int(refused.headers["x-ratelimit-reset"]) - running.sim.now())
    assert http.get(f"{API}/summary-stats", params=WINDOW).status_code == 200


def test_per_token_budget_override(running: RunningSimulator, http: httpx.Client) -> None:
    running.sim.set_rate_limit(token=TOKEN, limit=10, remaining=0)
    assert http.get(f"{API}/summary-stats", params=WINDOW).status_code == 403
    other = http.get(f"{API}/summary-stats", params=WINDOW, headers={"Authorization": "Bearer someone-else"})
    assert other.status_code == 200 and other.headers["x-ratelimit-limit"] == "5000"


@pytest.mark.parametrize("status", [403, 429])
def test_secondary_limit_for_k_requests(running: RunningSimulator, http: httpx.Client, status: int) -> None:
    running.sim.set_secondary_limit(requests=2, status=status, retry_after=30)
    refused = [http.get(f"{API}/summary-stats", params=WINDOW) for _ in range(2)]
    for r in refused:
        assert r.status_code == status and r.headers["retry-after"] == "30"
        assert r.json()["message"].startswith("You have exceeded a secondary rate limit")
        assert r.headers["x-ratelimit-remaining"] == "5000", "refused requests use no primary budget"
    assert http.get(f"{API}/summary-stats", params=WINDOW).status_code == 200


def test_secondary_limit_for_a_duration(running: RunningSimulator, http: httpx.Client) -> None:
    running.sim.set_secondary_limit(duration=60)
    assert http.get(f"{API}/summary-stats", params=WINDOW).status_code == 403
    running.sim.advance_clock(59)
    assert http.get(f"{API}/summary-stats", params=WINDOW).status_code == 403
    running.sim.advance_clock(1)
    assert http.get(f"{API}/summary-stats", params=WINDOW).status_code == 200


def test_5xx_for_n_requests_on_one_route_then_recovery(running: RunningSimulator, http: httpx.Client) -> None:
    running.sim.fail_next(2, status=503, route=TIME_STATS)
    params = {**WINDOW, "timestamp_increment": "1h"}
    assert http.get(f"{API}/summary-stats", params=WINDOW).status_code == 200, "other routes unaffected"
    codes = [http.get(f"{API}/time-stats", params=params).status_code for _ in range(3)]
    assert codes == [503, 503, 200]
    counts = running.sim.request_counts()
    assert counts["route_statuses"][TIME_STATS] == {"503": 2, "200": 1}
    assert counts["statuses"] == {"200": 2, "503": 2}


def test_fault_route_globs(running: RunningSimulator, http: httpx.Client) -> None:
    running.sim.add_fault("status", status=500, count=None, route="/orgs/{org}/insights/api/*")
    assert http.get(f"{API}/summary-stats", params=WINDOW).status_code == 500
    assert http.get(f"{API}/subject-stats", params=WINDOW).json()["message"] == "Internal Server Error"
    running.sim.clear_faults()
    assert http.get(f"{API}/summary-stats", params=WINDOW).status_code == 200


def test_delay_malformed_and_dropped_connection(running: RunningSimulator, http: httpx.Client) -> None:
    running.sim.set_delay(0.3, count=1)
    started = time.monotonic()
    assert http.get(f"{API}/summary-stats", params=WINDOW).status_code == 200
    assert time.monotonic() - started >= 0.3
    running.sim.add_fault("malformed")
    broken = http.get(f"{API}/summary-stats", params=WINDOW)
    assert broken.status_code == 200
    with pytest.raises(ValueError):
        broken.json()
    running.sim.add_fault("drop")
    with pytest.raises(httpx.TransportError):
        http.get(f"{API}/summary-stats", params=WINDOW)
    assert http.get(f"{API}/summary-stats", params=WINDOW).json()["total_request_count"] > 0


def test_bad_timestamp_increment_is_422(http: httpx.Client) -> None:
    response = http.get(f"{API}/time-stats", params={**WINDOW, "timestamp_increment": "2h"})
    assert response.status_code == 422
    assert "timestamp_increment" in response.json()["message"]


def test_unknown_path_is_github_404(http: httpx.Client) -> None:
    response = http.get("/orgs/octo-demo/no-such-thing")
    assert response.status_code == 404
    assert response.json() == {"message": "Not Found", "documentation_url": "https://docs.github.com/rest",
                               "status": "404"}
    assert http.post(f"{API}/summary-stats").status_code == 404, "wrong method: GitHub says 404 too"


def test_missing_or_malformed_authorization_is_401(http: httpx.Client) -> None:
    missing = http.get(f"{API}/summary-stats", params=WINDOW, headers={"Authorization": ""})
    assert missing.status_code == 401 and missing.json()["message"] == "Requires authentication"
    for header in ("Basic dXNlcjpwYXNz", "Bearer", "token"):
        r = http.get(f"{API}/summary-stats", params=WINDOW, headers={"Authorization": header})
        assert r.status_code == 401 and r.json() == {
            "message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401"}
    assert http.get(f"{API}/summary-stats", params=WINDOW, headers={"Authorization": "token x"}).status_code == 200


def test_only_configured_tokens_are_accepted() -> None:
    from exporter.simulator import SimulatorConfig

    with RunningSimulator(config=SimulatorConfig(tokens=("good",))) as running, httpx.Client() as http:
        url = f"{running.url}{API}/summary-stats"
        assert http.get(url, params=WINDOW, headers={"Authorization": "Bearer good"}).status_code == 200
        bad = http.get(url, params=WINDOW, headers={"Authorization": "Bearer bad"})
        assert bad.status_code == 401 and bad.json()["message"] == "Bad credentials"
        assert running.sim.request_counts()["statuses"] == {"200": 1, "401": 1}


def test_requests_are_counted_per_template_with_their_headers(running: RunningSimulator, http) -> None:
    http.get(f"{API}/time-stats", params={**WINDOW, "timestamp_increment": "1h"})
    http.get(f"{API}/time-stats", params={**WINDOW, "timestamp_increment": "1d"},
             headers={"User-Agent": "github-insights-exporter/0.1"})
    http.get(f"{API}/summary-stats/users/1", params=WINDOW)
    counts = http.get("/_sim/requests").json()
    assert counts["routes"] == {TIME_STATS: 2, "/orgs/{org}/insights/api/summary-stats/users/{user_id}": 1}
    assert counts["total"] == 3
    assert counts["headers"][TIME_STATS] == {"x-github-api-version": "2022-11-28",
                                             "accept": AUTH["Accept"],
                                             "user-agent": "github-insights-exporter/0.1",
                                             "if-none-match": None,
                                             "authorization": "present"}
    assert running.sim.last_headers(TIME_STATS)["user-agent"] == "github-insights-exporter/0.1"
    assert running.sim.count(TIME_STATS) == 2
    http.post("/_sim/reset-counters")
    assert http.get("/_sim/requests").json()["total"] == 0
