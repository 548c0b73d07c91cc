"""The golden comparator itself: a difference or a missing file fails with a readable message; update writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.collectors.harness import compare_golden

GAUGE = "# HELP github_x X.\n# TYPE github_x gauge\ngithub_x{org=\"a\"} {}\n"


def exposition(value: str) -> str:
    return GAUGE.replace("{}", value)


def test_the_same_bytes_pass(tmp_path: Path) -> None:
    (tmp_path / "x.prom").write_bytes(exposition("1.0").encode())
    compare_golden(tmp_path / "x.prom", exposition("1.0"), update=False)


def test_a_difference_fails_with_the_changed_lines_and_how_to_update(tmp_path: Path) -> None:
    (tmp_path / "x.prom").write_bytes(exposition("1.0").encode())
    with pytest.raises(pytest.fail.Exception) as failed:
        compare_golden(tmp_path / "x.prom", exposition("2.0"), update=False)
    message = str(failed.value)
    assert '-github_x{org="a"} 1.0' in message and '+github_x{org="a"} 2.0' in message
    assert "differs from golden/x.prom" in message and "--snapshot-update" in message


def test_a_missing_final_newline_fails_too(tmp_path: Path) -> None:
    (tmp_path / "x.prom").write_bytes(exposition("1.0").rstrip("\n").encode())
    with pytest.raises(pytest.fail.Exception, match="final newline"):
        compare_golden(tmp_path / "x.prom", exposition("1.0"), update=False)


def test_a_missing_file_fails_rather_than_being_written(tmp_path: Path) -> None:
    with pytest.raises(pytest.fail.Exception, match="missing: run with --snapshot-update"):
        compare_golden(tmp_path / "new.prom", exposition("1.0"), update=False)
    assert not (tmp_path / "new.prom").exists()


def test_update_rewrites_the_file_byte_for_byte(tmp_path: Path) -> None:
    (tmp_path / "x.prom").write_bytes(exposition("1.0").encode())
    compare_golden(tmp_path / "x.prom", exposition("2.0"), update=True)
    assert (tmp_path / "x.prom").read_bytes() == exposition("2.0").encode()
    compare_golden(tmp_path / "x.prom", exposition("2.0"), update=False)


def test_an_empty_exposition_is_never_a_golden(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match="empty or unreadable"):
        compare_golden(tmp_path / "x.prom", "", update=True)
    assert not (tmp_path / "x.prom").exists()
