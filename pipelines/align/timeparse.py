"""Timestamps as integer nanoseconds since the Unix epoch (UTC).

Float epoch seconds carry only ~0.2 us of precision today and lose more in arithmetic, so every
timestamp is parsed from its text straight into an exact integer number of nanoseconds.
Supported forms: ISO 8601 with or without a time zone (`2026-11-22T10:00:00.123+01:00`,
`2026-11-22 10:00:00.123`, `...Z`, Apple's `+0100`), and epoch numbers in seconds,
milliseconds, microseconds or nanoseconds (`1763805600.123`, `1763805600123`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from musclekit.errors import InputError

TimeUnit = Literal["auto", "iso", "s", "ms", "us", "ns"]
TIME_UNITS: tuple[str, ...] = ("auto", "iso", "s", "ms", "us", "ns")

_NS_PER_UNIT = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}

_ISO = re.compile(
    r"^\s*(?P<date>\d{4}-\d{2}-\d{2})[T ](?P<h>\d{2}):(?P<m>\d{2}):(?P<s>\d{2})"
    r"(?:[.,](?P<frac>\d{1,9}))?\s*(?P<tz>Z|z|UTC|[+-]\d{2}(?::?\d{2})?)?\s*$"
)
_EPOCH_DAY = datetime(1970, 1, 1).date()


@dataclass(frozen=True)
class ParsedTimes:
    """Parsed timestamps: `ns` (N,) int64 epoch nanoseconds, how they were read, and whether
    any value carried its own time zone (naive values were read in `assumed_tz`)."""

    ns: np.ndarray
    unit: str
    had_zone: bool
    assumed_tz: str | None
    relative: bool = False  # times since an unknown time zero (ns counts from 0)


def resolve_tz(name: str | None) -> timezone | ZoneInfo:
    """A time zone from an IANA name (`Europe/Berlin`), `UTC`, or a fixed offset (`+02:00`)."""
    if name is None or name.upper() in ("UTC", "Z", "GMT"):
        return UTC
    fixed = re.fullmatch(r"([+-])(\d{2}):?(\d{2})?", name.strip())
    if fixed:
        sign = 1 if fixed.group(1) == "+" else -1
        delta = timedelta(hours=int(fixed.group(2)), minutes=int(fixed.group(3) or 0))
        if delta >= timedelta(hours=24) or int(fixed.group(3) or 0) > 59:
            raise InputError(
                f"--emg-tz {name}: a UTC offset lies between -23:59 and +23:59; a clock that "
                "is a whole day (or more) off is not a time zone: add the difference by hand "
                "with --offset SECONDS (e.g. --offset 86400 for one day)")
        return timezone(sign * delta)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise InputError(
            f"unknown time zone {name!r}: give an IANA name such as 'Europe/Berlin' or "
            "'America/New_York', 'UTC', or a fixed offset such as '+02:00'"
        ) from err


def _tz_from_suffix(suffix: str) -> timezone:
    if suffix.upper() in ("Z", "UTC"):
        return UTC
    sign = 1 if suffix[0] == "+" else -1
    digits = suffix[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def parse_iso_ns(text: str, default_tz: timezone | ZoneInfo = UTC) -> tuple[int, bool] | None:
    """One ISO 8601 time to (epoch ns, had_zone); None when `text` is not such a time."""
    match = _ISO.match(text)
    if match is None:
        return None
    try:
        date = datetime.strptime(match.group("date"), "%Y-%m-%d").date()
    except ValueError:
        return None
    hours, minutes, seconds = int(match.group("h")), int(match.group("m")), int(match.group("s"))
    if hours > 23 or minutes > 59 or seconds > 60:
        return None
    frac = match.group("frac") or ""
    frac_ns = int(frac.ljust(9, "0")) if frac else 0
    suffix = match.group("tz")
    tz = _tz_from_suffix(suffix) if suffix else default_tz
    # The UTC offset of a zone depends on the local date and time (daylight saving).
    local = datetime(date.year, date.month, date.day, hours, minutes, min(seconds, 59))
    offset = local.replace(tzinfo=tz).utcoffset() or timedelta(0)
    days = (date - _EPOCH_DAY).days
    local_s = days * 86400 + hours * 3600 + minutes * 60 + seconds
    offset_s = offset.days * 86400 + offset.seconds
    return (local_s - offset_s) * 10**9 + frac_ns, suffix is not None


def _parse_decimal_ns(text: str, ns_per_unit: int) -> int | None:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        return None
    if not value.is_finite():
        return None
    return int((value * ns_per_unit).to_integral_value())


def guess_epoch_unit(magnitude: float) -> str | None:
    """The epoch unit whose reading of `magnitude` falls in 1990..2100, or None."""
    for unit, scale in (("s", 1e0), ("ms", 1e3), ("us", 1e6), ("ns", 1e9)):
        if 6.3e8 * scale <= magnitude <= 4.1e9 * scale:
            return unit
    return None


def parse_times(
    texts: list[str],
    *,
    unit: str = "auto",
    tz: str | None = None,
    what: str = "timestamps",
    line_numbers: list[int] | None = None,
    start: str | None = None,
    relative_ok: bool = False,
) -> ParsedTimes:
    """Parse timestamp strings to epoch ns.

    Args:
        texts: N timestamp strings.
        unit: "auto" (detect ISO or epoch s/ms/us/ns from the values), "iso", or an epoch unit.
        tz: time zone for ISO times written without one (default UTC).
        what: how the error message names these values (e.g. "column 'time' of emg.csv").
        line_numbers: file line of each value, for error messages.
        start: ISO wall-clock time of relative time zero, for exports whose times count from
            the start of the recording (then `unit` "auto" means seconds).
        relative_ok: numbers too small to be epoch times (and no `start`) are returned as
            seconds since an unknown time zero (`ParsedTimes.relative`) instead of refused;
            the caller then places time zero (align: at the video's first frame).

    Raises:
        InputError: listing up to five unparseable values with their line numbers.
    """
    if unit not in TIME_UNITS:
        raise InputError(f"unknown time unit {unit!r}; use one of {', '.join(TIME_UNITS)}")
    zone = resolve_tz(tz)
    lines = line_numbers if line_numbers is not None else list(range(1, len(texts) + 1))
    chosen = unit
    if start is not None:
        return _parse_relative(texts, unit, start, zone, what, lines)
    if chosen == "auto":
        chosen = _detect_unit(texts)
        if not chosen and _all_small_numbers(texts) and relative_ok:
            return _parse_relative(texts, "s", None, zone, what, lines)
        if not chosen and _all_small_numbers(texts):
            first, last = texts[0].strip(), texts[-1].strip()
            raise InputError(
                f"the {what} are numbers from {first} to {last}: times since the start of the "
                "recording, not wall-clock times. Give the wall-clock time of time zero with "
                "--emg-start (e.g. --emg-start 2026-11-22T10:00:00.000+01:00, often in the lines "
                "above the header), or export absolute timestamps"
            )
    out = np.empty(len(texts), dtype=np.int64)
    bad: list[tuple[int, str]] = []
    had_zone = False
    for i, text in enumerate(texts):
        value: int | None
        if chosen == "iso":
            parsed = parse_iso_ns(text, zone)
            value = None if parsed is None else parsed[0]
            had_zone = had_zone or bool(parsed and parsed[1])
        else:
            value = _parse_decimal_ns(text, _NS_PER_UNIT[chosen]) if chosen else None
        if value is None:
            bad.append((lines[i], text))
            continue
        out[i] = value
    if bad:
        examples = "; ".join(f"line {ln}: {txt!r}" for ln, txt in bad[:5])
        more = f" (and {len(bad) - 5} more)" if len(bad) > 5 else ""
        read_as = (
            "ISO 8601" if chosen == "iso" else f"epoch {chosen}" if chosen else "no known format"
        )
        raise InputError(
            f"cannot parse {len(bad)} of {len(texts)} {what} (read as {read_as}): {examples}{more}. "
            "Expected ISO 8601 times such as 2026-11-22T10:00:00.123+01:00 (zone optional, "
            "see --emg-tz) or epoch seconds/milliseconds such as 1763805600.123; set the "
            "format with --time-unit (auto, iso, s, ms, us, ns)"
        )
    assumed = None if had_zone or chosen != "iso" else (tz or "UTC")
    return ParsedTimes(ns=out, unit=chosen, had_zone=had_zone, assumed_tz=assumed)


def _all_small_numbers(texts: list[str]) -> bool:
    try:
        values = [abs(float(t)) for t in texts[:50]]
    except ValueError:
        return False
    return bool(values) and max(values) < 6.3e8


def _parse_relative(texts: list[str], unit: str, start: str | None, zone: timezone | ZoneInfo,
                    what: str, lines: list[int]) -> ParsedTimes:
    """Times counted from the recording start (seconds unless `unit` says otherwise); without
    `start`, counted from 0 and marked relative."""
    origin = (0, False) if start is None else parse_iso_ns(start, zone)
    if origin is None:
        raise InputError(f"--emg-start {start!r} is not an ISO 8601 time such as 2026-11-22T10:00:00.000+01:00")
    scale = _NS_PER_UNIT.get(unit if unit in _NS_PER_UNIT else "s")
    out = np.empty(len(texts), dtype=np.int64)
    bad = []
    for i, text in enumerate(texts):
        value = _parse_decimal_ns(text, scale)
        if value is None:
            bad.append((lines[i], text))
        else:
            out[i] = origin[0] + value
    if bad:
        examples = "; ".join(f"line {ln}: {txt!r}" for ln, txt in bad[:5])
        since = "the recording start" if start is None else "--emg-start"
        raise InputError(f"cannot parse {len(bad)} of {len(texts)} {what} as seconds since {since}: {examples}")
    return ParsedTimes(ns=out, unit=f"relative {unit if unit in _NS_PER_UNIT else 's'}",
                       had_zone=origin[1], assumed_tz=None if origin[1] or start is None else str(zone),
                       relative=start is None)


def _detect_unit(texts: list[str]) -> str:
    """The format of the first parseable value decides for the whole column."""
    for text in texts[:50]:
        if parse_iso_ns(text) is not None:
            return "iso"
        try:
            magnitude = abs(float(text))
        except ValueError:
            continue
        found = guess_epoch_unit(magnitude)
        if found:
            return found
    return ""


def format_ns(ns: int) -> str:
    """Epoch ns as an ISO 8601 UTC time with milliseconds, for messages."""
    seconds, rem = divmod(int(ns), 10**9)
    stamp = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{rem // 10**6:03d}Z"
