"""The streaming usage report reader: BOM, quoting, chunk boundaries, columns, errors and bounded memory."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Iterable, Iterator

import pytest

from exporter.collectors.billing import USAGE_SPECS, shown
from exporter.collectors.billing_csv import (
    BASE_LABELS,
    COLUMNS,
    LABEL_COLUMNS,
    MEASURE_TABLE,
    MEASURES,
    NOT_EXPORTED,
    CsvRecords,
    ReportFormatError,
    UsageReader,
    required_columns,
)
from exporter.simulator.billing import COLUMNS as SIMULATED

DETAILED_HEADER = ",".join(COLUMNS["detailed"])
BOM = "\ufeff".encode()


def records(data: bytes, chunk: int = 7, source: str = "test file") -> list[list[str]]:
    parser = CsvRecords(source)
    out: list[list[str]] = []
    for i in range(0, len(data), chunk):
        out.extend(parser.feed(data[i:i + chunk]))
    out.extend(parser.finish())
    return out


def read(data: bytes, report_type: str = "detailed", labels: tuple[str, ...] = BASE_LABELS,
         source: str = "detailed export 1 file 1/1") -> tuple[UsageReader, list[tuple]]:
    parser = CsvRecords(source)
    reader = UsageReader(report_type, labels, source)
    rows: list[tuple] = []
    first = True
    for record in [*parser.feed(data), *parser.finish()]:
        if first:
            reader.header(record)
            first = False
        else:
            day, key, t = reader.row(record)
            rows.append((day, key, *t.values[:4]))
    return reader, rows


def test_bom_crlf_and_quoted_comma() -> None:
    data = BOM + b'date,cost_center_name\r\n2024-09-01,"R&D, Data Science"\r\n2024-09-02,Mobile\r\n'
    assert records(data) == [["date", "cost_center_name"], ["2024-09-01", "R&D, Data Science"],
                             ["2024-09-02", "Mobile"]]


def test_quoted_newline_and_doubled_quote_survive_every_chunk_boundary() -> None:
    data = BOM + 'a,b,c\n1,"line one\r\nline ""two""",x\n"é,ü",2,"3"\n'.encode()
    expected = [["a", "b", "c"], ["1", 'line one\r\nline "two"', "x"], ["é,ü", "2", "3"]]
    for size in range(1, len(data) + 1):  # every split, including inside the BOM and inside é
        assert records(data, chunk=size) == expected, size


def test_last_line_without_newline_and_blank_lines() -> None:
    assert records(b"a,b\n\n1,2\r\n\r\n3,4") == [["a", "b"], ["1", "2"], ["3", "4"]]


def test_bom_only_at_the_start_is_removed() -> None:
    assert records(BOM + b"x\n" + BOM + b"y\n")[0] == ["x"]
    assert records(BOM + b"x\n" + BOM + b"y\n")[1] == ["\ufeffy"]


def test_unterminated_quote_is_an_error_naming_the_file() -> None:
    with pytest.raises(ReportFormatError, match=r"^detailed export 9 file 2/3 \(https://h/p\): the file ends inside"):
        records(b'a,b\n1,"open\n', source="detailed export 9 file 2/3 (https://h/p)")


def test_a_runaway_record_is_cut_off() -> None:
    parser = CsvRecords("f", max_record_chars=1000)
    list(parser.feed(b'a,"opened and never closed\n'))
    with pytest.raises(ReportFormatError, match="longer than 1000 characters"):
        for _ in range(100):
            list(parser.feed(b"x" * 50 + b"\n"))


def test_invalid_utf8_is_an_error() -> None:
    with pytest.raises(ReportFormatError, match="not UTF-8"):
        records(b"a\n\xff\xfe\n")


def detailed(*rows: str) -> bytes:
    return BOM + ("\r\n".join([DETAILED_HEADER, *rows]) + "\r\n").encode()


ROW = ('2024-09-02,actions,actions_linux,100,Minutes,0.008,0.8,0.2,0.6,mona,octo-demo,api,'
       '.github/workflows/ci.yml,"R&D, Data Science"')


def test_detailed_row_to_labels_and_measures() -> None:
    reader, rows = read(detailed(ROW, ROW))
    day = 1_725_235_200.0  # 2024-09-02T00:00:00Z
    assert (
        rows
        == [(day, ("actions", "actions_linux", "Minutes", "octo-demo", "R&D, Data Science", ""), 100.0, 0.8, 0.2, 0.6)]
        * 2  # the metered reports have no model: ""
    )
    assert reader.rows == 2


def test_extra_labels_read_repository_and_username() -> None:
    _, rows = read(detailed(ROW), labels=(*BASE_LABELS, "repository", "username"))
    assert rows[0][1] == ("actions", "actions_linux", "Minutes", "octo-demo", "R&D, Data Science", "", "api", "mona")


