"""Billing usage report exports: response shapes, request validation, status over time, the fail switch,
and the signed-download server on its own origin."""

from __future__ import annotations

import csv
import io
from datetime import date
from urllib.parse import urlsplit

import httpx
import pytest

from exporter.simulator import (
    ManualClock,
    RunningSimulator,
    Simulator,
    SimulatorConfig,
    create_app,
)
from exporter.simulator.billing import COLUMNS, REPORT, REPORTS, UNBOUND_DOWNLOADS
from exporter.simulator.routing import parse_iso
from tests.openapi import assert_matches, documented_fields
from tests.simulator.conftest import AUTH, NOW

ENTERPRISE = "octo-enterprise"
LIST = REPORTS.format(enterprise=ENTERPRISE)
BOM = "\ufeff".encode()


def one(report_id: str) -> str:
    return REPORT.format(enterprise=ENTERPRISE, report_id=report_id)


def create(http: httpx.Client, report_type: str = "detailed", start: str = "2024-09-01", **extra: object) -> dict:
    response = http.post(LIST, json={"report_type": report_type, "start_date": start, **extra})
    assert response.status_code == 202, response.text
    return response.json()


def download(url: str, **kwargs: object) -> httpx.Response:
    return httpx.get(url, timeout=5, **kwargs)  # no Authorization: signed links carry their own credential


def rows(response: httpx.Response) -> list[list[str]]:
    assert response.content.startswith(BOM)
    return list(csv.reader(io.StringIO(response.content[len(BOM):].decode(), newline="")))


# -- the REST endpoints ------------------------------------------------------------------------------


async def test_responses_match_the_description(sim: Simulator, client: httpx.AsyncClient) -> None:
    created = await client.post(LIST, json={"report_type": "detailed", "start_date": "2024-09-01",
                                            "end_date": "2024-09-10", "send_email": False})
    assert created.status_code == 202
    body = created.json()
    assert_matches(body, REPORTS, "post", 202)
    assert body["status"] == "processing" and "download_urls" not in body
    assert (body["report_type"], body["start_date"], body["end_date"]) == ("detailed", "2024-09-01", "2024-09-10")

    sim.advance_clock(sim.config.billing_export_delay)
    got = (await client.get(one(body["id"]))).json()
    assert_matches(got, REPORT)
    assert got["status"] == "completed" and got["download_urls"]
    assert set(got) == documented_fields(REPORT)  # every documented field once completed, nothing else
    listed = (await client.get(LIST)).json()
    assert_matches(listed, REPORTS)
    assert [e["id"] for e in listed["usage_report_exports"]] == [body["id"]]


async def test_list_is_newest_first_and_end_date_defaults_to_today(sim: Simulator, client: httpx.AsyncClient) -> None:
    first = (await client.post(LIST, json={"report_type": "summarized", "start_date": "2024-01-01"})).json()
    sim.advance_clock(sim.config.billing_export_delay)
    second = (await client.post(LIST, json={"report_type": "ai_credit", "start_date": "2024-09-01"})).json()
    assert first["end_date"] == "2024-09-18"  # NOW's day, UTC
    listed = (await client.get(LIST)).json()["usage_report_exports"]
    assert [e["id"] for e in listed] == [second["id"], first["id"]]
    assert_matches({"usage_report_exports": listed}, REPORTS)


@pytest.mark.parametrize(("body", "message"), [
    ({"report_type": "weekly", "start_date": "2024-09-01"}, "Invalid report_type"),
    ({"report_type": "detailed"}, "start_date is required"),
    ({"report_type": "detailed", "start_date": "2024/09/01"}, "Invalid start_date"),
    ({"report_type": "detailed", "start_date": "2024-09-10", "end_date": "2024-09-01"}, "before start_date"),
    ({"report_type": "detailed", "start_date": "2024-09-01", "end_date": "2024-09-19"}, "in the future"),
    ({"report_type": "detailed", "start_date": "2024-08-01", "end_date": "2024-09-01"}, "at most 31 days"),
    ({"report_type": "premium_request", "start_date": "2024-08-01"}, "at most 31 days"),
    ({"report_type": "detailed", "start_date": "2024-09-01", "send_email": "yes"}, "send_email"),
    (["detailed"], "expected a JSON object"),
])
async def test_bad_requests_are_refused(client: httpx.AsyncClient, body: object, message: str) -> None:
    response = await client.post(LIST, json=body)
    assert response.status_code == 400
    assert message in response.json()["message"]


async def test_a_year_long_summarized_report_is_allowed(client: httpx.AsyncClient) -> None:
    response = await client.post(LIST, json={"report_type": "summarized", "start_date": "2023-09-19"})
    assert response.status_code == 202


async def test_unknown_enterprise_and_export_are_404(client: httpx.AsyncClient) -> None:
    assert (await client.get(REPORTS.format(enterprise="someone-else"))).status_code == 404
    assert (await client.get(one("00000000-0000-4000-8000-000000000000"))).status_code == 404
    assert (await client.get(REPORTS.format(enterprise="OCTO-Enterprise"))).status_code == 200  # names ignore case


