"""Exposition bytes for one metric family, byte for byte what prometheus_client writes, several times faster.

prometheus_client's `generate_latest` validates and escapes every name and
label of every sample on every call. Our families repeat a handful of names
and label sets, so this encoder escapes each distinct name, label set and
label value once per family and formats each sample with one `%`. Text 0.0.4
and OpenMetrics 1.0 write the same sample lines for ordinary samples, so a
family's lines are made once and shared by both formats; only the HELP/TYPE
header differs (and is cached per family description). Samples the formats
write differently (timestamps, exemplars, names that escape differently, and
the `_created`/`_gsum`/`_gcount` samples text 0.0.4 moves into gauges of
their own) get a separate line set per format.

Only the default `underscores` name escaping is produced here; `names_are_legacy`
tells whether the same bytes also answer `allow-utf-8` and `values` requests.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client.openmetrics import exposition as om
from prometheus_client.validation import _is_valid_legacy_labelname, _is_valid_legacy_metric_name

# text 0.0.4 moves these samples out of their family into a gauge of their own, after the family.
_TEXT_TRAILERS = ("_created", "_gcount", "_gsum")  # sorted, as prometheus_client emits them
_TEXT_TYPES = {"info": "gauge", "stateset": "gauge", "gaugehistogram": "histogram", "unknown": "untyped"}


@dataclass(frozen=True, slots=True)
class Header:
    """HELP/TYPE (and UNIT) lines of one family in both formats, and its text-only trailer gauges."""

    text: bytes
    openmetrics: bytes
    trailers: tuple[bytes, ...]  # text header of the `_created`, `_gcount`, `_gsum` gauges, in that order


@dataclass(frozen=True, slots=True)
class FamilyPart:
    """One snapshot's share of one family: its header and its sample lines.

    `lines` serves both formats unless the formats differ for this family;
    then `text_lines`/`text_trailers` hold the text 0.0.4 version and `lines` the OpenMetrics one.
    """

    name: str
    header: Header
    lines: bytes
    text_lines: bytes | None = None
    text_trailers: tuple[bytes, bytes, bytes] | None = None  # `_created`, `_gcount`, `_gsum` sample lines
    names_are_legacy: bool = True

    @property
    def size(self) -> int:
        return len(self.lines) + (len(self.text_lines) if self.text_lines is not None else 0)


def _help_text(documentation: str) -> str:
    return documentation.replace("\\", r"\\").replace("\n", r"\n")


@functools.lru_cache(maxsize=4096)
def header(name: str, documentation: str, typ: str, unit: str) -> Header:
    """The header lines of a family; cached, since every snapshot of a family shares them."""
    text_name = name + "_total" if typ == "counter" else name + "_info" if typ == "info" else name
    text_name = om.escape_metric_name(text_name)
    text = f"# HELP {text_name} {_help_text(documentation)}\n# TYPE {text_name} {_TEXT_TYPES.get(typ, typ)}\n"
    om_name = om.escape_metric_name(name)
    om_help = om._escape(documentation, om.ALLOWUTF8, om._is_legacy_labelname_rune)
    openmetrics = f"# HELP {om_name} {om_help}\n# TYPE {om_name} {typ}\n"
    if unit:
        openmetrics += f"# UNIT {om_name} {unit}\n"
    trailers = tuple(
        f"# HELP {om.escape_metric_name(name + suffix)} {_help_text(documentation)}\n"
        f"# TYPE {om.escape_metric_name(name + suffix)} gauge\n".encode()
        for suffix in _TEXT_TRAILERS
    )
    return Header(text.encode(), openmetrics.encode(), trailers)


def go_float(value: float) -> str:
    """prometheus_client's floatToGoString: Go's float formatting, `+Inf`, `-Inf` and `NaN`."""
    s = repr(float(value))
    last = s[-1]
    if last == "f" or last == "n":  # inf, -inf, nan
        return _SPECIAL_FLOATS[s]
    dot = s.find(".")
    if dot > 6 and s[0] != "-":  # Go switches to exponents sooner than Python
        mantissa = f"{s[0]}.{s[1:dot]}{s[dot + 1 :]}".rstrip("0.")
        return f"{mantissa}e+{dot - 1:02d}"
    return s


_SPECIAL_FLOATS = {"inf": "+Inf", "-inf": "-Inf", "nan": "NaN"}
_NEG_INF = float("-inf")


def escape_label_value(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


@functools.lru_cache(maxsize=65536)
def _template(name: str, label_names: tuple[str, ...]) -> tuple[str, Callable[[Mapping[str, str]], Any] | None, int]:
    """A `%` template for the lines of one sample name and label set, and what picks its label values in order."""
    ordered = sorted(label_names)
    labels = ",".join(f'{om.escape_label_name(k)}="%s"' for k in ordered)
    if not ordered:
        return f"{name} %s\n", None, 0
    pick = operator.itemgetter(*ordered) if len(ordered) > 1 else lambda labels, key=ordered[0]: (labels[key],)
    return f"{name}{{{labels}}} %s\n", pick, len(ordered)


@functools.lru_cache(maxsize=65536)
def _same_in_both_formats(name: str) -> bool:
    return om.escape_metric_name(name) == om._escape(name, om.UNDERSCORES, om._is_legacy_labelname_rune)


@functools.lru_cache(maxsize=65536)
def _legacy_names(names: tuple[str, ...]) -> bool:
    """Whether a sample name and its label names all fit the legacy Prometheus character set."""
    return _is_valid_legacy_metric_name(names[0]) and all(map(_is_valid_legacy_labelname, names[1:]))


def encode_family(name: str, documentation: str, typ: str, unit: str, samples: Iterable[Any]) -> FamilyPart:
    """Encode one family's samples (prometheus_client `Sample`s) for text 0.0.4 and OpenMetrics 1.0."""
    by_name: dict[str, tuple[str, Callable[[Mapping[str, str]], Any] | None, int]] = {}
    label_sets: set[tuple[str, ...]] = set()
    trailer_names = {name + suffix for suffix in _TEXT_TRAILERS}
    lines: list[str] = []
    append = lines.append
    for sname, labels, value, timestamp, exemplar, native in samples:
        if timestamp is not None or exemplar is not None or native is not None:
            return _encode_per_format(name, documentation, typ, unit, samples)
        entry = by_name.get(sname)
        if entry is None or len(labels) != entry[2]:
            if sname in trailer_names or not _same_in_both_formats(sname):
                return _encode_per_format(name, documentation, typ, unit, samples)
            entry = by_name[sname] = _template(sname, tuple(labels))
            label_sets.add((sname, *labels))
        # str() of a float is its repr; only large, infinite and NaN values need Go's spelling.
        v = value if value.__class__ is float and _NEG_INF < value < 1e6 else go_float(value)
        template, pick, _ = entry
        if pick is None:
            append(template % v)
            continue
        try:
            values = pick(labels)
        except KeyError:  # same number of labels, other names: a rare mixed family
            template, pick, _ = by_name[sname] = _template(sname, tuple(labels))
            label_sets.add((sname, *labels))
            values = pick(labels)  # type: ignore[misc]
        joined = "".join(values)  # one scan of all values decides whether any needs escaping
        if '"' in joined or "\\" in joined or "\n" in joined:
            values = map(escape_label_value, values)
        append(template % (*values, v))
    legacy = _is_valid_legacy_metric_name(name) and all(map(_legacy_names, label_sets))
    return FamilyPart(name, header(name, documentation, typ, unit), "".join(lines).encode(), names_are_legacy=legacy)