def test_extra_labels_read_workflow_path_and_exceeds_quota() -> None:
    _, rows = read(detailed(ROW), labels=(*BASE_LABELS, "workflow_path", "exceeds_quota"))
    assert rows[0][1][6:] == (".github/workflows/ci.yml", "")  # the detailed report has no exceeds_quota column
    header = ",".join(COLUMNS["premium_request"])
    data = (f"{header}\n2024-09-02,mona,copilot,copilot_premium_request,gpt-4.1,3,Requests,0.04,0.12,0,0.12,TRUE,"
            "300,octo-demo,Mobile,3.6,0.036\n").encode()
    _, rows = read(data, report_type="premium_request", labels=(*BASE_LABELS, "workflow_path", "exceeds_quota"))
    assert rows[0][1][5:] == ("gpt-4.1", "", "TRUE")


def test_the_detailed_report_must_have_workflow_path_when_it_is_a_label() -> None:
    header = ",".join(c for c in COLUMNS["detailed"] if c != "workflow_path")
    with pytest.raises(ReportFormatError, match="required column 'workflow_path' is missing"):
        read(f"{header}\n".encode(), labels=(*BASE_LABELS, "workflow_path"))
    assert "workflow_path" not in required_columns("detailed", BASE_LABELS)


def test_unknown_columns_are_ignored_and_order_does_not_matter() -> None:
    data = (
        b"Extra_Column,net_amount,gross_amount,discount_amount,quantity,date,sku,product,unit_type,"
        b"cost_center_name,organization,repository,username,another\n"
        b'"x, y",1.5,2,0.5,3,2024-09-03,s,p,u,cc,org,repo,user,z\n'
    )
    _, rows = read(data)
    assert rows == [(1_725_321_600.0, ("p", "s", "u", "org", "cc", ""), 3.0, 2.0, 0.5, 1.5)]


def test_header_names_are_trimmed_and_case_insensitive() -> None:
    header = ",".join(f" {c.upper()} " for c in COLUMNS["summarized"])
    _, rows = read(f"{header}\n2024-09-01,p,s,1,u,1,1,0,1,org,repo,cc\n".encode(), report_type="summarized")
    assert rows[0][1] == ("p", "s", "u", "org", "cc", "")


@pytest.mark.parametrize("column", ["net_amount", "date", "organization", "cost_center_name", "sku"])
def test_missing_required_column_names_the_column_and_the_file(column: str) -> None:
    header = ",".join(c for c in COLUMNS["detailed"] if c != column)
    with pytest.raises(ReportFormatError) as info:
        read(f"{header}\n".encode(), source="detailed export abc file 1/2 (https://dl.example/x.csv)")
    message = str(info.value)
    assert message.startswith("detailed export abc file 1/2 (https://dl.example/x.csv): ")
    assert f"required column {column!r} is missing from the detailed report" in message


def test_optional_label_columns_may_be_absent_in_copilot_reports() -> None:
    header = "date,username,product,sku,model,quantity,unit_type,gross_amount,discount_amount,net_amount"
    _, rows = read(
        f"{header}\n2024-09-01,mona,copilot,copilot_premium_request,o3,5,Requests,0.2,0,0.2\n".encode(),
        report_type="premium_request",
        labels=(*BASE_LABELS, "repository", "username"),
    )
    assert rows[0][1] == ("copilot", "copilot_premium_request", "Requests", "", "", "o3", "", "mona")


def test_the_copilot_reports_must_name_the_model() -> None:
    assert "model" in required_columns("premium_request", BASE_LABELS)
    assert "model" in required_columns("ai_credit", BASE_LABELS)
    assert "model" not in required_columns("detailed", BASE_LABELS)  # metered usage has no model column
    with pytest.raises(ReportFormatError, match="required column 'model' is missing from the ai_credit report"):
        _one_row("ai_credit", "date,username,product,sku,unit_type,quantity,gross_amount,discount_amount,net_amount\n")


def test_username_is_required_only_when_it_is_a_label() -> None:
    assert "username" not in required_columns("detailed", BASE_LABELS)
    assert "username" in required_columns("detailed", (*BASE_LABELS, "username"))
    assert "username" not in required_columns("summarized", (*BASE_LABELS, "username"))  # not in that report
    assert "repository" in required_columns("summarized", (*BASE_LABELS, "repository"))
    assert "repository" not in required_columns("ai_credit", (*BASE_LABELS, "repository"))


def test_every_documented_column_set_satisfies_its_own_requirements() -> None:
    for report_type, columns in COLUMNS.items():
        reader = UsageReader(report_type, (*BASE_LABELS, "repository", "username"), "f")
        reader.header(list(columns))


def test_empty_report_has_a_header_and_no_rows() -> None:
    reader, rows = read(detailed())
    assert rows == [] and reader.rows == 0


def test_empty_measure_counts_as_zero_and_bad_numbers_are_errors() -> None:
    _, rows = read(detailed(ROW.replace(",0.2,", ",,")))
    assert rows[0][4] == 0.0
    with pytest.raises(ReportFormatError, match=r"data row 1 column 'gross_amount' is not a number: 'abc'"):
        read(detailed(ROW.replace(",0.8,", ",abc,")))
    with pytest.raises(ReportFormatError, match=r"data row 2 column 'date' is not a date"):
        read(detailed(ROW, ROW.replace("2024-09-02", "09/02/2024")))
    with pytest.raises(ReportFormatError, match="data row 1 has 3 fields"):
        read(detailed("a,b,c"))