async def test_needs_a_token(sim: Simulator) -> None:
    transport = httpx.ASGITransport(app=create_app(sim))
    async with httpx.AsyncClient(transport=transport, base_url="https://api.github.test") as anonymous:
        assert (await anonymous.get(LIST)).status_code == 401


async def test_processing_until_the_delay_then_completed(sim: Simulator, client: httpx.AsyncClient) -> None:
    export = (await client.post(LIST, json={"report_type": "detailed", "start_date": "2024-09-01"})).json()
    sim.advance_clock(sim.config.billing_export_delay - 1)
    assert (await client.get(one(export["id"]))).json()["status"] == "processing"
    sim.advance_clock(1)
    assert (await client.get(one(export["id"]))).json()["status"] == "completed"


async def test_one_export_in_progress_per_account(sim: Simulator, client: httpx.AsyncClient) -> None:
    first = await client.post(LIST, json={"report_type": "detailed", "start_date": "2024-09-01"})
    refused = await client.post(LIST, json={"report_type": "premium_request", "start_date": "2024-09-01"})
    assert first.status_code == 202 and refused.status_code == 400
    assert "already in progress" in refused.json()["message"]
    sim.advance_clock(sim.config.billing_export_delay)
    later = await client.post(LIST, json={"report_type": "premium_request", "start_date": "2024-09-01"})
    assert later.status_code == 202


async def test_fail_switch_fails_the_next_export_only(sim: Simulator, client: httpx.AsyncClient) -> None:
    sim.billing.fail_next_exports(1)
    failed = (await client.post(LIST, json={"report_type": "detailed", "start_date": "2024-09-01"})).json()
    sim.advance_clock(sim.config.billing_export_delay)
    good = (await client.post(LIST, json={"report_type": "detailed", "start_date": "2024-09-01"})).json()
    sim.advance_clock(sim.config.billing_export_delay)
    failed = (await client.get(one(failed["id"]))).json()
    assert failed["status"] == "failed" and "download_urls" not in failed
    assert failed["error_message"]
    assert_matches(failed, REPORT)
    assert (await client.get(one(good["id"]))).json()["status"] == "completed"


def test_control_api_switches(running: RunningSimulator, http: httpx.Client) -> None:
    state = http.post("/_sim/billing", json={"fail_next": 2, "delay": 5}).json()
    assert (state["fail_next"], state["delay"]) == (2, 5.0)
    export = create(http)
    running.sim.advance_clock(5)
    assert http.get(one(export["id"])).json()["status"] == "failed"
    assert http.post("/_sim/billing", json={"fail_next": -1}).status_code == 400
    http.post("/_sim/reset")
    assert http.post("/_sim/billing", json={}).json()["fail_next"] == 0


def test_requests_are_counted_per_method(running: RunningSimulator, http: httpx.Client) -> None:
    create(http)
    http.get(LIST)
    http.get(LIST)
    counts = running.sim.request_counts()
    assert counts["methods"] == {f"POST {REPORTS}": 1, f"GET {REPORTS}": 2}
    assert counts["routes"] == {REPORTS: 3}
    assert running.sim.count(REPORTS, "post") == 1 and running.sim.count(REPORTS) == 3


# -- the download server --------------------------------------------------------------------------------


def completed(running: RunningSimulator, http: httpx.Client, report_type: str = "detailed",
              start: str = "2024-09-01", **extra: object) -> dict:
    export = create(http, report_type, start, **extra)
    running.sim.advance_clock(running.sim.config.billing_export_delay)
    body = http.get(one(export["id"])).json()
    assert body["status"] == "completed"
    return body


def test_download_links_are_on_another_origin(running: RunningSimulator, http: httpx.Client) -> None:
    export = completed(running, http)
    api, link = urlsplit(running.url), urlsplit(export["download_urls"][0])
    assert link.hostname == "127.0.0.1" and link.port != api.port
    assert f"{link.scheme}://{link.netloc}" == running.sim.downloads_url
    # The API is not served on the downloads port, and downloads are not served on the API port.
    assert httpx.get(f"{running.sim.downloads_url}{LIST}").status_code == 404
    on_api = httpx.get(f"{running.url}{link.path}?{link.query}")
    assert on_api.status_code == 404 and on_api.json()["message"] == "Not Found"


@pytest.mark.parametrize("report_type", list(COLUMNS))
def test_files_have_bom_crlf_documented_header_and_a_quoted_comma(running: RunningSimulator, http: httpx.Client,
                                                                  report_type: str) -> None:
    export = completed(running, http, report_type)
    response = download(export["download_urls"][0])
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert b"\r\n" in response.content and b"\n" not in response.content.replace(b"\r\n", b"")
    table = rows(response)
    assert tuple(table[0]) == COLUMNS[report_type]
    assert len(table) > 100
    assert b',"R&D, Data Science"' in response.content  # the writer quoted the comma
    assert all(len(row) == len(table[0]) for row in table)
    dates = {row[0] for row in table[1:]}
    assert min(dates) == "2024-09-01" and max(dates) == "2024-09-17"  # the 18th is not over yet


