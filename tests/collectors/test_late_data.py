"""LateDataCounter: every request counted once, late growth included, restart is a baseline."""

from exporter.collectors.late_data import LateDataCounter


def test_first_read_is_a_baseline() -> None:
    counter = LateDataCounter()
    assert counter.observe([(0, 100), (300, 50)], window_start=0) == 0
    assert counter.total == 0


def test_growth_of_known_buckets_and_new_buckets_counted_once() -> None:
    counter = LateDataCounter()
    counter.observe([(0, 100), (300, 50)], window_start=0)
    assert counter.observe([(0, 100), (300, 80), (600, 10)], window_start=0) == 40
    assert counter.observe([(0, 100), (300, 80), (600, 10)], window_start=0) == 0
    assert counter.observe([(300, 90), (600, 30), (900, 5)], window_start=300) == 35
    assert counter.total == 75


def test_a_revision_downwards_is_not_subtracted() -> None:
    counter = LateDataCounter()
    counter.observe([(0, 100)], window_start=0)
    assert counter.observe([(0, 90)], window_start=0) == 0
    assert counter.observe([(0, 110)], window_start=0) == 10
    assert counter.total == 10


def test_buckets_before_the_window_are_ignored_and_forgotten() -> None:
    counter = LateDataCounter()
    counter.observe([(0, 10), (300, 10)], window_start=0)
    assert counter.observe([(0, 50), (300, 10)], window_start=300) == 0
    assert counter.total == 0


def test_a_new_counter_after_restart_does_not_spike() -> None:
    before = LateDataCounter()
    before.observe([(0, 10)], 0)
    before.observe([(0, 40), (300, 20)], 0)
    after_restart = LateDataCounter()
    assert after_restart.observe([(0, 40), (300, 25)], 0) == 0
    assert after_restart.observe([(0, 40), (300, 30)], 0) == 5