def _synthetic(rows: int) -> Iterator[bytes]:
    """A detailed report, generated 64 kB at a time so the test itself holds no file."""
    yield BOM + (DETAILED_HEADER + "\r\n").encode()
    batch = []
    for i in range(rows):
        batch.append(
            f"2024-09-{1 + i % 28:02d},actions,actions_linux,{i % 500},Minutes,0.008,{i % 7}.25,0.25,"
            f'{i % 7},user{i % 300},org{i % 3},repo{i % 400},.github/workflows/ci.yml,"Cost, {i % 4}"\r\n'
        )
        if len(batch) == 500:
            yield "".join(batch).encode()
            batch = []
    yield "".join(batch).encode()


def _consume(chunks: Iterable[bytes]) -> tuple[int, int]:
    parser = CsvRecords("synthetic")
    reader = UsageReader("detailed", BASE_LABELS, "synthetic")
    keys: set[tuple[str, ...]] = set()
    first = True
    size = 0
    for chunk in chunks:
        size += len(chunk)
        for record in parser.feed(chunk):
            if first:
                reader.header(record)
                first = False
            else:
                keys.add(reader.row(record)[1])
    list(parser.finish())
    return size, len(keys)


def test_memory_stays_flat_on_a_few_megabytes() -> None:
    gc.collect()
    tracemalloc.start()
    try:
        size, keys = _consume(_synthetic(50_000))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert size > 5_000_000 and keys == 12
    # The file is over 5 MB; what is held at once is a chunk, a record and the label sets.
    assert peak < 1_000_000, f"peak {peak} bytes while reading {size} bytes"


def test_the_simulator_writes_the_documented_column_sets() -> None:
    assert SIMULATED == COLUMNS


def test_ai_credit_rows_with_zero_quantity_keep_their_ai_credit_cost() -> None:
    header = ",".join(COLUMNS["ai_credit"])
    assert COLUMNS["premium_request"][-2:] == ("aic_quantity", "aic_gross_amount")
    data = (
        f"{header}\n"
        "2024-09-02,mona,copilot,coding_agent_ai_credit,claude-sonnet-4,0,Credits,0.01,0,0,0,3000,octo-demo,"
        "octo-demo/api,Mobile,42.5,0.425,120000,8000,450000,30000\n"
    ).encode()
    parser = CsvRecords("ai_credit file")
    reader = UsageReader("ai_credit", (*BASE_LABELS, "repository"), "ai_credit file")
    records = [*parser.feed(data), *parser.finish()]
    reader.header(records[0])
    _, key, totals = reader.row(records[1])
    assert key == ("copilot", "coding_agent_ai_credit", "Credits", "octo-demo", "Mobile", "claude-sonnet-4",
                   "octo-demo/api")
    assert [totals.of(c) for c in ("quantity", "gross_amount", "aic_quantity", "aic_gross_amount")] == [
        0.0, 0.0, 42.5, 0.425]
    assert [totals.of(c) for c in ("input", "output", "cache_read", "cache_write")] == [120000, 8000, 450000, 30000]


def test_every_summed_column_is_a_documented_column_with_a_gauge() -> None:
    assert list(USAGE_SPECS) == [m.column for m in MEASURE_TABLE]
    for measure in MEASURE_TABLE:
        assert measure.report_types and all(measure.column in COLUMNS[k] for k in measure.report_types)
    assert [MEASURE_TABLE[i].column for i in shown("ai_credit")][-4:] == ["input", "output", "cache_read",
                                                                          "cache_write"]
    assert [MEASURE_TABLE[i].column for i in shown("detailed")] == list(MEASURES)


@pytest.mark.parametrize("report_type", sorted(COLUMNS))
def test_every_documented_column_is_summed_labelled_or_skipped_with_a_reason(report_type: str) -> None:
    read = {m.column for m in MEASURE_TABLE} | set(LABEL_COLUMNS.values()) | set(NOT_EXPORTED)
    assert set(COLUMNS[report_type]) <= read, set(COLUMNS[report_type]) - read
    assert all(reason for reason in NOT_EXPORTED.values())


def test_files_without_ai_credit_columns_read_them_as_zero() -> None:
    _, key, totals = _one_row("premium_request", "date,username,product,sku,model,unit_type,quantity,gross_amount,"
                              "discount_amount,net_amount\n2024-09-02,mona,copilot,p,o3,Requests,5,0.2,0,0.2\n")
    assert [totals.of(c) for c in ("quantity", "aic_quantity", "aic_gross_amount", "input", "cache_write")] == [
        5.0, 0.0, 0.0, 0.0, 0.0]


def _one_row(report_type: str, text: str) -> tuple:
    parser = CsvRecords("f")
    reader = UsageReader(report_type, BASE_LABELS, "f")
    records = [*parser.feed(text.encode()), *parser.finish()]
    reader.header(records[0])
    return reader.row(records[1])