def test_authorization_header_is_refused(running: RunningSimulator, http: httpx.Client) -> None:
    url = completed(running, http)["download_urls"][0]
    refused = download(url, headers=AUTH)
    assert refused.status_code == 403 and "Authorization" in refused.text
    assert download(url).status_code == 200
    counts = running.sim.billing.downloads()
    assert (counts["served"], counts["refused_authorization"], counts["authorization_headers_seen"]) == (1, 1, 1)


def test_signature_is_checked_and_expires(running: RunningSimulator, http: httpx.Client) -> None:
    url = completed(running, http)["download_urls"][0]
    assert download(url.replace("signature=", "signature=0")).status_code == 403
    assert download(url.split("?")[0]).status_code == 403
    assert download(url.replace("/1.csv", "/2.csv")).status_code == 403  # the signature covers the path
    running.sim.advance_clock(running.sim.config.billing_url_lifetime + 1)
    assert download(url).status_code == 403
    assert running.sim.billing.downloads()["refused_signature"] == 4


def test_same_day_exports_agree_and_data_changes_once_a_day(running: RunningSimulator, http: httpx.Client) -> None:
    morning = download(completed(running, http, end_date="2024-09-18")["download_urls"][0]).content
    running.sim.advance_clock(3 * 3600)
    afternoon = download(completed(running, http, end_date="2024-09-18")["download_urls"][0]).content
    assert morning == afternoon
    running.sim.set_clock(parse_iso("2024-09-19T00:30:00Z"))
    tomorrow = rows(download(completed(running, http, end_date="2024-09-18")["download_urls"][0]))
    assert max(row[0] for row in tomorrow[1:]) == "2024-09-18"
    assert tomorrow[: len(rows_of(morning))] == rows_of(morning)  # earlier days unchanged, one day added


def rows_of(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content[len(BOM):].decode(), newline="")))


def test_report_made_on_the_first_of_the_month_is_empty(running: RunningSimulator, http: httpx.Client) -> None:
    running.sim.set_clock(parse_iso("2024-10-01T08:00:00Z"))
    export = completed(running, http, start="2024-10-01")
    assert len(export["download_urls"]) == 1
    assert rows(download(export["download_urls"][0])) == [list(COLUMNS["detailed"])]


def test_summarized_is_the_detailed_report_summed(running: RunningSimulator, http: httpx.Client) -> None:
    def sums(report_type: str) -> dict[tuple[str, ...], float]:
        table = rows(download(completed(running, http, report_type)["download_urls"][0]))
        header = table[0]
        out: dict[tuple[str, ...], float] = {}
        for row in table[1:]:
            record = dict(zip(header, row, strict=False))
            key = (record["date"], record["sku"], record["organization"], record["repository"],
                   record["cost_center_name"])
            out[key] = out.get(key, 0.0) + float(record["net_amount"])
        return out

    detailed, summarized = sums("detailed"), sums("summarized")
    assert detailed.keys() == summarized.keys()
    assert all(abs(detailed[k] - summarized[k]) < 1e-6 for k in detailed)


def test_premium_requests_agree_with_the_metered_report(running: RunningSimulator, http: httpx.Client) -> None:
    def total(report_type: str) -> float:
        table = rows(download(completed(running, http, report_type)["download_urls"][0]))
        sku, quantity = table[0].index("sku"), table[0].index("quantity")
        return sum(float(r[quantity]) for r in table[1:] if r[sku] == "copilot_premium_request")

    assert total("premium_request") == total("detailed") > 0


def test_large_reports_are_split_across_download_urls() -> None:
    clock = ManualClock(NOW)
    with RunningSimulator(config=SimulatorConfig(billing_rows_per_file=100), clock=clock) as split, \
            RunningSimulator(clock=ManualClock(NOW)) as whole:
        parts = []
        for running in (split, whole):
            with httpx.Client(base_url=running.url, headers=AUTH, timeout=5) as http:
                export = completed(running, http)
                parts.append([rows(download(url)) for url in export["download_urls"]])
        split_files, (whole_file,) = parts
        assert len(split_files) > 3
        assert all(f[0] == whole_file[0] and 1 < len(f) <= 101 for f in split_files)
        assert [row for f in split_files for row in f[1:]] == whole_file[1:]


def test_unbound_simulator_links_point_nowhere(sim: Simulator) -> None:
    export = sim.billing.create(ENTERPRISE, "detailed", date(2024, 9, 1), date(2024, 9, 18), NOW, "mona")
    sim.advance_clock(sim.config.billing_export_delay)
    assert sim.billing.as_json(export, sim.now())["download_urls"][0].startswith(UNBOUND_DOWNLOADS)