def _encode_per_format(name: str, documentation: str, typ: str, unit: str, samples: Iterable[Any]) -> FamilyPart:
    """The general path: text and OpenMetrics lines made separately, as prometheus_client does."""
    text: list[str] = []
    trailers: dict[str, list[str]] = {suffix: [] for suffix in _TEXT_TRAILERS}
    openmetrics: list[str] = []
    legacy = _is_valid_legacy_metric_name(name)
    metric = _FamilyView(name, typ)
    for sample in samples:
        sname, labels, value, timestamp, exemplar, native = sample
        if native is not None:
            raise ValueError(f"{name}: native histograms are not supported")
        legacy = legacy and _is_valid_legacy_metric_name(sname) and all(map(_is_valid_legacy_labelname, labels))
        items = sorted(labels.items())
        label_values = ",".join(f'{om.escape_label_name(k)}="{escape_label_value(v)}"' for k, v in items)
        text_labels = f"{{{label_values}}}" if label_values else ""
        text_ts = f" {int(float(timestamp) * 1000):d}" if timestamp is not None else ""
        line = f"{om.escape_metric_name(sname)}{text_labels} {go_float(value)}{text_ts}\n"
        suffix = next((s for s in _TEXT_TRAILERS if sname == name + s), None)
        (trailers[suffix] if suffix else text).append(line)
        om_ts = f" {timestamp}" if timestamp is not None else ""
        om_exemplar = _exemplar(metric, sample, exemplar) if exemplar else ""
        om_name = om._escape(sname, om.UNDERSCORES, om._is_legacy_labelname_rune)
        openmetrics.append(f"{om_name}{text_labels} {go_float(value)}{om_ts}{om_exemplar}\n")
    created, gcount, gsum = ("".join(trailers[s]).encode() for s in _TEXT_TRAILERS)
    return FamilyPart(
        name,
        header(name, documentation, typ, unit),
        "".join(openmetrics).encode(),
        text_lines="".join(text).encode(),
        text_trailers=(created, gcount, gsum),
        names_are_legacy=legacy,
    )


def _exemplar(metric: _FamilyView, sample: Any, exemplar: Any) -> str:
    text: str = om._compose_exemplar_string(metric, sample, exemplar)  # type: ignore[no-untyped-call]
    return text


@dataclass(frozen=True)
class _FamilyView:
    """What prometheus_client's exemplar check reads from a family."""

    name: str
    type: str


EOF_LINE = b"# EOF\n"


def assemble(parts: Iterable[FamilyPart], openmetrics: bool) -> list[bytes]:
    """The exposition as a list of byte strings: each family's header once, then every part's lines.

    Parts of one name (several snapshots, e.g. several orgs) are grouped where the
    name first appears, described by the first part's header, as both formats require.
    """
    groups: dict[str, list[FamilyPart]] = {}
    for part in parts:
        group = groups.get(part.name)
        if group is None:
            groups[part.name] = [part]
        else:
            group.append(part)
    out: list[bytes] = []
    for group in groups.values():
        head = group[0].header
        if openmetrics:
            out.append(head.openmetrics)
            out.extend(part.lines for part in group)
            continue
        out.append(head.text)
        out.extend(part.lines if part.text_lines is None else part.text_lines for part in group)
        for i, trailer_header in enumerate(head.trailers):
            trailer = [p.text_trailers[i] for p in group if p.text_trailers is not None and p.text_trailers[i]]
            if trailer:
                out.append(trailer_header)
                out.extend(trailer)
    if openmetrics:
        out.append(EOF_LINE)
    return out
