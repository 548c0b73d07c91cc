"""Field drift: a family's answers add a field nobody documents and rename a documented one, as GitHub does.

One switch for every family that opts in (billing CSV exports, billing usage JSON, GHES statistics, the
Copilot usage metrics reports, the retired Copilot summaries, repo_traffic's repository listings):
`set_field_drift(sim, "ghes_stats", True)`.
A JSON route's family registers how its answer drifts (`register_drift(family, template, transform)`) and
the request pipeline applies it (`answer`); a family that serves files (billing CSV, Copilot report files)
asks `drifting(sim, family)` itself. `drifted()` is the usual transform of one record. POST /_sim/field-drift
{"billing": true} flips it over HTTP (the demo); /_sim/reset turns every family off; /_sim/state shows the
drifting ones as `field_drift`. The exporter should say so on /metrics (exporter/drift.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from exporter.simulator.routing import SimulatorHost, register_state

FAMILIES = ("billing", "billing_usage", "ghes_stats", "copilot", "copilot_usage", "repo_traffic")
_TRANSFORMS: dict[str, tuple[str, Callable[[Any], Any]]] = {}  # route template -> (family, answer -> drifted)


@register_state
class FieldDriftSwitch:
    """The families whose answers drift; empty again after /_sim/reset."""

    @classmethod
    def for_simulator(cls, sim: SimulatorHost) -> FieldDriftSwitch:
        return cls()

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._on: set[str] = set()

    def reset(self) -> None:
        with self._lock:
            self._on.clear()

    def set(self, family: str, on: bool) -> None:
        if family not in FAMILIES:
            raise ValueError(f"field_drift: unknown family {family!r}; use {', '.join(FAMILIES)}")
        with self._lock:
            (self._on.add if on else self._on.discard)(family)

    def on(self, family: str) -> bool:
        with self._lock:
            return family in self._on

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {"field_drift": sorted(self._on)}


def set_field_drift(sim: SimulatorHost, family: str, on: bool) -> None:
    sim.family_state(FieldDriftSwitch).set(family, on)


def drifting(sim: SimulatorHost, family: str) -> bool:
    return sim.family_state(FieldDriftSwitch).on(family)


def drifted(record: dict[str, Any], renamed: tuple[str, str], added: tuple[str, Any] | None = None) -> dict[str, Any]:
    """`record` with `renamed`'s old key under its new name (same place, same value) and `added` appended."""
    old, new = renamed
    out = {(new if key == old else key): value for key, value in record.items()}
    if added is not None:
        out[added[0]] = added[1]
    return out


def control(sim: SimulatorHost, data: dict[str, Any]) -> dict[str, Any]:
    """POST /_sim/field-drift {"billing": true, ...}: each named family on or off; returns the drifting ones."""
    for family, on in data.items():
        if family not in FAMILIES or not isinstance(on, bool):
            raise ValueError(f"field-drift: expected {{family: true|false}} with families {', '.join(FAMILIES)}")
    for family, on in data.items():
        set_field_drift(sim, family, on)
    return sim.family_state(FieldDriftSwitch).describe()


def register_drift(family: str, template: str, transform: Callable[[Any], Any]) -> None:
    """How `template`'s 200 answers look while `family` drifts (the pipeline calls `answer`)."""
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}")
    _TRANSFORMS[template] = (family, transform)


def answer(sim: SimulatorHost, template: str, content: Any) -> Any:
    """A 200 answer's content, drifted when its family's switch is on."""
    found = _TRANSFORMS.get(template)
    return found[1](content) if found is not None and drifting(sim, found[0]) else content


# The retired Copilot summaries (served by simulator/copilot.py): each day renames a total and adds one.
SUMMARY_RENAMED = ("total_chat_turns", "total_chat_turn_count")
SUMMARY_ADDED = ("total_code_review_count", 5)


def _summaries(content: Any) -> Any:
    return [drifted(day, SUMMARY_RENAMED, SUMMARY_ADDED) if isinstance(day, dict) else day for day in content]


for _template in ("/orgs/{org}/copilot/usage", "/orgs/{org}/team/{team_slug}/copilot/usage"):
    register_drift("copilot_usage", _template, _summaries)
