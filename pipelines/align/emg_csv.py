"""Readers for sEMG envelope CSV files exported by wireless sensor apps.

Layouts (picked automatically, or by `EmgCsvOptions.layout`):
- `wide`: one time column and one column per channel;
- `per_sensor`: a time column per sensor, each followed by that sensor's value column(s)
  (`X[s], EMG 1, X[s], EMG 2` or `l_quad_time, l_quad, ...`);
- `long`: one row per reading (`time, sensor, value`).
Lines above the header (device name, date, ...) are skipped: the header is the first row that
names the time column. Times are kept as integer nanoseconds (see `timeparse`).

Each channel keeps its own sample times, because sensors sample (and drop packets)
independently. Sensor quirks repaired here, and counted in `EmgRecording.notes`: rows slightly
out of order are sorted; packets delivered in a batch with one stamp are spread back in time at
the sensor's sample period. A large backward jump (clock reset, concatenated files) is an error.
"""

from __future__ import annotations

import csv
import io
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from musclekit.errors import InputError
from musclekit.pipelines.align.channels import (
    UnitInfo,
    check_unit_matches_kind,
    kind_of,
    parse_unit,
    split_unit,
)
from musclekit.pipelines.align.timeparse import format_ns, parse_iso_ns, parse_times

Layout = Literal["auto", "wide", "per_sensor", "long"]

_TIME_NAME = re.compile(
    r"^(time|times|timestamp|timestamps|t|datetime|date_time|date/time|epoch|unix|unix_time"
    r"|time_?(s|ms|us|ns)|timestamp_?(s|ms|us|ns)|x ?\[s\]|x_s"
    r"|.+[ _.-](time|timestamp)|.+[ _.-]time[ _]series)"  # Trigno Discover: `EMG 1 Time Series (s)`
    r"( ?[\[(](s|ms|us|ns|utc|iso)[\])])?$",  # an optional unit: `Time (ms)`, `X[s]`
    re.IGNORECASE,
)
_CHANNEL_NAMES = ("channel", "sensor", "muscle", "name", "signal", "sensor_name", "channel_name")
_VALUE_NAMES = ("value", "emg", "envelope", "amplitude", "rms", "reading")


@dataclass
class EmgCsvOptions:
    """How to read one sEMG CSV (CLI flags or a sensor config file).

    `channels` keeps and orders channels: `["l_quad", "Sensor 2=l_ham"]` keeps column
    `l_quad` and renames column `Sensor 2` to `l_ham`. Empty = every value column.
    `max_backward_s`: rows may be out of order by up to this much; a larger backward step is
    a clock reset or two files glued together and is refused.
    `start`: ISO wall-clock time of time zero for exports that count time from the start of
    the recording (e.g. `X[s]` columns); `time_unit` then defaults to seconds.
    `rate_hz`: the true sample rate when the file's header declares a wrong one (a declared
    rate that the timestamps contradict by more than 2 % is refused otherwise).
    """

    layout: Layout = "auto"
    time_col: list[str] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)
    channel_col: str | None = None
    value_col: str | None = None
    tz: str | None = None
    time_unit: str = "auto"
    delimiter: str | None = None
    max_backward_s: float = 1.0
    debatch: bool = True
    start: str | None = None
    rate_hz: float | None = None

    @classmethod
    def from_toml(cls, path: Path) -> EmgCsvOptions:
        """Read a sensor config file (TOML; keys are the field names, see docs/align.md)."""
        path = Path(path)
        if not path.is_file():
            raise InputError(f"sensor config {path} does not exist")
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as err:
            raise InputError(f"sensor config {path} is not valid TOML: {err}") from err
        return cls.from_mapping(data, where=f"sensor config {path}")

    @classmethod
    def from_mapping(cls, data: dict, where: str) -> EmgCsvOptions:
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(
                f"{where}: unknown key(s) {', '.join(unknown)}; known keys: {', '.join(sorted(known))}"
            )
        kwargs = dict(data)
        if isinstance(kwargs.get("time_col"), str):
            kwargs["time_col"] = [kwargs["time_col"]]
        channels = kwargs.get("channels")
        if isinstance(channels, dict):  # [channels] table: source name = output name
            kwargs["channels"] = [f"{src}={dst}" for src, dst in channels.items()]
        elif isinstance(channels, str):
            kwargs["channels"] = split_list(channels)
        return cls(**kwargs)


def split_list(text: str | None) -> list[str]:
    """`"a, b,c"` -> `["a", "b", "c"]`."""
    return [part.strip() for part in (text or "").split(",") if part.strip()]


@dataclass
class EmgChannel:
    """One recorded channel: `time_ns` (N,) int64 sorted epoch ns, `values` (N,) float64 in
    SI units when the file declares a unit (`unit`; else as in the file, `unit` None), `lines`
    (N,) the file line of each sample (for messages). `kind`: emg, acc, gyro, mag or other
    (see `channels`); `unit_declared`: the unit as the file wrote it; `declared_rate_hz`: the
    rate the file's header states for it, if any."""

    name: str
    time_ns: np.ndarray
    values: np.ndarray
    lines: np.ndarray
    sample_period_s: float = float("nan")
    kind: str = "emg"
    unit: str | None = None
    unit_declared: str | None = None
    declared_rate_hz: float | None = None
    source_column: str = ""


@dataclass
class EmgRecording:
    """An sEMG recording: channels (names kept from the file, or renamed by the options)."""

    path: Path
    channels: list[EmgChannel]
    layout: str
    time_unit: str
    assumed_tz: str | None
    header_line: int
    notes: dict[str, int | str] = field(default_factory=dict)
    others: list[EmgChannel] = field(default_factory=list)
    device: str | None = None
    # What the user must know about this file (a dropped channel, a truncated last line, an
    # assumed time zero): each names the channel or line; align reports them, never `ok`.
    warnings: list[str] = field(default_factory=list)
    # Times count from an unknown time zero (no wall clock in the file, no --emg-start):
    # they start at 0 until `anchor` places them on a clock.
    relative_time: bool = False

    @property
    def channel_names(self) -> list[str]:
        return [ch.name for ch in self.channels]

    def of_kind(self, *kinds: str) -> list[EmgChannel]:
        """Non-EMG channels (accelerometer, gyroscope, ...) of the given kinds, file order."""
        return [ch for ch in self.others if ch.kind in kinds]

    @property
    def start_ns(self) -> int:
        return int(min(ch.time_ns[0] for ch in self.channels))

    @property
    def end_ns(self) -> int:
        return int(max(ch.time_ns[-1] for ch in self.channels))

    @property
    def sample_period_s(self) -> float:
        return float(np.nanmedian([ch.sample_period_s for ch in self.channels]))

    def anchor(self, first_sample_ns: int, where: str) -> None:
        """Place relative times on a clock: the first sample at `first_sample_ns` (`where`
        says what that time is, for the warning). Every channel keeps its spacing."""
        if not self.relative_time:
            return
        everyone = [*self.channels, *self.others]
        first = min(int(ch.time_ns[0]) for ch in everyone)
        shift = int(first_sample_ns) - first
        for ch in everyone:
            ch.time_ns = ch.time_ns + shift
        self.relative_time = False
        self.time_unit = f"{self.time_unit}, first sample placed at {where}"
        self.notes["assumed_start"] = f"{format_ns(first_sample_ns)} ({where})"
        self.warnings.append(
            f"the sEMG times count from the start of the recording (first sample at "
            f"{first / 1e9:.3f} s) and the file holds no wall-clock time: assumed that the first "
            f"sample coincides with {where} ({format_ns(first_sample_ns)}). If it does not, give "
            "--emg-start (the wall-clock time of time zero) or --offset SECONDS")


def _read_text(path: Path, text_only: bool = False) -> str:
    if not path.is_file():
        raise InputError(f"sEMG file {path} does not exist; check the path")
    raw = path.read_bytes()
    if not raw.strip():
        raise InputError(f"sEMG file {path} is empty: export the recording again")
    if text_only and b"\x00" in raw[: 1 << 16] and raw[:2] not in (b"\xff\xfe", b"\xfe\xff"):
        raise InputError(
            f"sEMG file {path} is binary (it holds NUL bytes), not a text export: export the "
            "recording as CSV/text from the acquisition software, or give a Cortex .anc or an "
            "EDF/BDF file")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _guess_delimiter(lines: list[str]) -> str:
    """The delimiter giving the most consistent field count (>= 2) over the last lines."""
    tail = [ln for ln in lines if ln.strip()][-20:]
    best, best_score = ",", -1.0
    # On a tie ';' and tab win: where they split lines consistently, commas are decimal commas.
    for delim in ("\t", ";", ","):
        counts = [len(next(csv.reader([ln], delimiter=delim))) for ln in tail]
        if min(counts) < 2:
            continue
        score = counts.count(max(set(counts), key=counts.count)) + 0.01 * max(counts)
        if score > best_score:
            best, best_score = delim, score
    return best


def _is_time_name(name: str, wanted: list[str]) -> bool:
    if wanted:
        return name.strip().lower() in {w.strip().lower() for w in wanted}
    return bool(_TIME_NAME.match(name.strip()))


def _looks_like_header(rows: list[list[str]], i: int, wanted: list[str]) -> bool:
    """A header names the time column, holds no numbers or times itself, and is as wide as
    the rows under it (metadata lines such as `Start time,10:00` fail the last two tests)."""
    row = [cell.strip() for cell in rows[i]]
    cells = [c for c in row if c]
    if len(row) < 2 or not any(_is_time_name(c, wanted) for c in cells):
        return False
    for cell in cells:
        try:
            float(cell)
            return False
        except ValueError:
            pass
        if parse_iso_ns(cell) is not None:
            return False
    below = [len(r) for r in rows[i + 1 : i + 21] if any(c.strip() for c in r)]
    if not below:
        return True
    widest = max(set(below), key=below.count)
    return len(row) >= widest


def read_emg_csv(path: Path, options: EmgCsvOptions | None = None) -> EmgRecording:
    """Read an sEMG CSV into per-channel sample series.

    Raises:
        InputError: empty file, no header naming the time column, missing channels (the
            message lists the file's columns), unparseable timestamps (with examples and line
            numbers), a large backward jump in time (with the line), or no samples at all.
    """
    path = Path(path)
    opts = options or EmgCsvOptions()
    text = _read_text(path, text_only=True)
    lines = text.splitlines()
    delim = opts.delimiter or _guess_delimiter(lines)
    rows = list(csv.reader(io.StringIO(text), delimiter=delim))
    header_idx = None
    for i in range(len(rows)):
        if _looks_like_header(rows, i, opts.time_col):
            header_idx = i
            break
    if header_idx is None:
        first = " | ".join(repr(r) for r in lines[:3])
        if opts.time_col:
            raise InputError(
                f"{path}: no header row has a column named {', '.join(map(repr, opts.time_col))} "
                f"(--time-col); the first lines are: {first}"
            )
        raise InputError(
            f"{path}: cannot find the header row: no column is named like a time "
            f"(time, timestamp, ...); name the time column with --time-col. The first lines "
            f"are: {first}"
        )
    header = [cell.strip() for cell in rows[header_idx]]
    header = _unique_names(rows, header_idx, header, opts.time_col)
    body = [(i + 1, row) for i, row in enumerate(rows) if i > header_idx and any(c.strip() for c in row)]
    preamble = lines[:header_idx]
    device = "OpenBCI" if preamble and preamble[0].lstrip().startswith("%OpenBCI") else None
    points: dict[str, int] = {}
    column_rates = _label_rates(preamble, header, points)  # Delsys `Label: ...` lines, with units
    if column_rates:
        device = device or "Delsys"
    if body and _is_rate_row(body[0][1]):  # a row of per-column rates under the header (Delsys)
        column_rates = {i: float(_RATE_CELL.match(c.strip()).group(1))  # type: ignore[union-attr]
                        for i, c in enumerate(body[0][1]) if c.strip()}
        body = body[1:]
        if body and _is_period_row(body[0][1]):  # and one of sample periods (Trigno Discover)
            body = body[1:]
    if not body:
        raise InputError(f"{path}: the header is on line {header_idx + 1} but no data rows follow "
                         "it: the file holds no samples; export the recording again, or check "
                         "that --emg names the right file")
    warnings = []
    cut = _cut_last_row(body, text)
    if cut:
        line_no, _ = body.pop()
        warnings.append(
            f"line {line_no} is cut short ({cut}) and the file ends without a line break: the "
            "export was truncated mid-line; that row is left out (export the recording again "
            "to get it back)")
    layout = opts.layout
    lower = [h.lower() for h in header]
    time_cols = [i for i, h in enumerate(header) if _is_time_name(h, opts.time_col)]
    if opts.time_col:
        missing = [t for t in opts.time_col if t.strip().lower() not in lower]
        if missing:
            raise InputError(
                f"{path}: time column(s) {', '.join(map(repr, missing))} not found; the file "
                f"has columns: {', '.join(map(repr, header))} (header on line {header_idx + 1})"
            )
    if layout == "auto":
        has_channel_col = opts.channel_col is not None or any(n in lower for n in _CHANNEL_NAMES)
        has_value_col = opts.value_col is not None or any(n in lower for n in _VALUE_NAMES)
        if has_channel_col and has_value_col and len(header) <= 4:
            layout = "long"
        elif len(time_cols) > 1:
            layout = "per_sensor"
        else:
            layout = "wide"
    ctx = _Context(path=path, header=header, header_line=header_idx + 1, opts=opts, delim=delim)
    ctx.warnings.extend(warnings)
    if layout == "long":
        series = _long_layout(ctx, body, time_cols)
    elif layout == "per_sensor":
        series = _per_sensor_layout(ctx, body, time_cols)
    elif layout == "wide":
        if len(time_cols) != 1:
            raise InputError(
                f"{path}: the wide layout needs exactly one time column, found "
                f"{len(time_cols)} ({', '.join(header[i] for i in time_cols)}); name it with "
                "--time-col or choose the layout with a sensor config"
            )
        series = _per_sensor_layout(ctx, body, time_cols, wide=True)
    else:
        raise InputError(f"unknown sEMG layout {layout!r}; use auto, wide, per_sensor or long")
    rec = assemble_recording(ctx, series, layout, header_idx + 1, _declared_rate(preamble),
                             column_rates, device)
    _check_points(rec, points)
    return rec


def assemble_recording(ctx: _Context, series: Series, layout: str, header_line: int,
                       declared_rate: float | None, column_rates: dict[int, float],
                       device: str | None) -> EmgRecording:
    """From per-column sample series to an `EmgRecording`: kinds and units, channel selection,
    repairs, SI conversion and the declared-rate check (shared by every file format)."""
    path, opts, header = ctx.path, ctx.opts, ctx.header
    notes: dict[str, int | str] = {"out_of_order_rows": 0, "batched_samples": 0, "empty_values": 0}
    if ctx.text_columns:
        notes["text_columns_skipped"] = ", ".join(ctx.text_columns)
    described = _describe_columns(ctx, series, device)
    index_cols = [name for name, d in described.items() if d.kind == "index"]
    if index_cols:
        notes["counter_columns_skipped"] = ", ".join(index_cols)
    series = _select_channels(ctx, series, described)
    col_of = {name: i for i, name in enumerate(header)}
    channels, others = [], []
    for name, (t_ns, values, line_no, n_empty) in series.items():
        desc = described[ctx.source_of.get(name, name)]
        notes["empty_values"] = int(notes["empty_values"]) + n_empty
        if t_ns.size == 0:
            raise InputError(f"{path}: channel {name!r} has no values (every cell empty, NaN or inf)")
        channel, n_unordered, n_batched = _repair_channel(ctx, name, t_ns, values, line_no)
        notes["out_of_order_rows"] = int(notes["out_of_order_rows"]) + n_unordered
        notes["batched_samples"] = int(notes["batched_samples"]) + n_batched
        channel.kind, channel.source_column = desc.kind, desc.column
        if desc.unit is not None:
            channel.values = channel.values * desc.unit.factor
            channel.unit, channel.unit_declared = desc.unit.si, desc.unit.declared
        # --emg-rate is the sEMG channels' rate: accelerometers and gyroscopes in the same
        # file keep their own (a Trigno's IMU runs at ~148 Hz next to EMG at 1259 Hz).
        given = opts.rate_hz if desc.kind == "emg" else None
        rate = given or column_rates.get(col_of.get(desc.column, -1))
        if rate is None and desc.kind == "emg":
            rate = declared_rate
        channel.declared_rate_hz = rate
        check_declared_rate(path, channel, "--emg-rate" if given else "the header")
        (channels if desc.kind == "emg" else others).append(channel)
    if not channels:
        found = ", ".join(f"{d.column!r} ({d.kind})" for d in described.values())
        dropped = f" ({'; '.join(ctx.warnings)})" if ctx.warnings else ""
        raise InputError(
            f"{path}: no sEMG column{dropped}: the columns hold {found}. Name the sEMG columns with "
            "--channels (columns named there are sEMG whatever their names say), or check that "
            "the right file was given"
        )
    return EmgRecording(
        path=path.resolve(),
        channels=channels,
        layout=layout,
        time_unit=ctx.time_unit,
        assumed_tz=ctx.assumed_tz,
        header_line=header_line,
        notes=notes,
        others=others,
        device=device,
        warnings=list(ctx.warnings),
        relative_time=ctx.relative,
    )


# A number in any float notation: `2000`, `1259.259`, `.5`, `1.259259e+003`, `1.48E2`.
_FLOAT = r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_RATE_CELL = re.compile(rf"^({_FLOAT})\s*hz$", re.IGNORECASE)
_RATE_LINE = re.compile(rf"(?:sample|sampling)[ _]?(?:rate|frequency)[^0-9.]*?({_FLOAT})", re.IGNORECASE)
# Delsys EMGworks / Trigno preamble: one line per column with its own rate and unit:
# `Label: Mini sensor 10: ACC.X 10 Sampling frequency: 1.481481e+002 Number of points: 9546
#  start: 0.000000e+000 Unit: g Domain Unit: s`
_LABEL_LINE = re.compile(
    rf"^\s*Label:\s*(?P<name>.+?)\s+Sampling frequency:\s*(?P<rate>{_FLOAT})"
    r"(?:.*?\bUnit:\s*(?P<unit>.*?)\s*(?:Domain Unit:.*)?)?$", re.IGNORECASE)


_PERIOD_CELL = re.compile(rf"^{_FLOAT}\s*s$", re.IGNORECASE)


def _is_period_row(row: list[str]) -> bool:
    cells = [c.strip() for c in row if c.strip()]
    return bool(cells) and all(_PERIOD_CELL.match(c) for c in cells)


def _unique_names(rows: list[list[str]], header_idx: int, header: list[str], wanted: list[str]) -> list[str]:
    """Value columns with repeated names (Trigno Discover writes `EMG 1 (mV)` once per sensor,
    the sensor's name in a row above, over the first column of its group) get that label in
    front: `Avanti Sensor 3 (89563): EMG 1 (mV)`; failing a label row, ` #2`, ` #3`, ..."""
    value_cols = [i for i, h in enumerate(header) if h and not _is_time_name(h, wanted)]
    names = [header[i] for i in value_cols]
    if len(set(names)) == len(names):
        return header
    for k in range(header_idx - 1, max(header_idx - 5, -1), -1):
        row = [c.strip() for c in rows[k]] + [""] * len(header)
        label, filled = "", []
        for i in range(len(header)):
            label = row[i] or label
            filled.append(label)
        labelled = [f"{filled[i]}: {header[i]}" if filled[i] else header[i] for i in value_cols]
        if len(set(labelled)) == len(labelled):
            out = list(header)
            for i, name in zip(value_cols, labelled, strict=True):
                out[i] = name
            return out
    out, count = list(header), {}
    for i in value_cols:
        count[header[i]] = count.get(header[i], 0) + 1
        if count[header[i]] > 1:
            out[i] = f"{header[i]} #{count[header[i]]}"
    return out


def _label_rates(preamble: list[str], header: list[str], points: dict[str, int]) -> dict[int, float]:
    """Per-column rates from Delsys `Label: <column> Sampling frequency: <Hz> ... Unit: <u>`
    lines above the header; a column named there without a unit suffix gets the line's unit
    (`Mini sensor 10: ACC.X 10` -> `Mini sensor 10: ACC.X 10 (g)`, edited in `header`).
    `points` gets each column's `Number of points` (checked against the rows read)."""
    labels: dict[str, tuple[float, str, int | None]] = {}
    for line in preamble:
        match = _LABEL_LINE.match(line)
        if match:
            n = _POINTS.search(line)
            labels[match.group("name").strip().strip('"').lower()] = (
                float(match.group("rate")), (match.group("unit") or "").strip(),
                int(n.group(1)) if n else None)
    rates: dict[int, float] = {}
    for i, name in enumerate(header):
        found = labels.get(name.strip().strip('"').lower())
        if found is None:
            continue
        rates[i] = found[0]
        if found[1] and split_unit(name)[1] is None and parse_unit(found[1]) is not None:
            header[i] = f"{name} ({found[1]})"
        if found[2] is not None:
            points[header[i]] = found[2]
    return rates


_POINTS = re.compile(r"Number of points:\s*(\d+)", re.IGNORECASE)


def _check_points(rec: EmgRecording, points: dict[str, int]) -> None:
    """A header that declares more samples per column than the file holds: the export was
    cut (a truncated copy, a crashed export). Said once, with the worst column."""
    short = [(ch.source_column, points[ch.source_column], ch.time_ns.size)
             for ch in [*rec.channels, *rec.others]
             if ch.source_column in points and ch.time_ns.size < points[ch.source_column]]
    if short:
        col, want, have = min(short, key=lambda s: s[2] / s[1])
        rec.warnings.append(
            f"{len(short)} column(s) hold fewer samples than the header declares, e.g. {col!r}: "
            f"{have} of {want} ({100 * have / want:.0f} %): the export is truncated; only what "
            "the file holds is aligned")


def _is_rate_row(row: list[str]) -> bool:
    cells = [c.strip() for c in row if c.strip()]
    return bool(cells) and all(_RATE_CELL.match(c) for c in cells)


def _declared_rate(preamble: list[str]) -> float | None:
    """The sample rate stated above the header (`%Sample Rate = 250 Hz`, `Sampling frequency: 2000`)."""
    for line in preamble:
        match = _RATE_LINE.search(line)
        if match:
            return float(match.group(1))
    return None


def check_declared_rate(path: Path, channel: EmgChannel, source: str) -> None:
    """A rate the header declares must agree with the timestamps within 2 %: otherwise one
    of them is wrong, and the filters (or the time axis) would be off by that much."""
    declared, period = channel.declared_rate_hz, channel.sample_period_s
    if declared is None or not np.isfinite(period) or period <= 0:
        return
    measured = 1.0 / period
    # The rate over the whole span as a second opinion: host timestamps with jitter can
    # skew the median interval, but not the span (dropouts lengthen it: refused below too).
    n = channel.time_ns.size
    span_rate = (n - 1) / ((channel.time_ns[-1] - channel.time_ns[0]) / 1e9) if n > 1 else measured
    if abs(measured / declared - 1.0) > 0.02 and abs(span_rate / declared - 1.0) > 0.02:
        raise InputError(
            f"{path}: {source} declares {declared:g} Hz for {channel.name!r}, but its timestamps are "
            f"{period * 1e3:.3f} ms apart (median over {channel.time_ns.size} samples), i.e. "
            f"{measured:.4g} Hz. One of them is wrong: if the timestamps are right, pass "
            f"--emg-rate {measured:.4g}; otherwise export the recording again"
        )


@dataclass
class _Column:
    column: str
    name: str
    kind: str
    unit: UnitInfo | None


def _describe_columns(ctx: _Context, series: Series, device: str | None) -> dict[str, _Column]:
    """Kind, clean name and unit of every value column (see `channels`)."""
    out = {}
    for column in series:
        name, unit = split_unit(column)
        kind = kind_of(name, unit)
        if unit is None and device == "OpenBCI":
            # The OpenBCI GUI writes EXG in microvolts and the accelerometer in g (its format).
            unit = parse_unit("uV") if kind == "emg" else parse_unit("g") if kind == "acc" else None
        check_unit_matches_kind(ctx.path, column, kind, unit)  # type: ignore[arg-type]
        out[column] = _Column(column=column, name=name, kind=kind, unit=unit)
    return out


@dataclass
class _Context:
    """What the layout readers share about one file (header, options, what they found)."""

    path: Path
    header: list[str]
    header_line: int
    opts: EmgCsvOptions
    delim: str
    time_unit: str = ""
    assumed_tz: str | None = None
    text_columns: list[str] = field(default_factory=list)
    source_of: dict[str, str] = field(default_factory=dict)  # output name -> column
    relative: bool = False  # some times count from an unknown time zero
    warnings: list[str] = field(default_factory=list)

    def column(self, name: str, role: str) -> int:
        lower = [h.lower() for h in self.header]
        if name.strip().lower() not in lower:
            raise InputError(
                f"{self.path}: {role} column {name!r} not found; the file has columns: "
                f"{', '.join(map(repr, self.header))} (header on line {self.header_line})"
            )
        return lower.index(name.strip().lower())

    def times(self, texts: list[str], lines: list[int], col: int) -> np.ndarray:
        if self.delim == ";":
            texts = [t.replace(",", ".") for t in texts]  # decimal comma
        parsed = parse_times(
            texts,
            unit=self.opts.time_unit,
            tz=self.opts.tz,
            what=f"timestamps in column {self.header[col]!r} of {self.path}",
            line_numbers=lines,
            start=self.opts.start,
            relative_ok=True,
        )
        self.time_unit = parsed.unit
        self.assumed_tz = parsed.assumed_tz
        self.relative = self.relative or parsed.relative
        self._check_backward(parsed.ns, lines, col)
        return parsed.ns

    def _check_backward(self, t_ns: np.ndarray, lines: list[int], col: int) -> None:
        if t_ns.size < 2:
            return
        # Compare with the running maximum, so one late row is not mistaken for a reset.
        running = np.maximum.accumulate(t_ns)
        back = running[:-1] - t_ns[1:]
        worst = int(np.argmax(back))
        limit = int(self.opts.max_backward_s * 1e9)
        if back[worst] > limit:
            line = lines[worst + 1]
            steps = np.diff(t_ns)
            if t_ns[-1] < t_ns[0] and (steps < 0).sum() > 0.8 * steps.size:
                # Newest first (an export sorted descending): no split point would help.
                first = lines[0]
                raise InputError(
                    f"{self.path}: the rows are in reverse time order (column "
                    f"{self.header[col]!r} runs from {format_ns(int(t_ns[0]))} back to "
                    f"{format_ns(int(t_ns[-1]))}): export them oldest first, or reverse them "
                    f"keeping the header: (head -n {first - 1} {self.path.name}; tail -n "
                    f"+{first} {self.path.name} | tac) > sorted_{self.path.name}")
            raise InputError(
                f"{self.path}: timestamps in column {self.header[col]!r} jump back by "
                f"{back[worst] / 1e9:.3f} s at line {line} ({format_ns(int(t_ns[worst + 1]))} after "
                f"{format_ns(int(running[worst]))}): a clock reset or several recordings "
                f"concatenated in one file; split the file at line {line}"
            )

    def value(self, text: str) -> float:
        text = text.strip()
        if self.delim == ";":
            text = text.replace(",", ".")  # decimal comma in ';'-separated exports
        try:
            return float(text)
        except ValueError:
            return float("nan")


Series = dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, int]]


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", "."))
        return True
    except ValueError:
        return False


def _cell(row: list[str], i: int) -> str:
    return row[i].strip() if i < len(row) else ""


def _per_sensor_layout(ctx: _Context, body: list[tuple[int, list[str]]], time_cols: list[int],
                       wide: bool = False) -> Series:
    """Each time column serves the value columns after it, up to the next time column; in the
    wide layout the one time column serves every other column, wherever it stands (OpenBCI
    writes its timestamp after the channels)."""
    series: Series = {}
    bounds = [*time_cols, len(ctx.header)]
    for t_col, end in zip(time_cols, bounds[1:], strict=False):
        rows = [(ln, row) for ln, row in body if _cell(row, t_col)]
        texts = [_cell(row, t_col) for _, row in rows]
        lines = [ln for ln, _ in rows]
        t_ns = ctx.times(texts, lines, t_col) if rows else np.empty(0, np.int64)
        cols = [c for c in range(len(ctx.header)) if c != t_col] if wide else range(t_col + 1, end)
        for col in cols:
            name = ctx.header[col]
            if not name:
                continue
            raw = [_cell(row, col) for _, row in rows]
            values = np.array([ctx.value(v) if v else np.nan for v in raw], dtype=np.float64)
            keep = np.isfinite(values)
            filled = sum(1 for v in raw if v)
            if filled and not keep.any():
                if any(_is_number(v) for v in raw if v):
                    # Numbers, but NaN or inf in every cell: a dead sensor or a failed export,
                    # not text. Left out, and said so (never silently).
                    first, last = lines[0], lines[-1]
                    ctx.warnings.append(
                        f"channel {name!r} holds no finite value ({filled} cells NaN or inf, lines "
                        f"{first}-{last}): a dead sensor or a failed export; it is left out")
                    continue
                # Text in every cell (a formatted date, a label): not a signal; noted, skipped.
                ctx.text_columns.append(name)
                continue
            series[name] = (t_ns[keep], values[keep], np.asarray(lines)[keep], int((~keep).sum()))
    return series


def _long_layout(ctx: _Context, body: list[tuple[int, list[str]]], time_cols: list[int]) -> Series:
    lower = [h.lower() for h in ctx.header]
    chan_name = ctx.opts.channel_col or next((h for h in ctx.header if h.lower() in _CHANNEL_NAMES), None)
    value_name = ctx.opts.value_col or next((h for h in ctx.header if h.lower() in _VALUE_NAMES), None)
    if chan_name is None or value_name is None:
        raise InputError(
            f"{ctx.path}: the long layout needs a channel column and a value column; name them "
            f"in a sensor config (channel_col, value_col); the file has columns: "
            f"{', '.join(map(repr, ctx.header))}"
        )
    c_col, v_col = ctx.column(chan_name, "channel"), ctx.column(value_name, "value")
    if len(time_cols) != 1:
        raise InputError(
            f"{ctx.path}: the long layout needs exactly one time column; the file has "
            f"columns: {', '.join(map(repr, ctx.header))}; name it with --time-col"
        )
    del lower
    t_col = time_cols[0]
    texts = [_cell(row, t_col) for _, row in body]
    lines = [ln for ln, _ in body]
    t_all = ctx.times(texts, lines, t_col)
    names = [_cell(row, c_col) for _, row in body]
    values = np.array([ctx.value(_cell(row, v_col)) for _, row in body], dtype=np.float64)
    line_arr = np.asarray(lines)
    series: Series = {}
    for name in dict.fromkeys(names):  # first-seen order
        sel = np.array([n == name for n in names])
        keep = sel & np.isfinite(values)
        series[name] = (t_all[keep], values[keep], line_arr[keep], int((sel & ~keep).sum()))
    return series


def _select_channels(ctx: _Context, series: Series, described: dict[str, _Column]) -> Series:
    """Keep and rename channels (--channels); by default every signal column under its name
    without the unit suffix. Columns are found by their header text or by that name.

    Columns named in --channels are the sEMG channels, whatever their names say (a DAQ may
    call them `Analog 1`); sEMG-looking columns not named are left out; accelerometer,
    gyroscope and other columns not named are kept for their own streams."""
    signals = [col for col in series if described[col].kind != "index"]
    out: Series = {}
    if not ctx.opts.channels:
        names = [described[col].name for col in signals]
        for col in signals:
            # A name that would repeat once the unit is cut off keeps its full header text.
            name = described[col].name if names.count(described[col].name) == 1 else col
            out[name] = series[col]
            ctx.source_of[name] = col
        return out
    by_lower: dict[str, str] = {}
    for col in series:
        by_lower.setdefault(described[col].name.lower(), col)
        by_lower[col.lower()] = col
    for spec in ctx.opts.channels:
        src, _, dst = spec.partition("=")
        src = src.strip()
        if src.lower() not in by_lower:
            raise InputError(
                f"{ctx.path}: channel {src!r} (--channels) not found; the file has channels: "
                f"{', '.join(map(repr, signals))} (header on line {ctx.header_line})"
            )
        col = by_lower[src.lower()]
        dst = dst.strip() or described[col].name
        described[col].kind = "emg"
        check_unit_matches_kind(ctx.path, col, "emg", described[col].unit)
        out[dst] = series[col]
        ctx.source_of[dst] = col
    chosen = set(ctx.source_of.values())
    for col in signals:
        if col not in chosen and described[col].kind not in ("emg", "index"):
            name = described[col].name if described[col].name not in out else col
            out[name] = series[col]
            ctx.source_of[name] = col
    return out


def _repair_channel(
    ctx: _Context, name: str, t_ns: np.ndarray, values: np.ndarray, lines: np.ndarray
) -> tuple[EmgChannel, int, int]:
    """Sort slightly out-of-order rows, then spread batched packets back in time."""
    order = np.argsort(t_ns, kind="stable")
    n_unordered = int((order != np.arange(order.size)).sum())
    t_ns, values, lines = t_ns[order], values[order], lines[order]
    period_s = _sample_period_s(t_ns)
    n_batched = 0
    if ctx.opts.debatch and np.isfinite(period_s) and t_ns.size > 1:
        t_ns, n_batched = _spread_batches(t_ns, int(round(period_s * 1e9)))
        spread = _sample_period_s(t_ns)
        if n_batched and np.isfinite(spread) and abs(spread / period_s - 1.0) > 0.1:
            # Every sample came in a packet (a raw device over USB/Bluetooth, stamped per
            # packet): the stamps' own intervals are the packet period, the spread times
            # show the sample period.
            period_s = spread
    channel = EmgChannel(name=name, time_ns=t_ns, values=values, lines=lines, sample_period_s=period_s)
    return channel, n_unordered, n_batched


def _sample_period_s(t_ns: np.ndarray) -> float:
    """Sample period, robust to batching and drops: the median of the intervals near one
    period (batches give zero or n-period intervals, drops multi-period ones; jitter is
    symmetric, so a window centred on the period keeps the median unbiased)."""
    if t_ns.size < 3:
        return float("nan")
    diffs = np.diff(t_ns).astype(np.float64)
    positive = diffs[diffs > 0]
    if positive.size == 0:
        return float("nan")
    guess = float(np.median(positive))
    for _ in range(3):
        near = positive[(positive > 0.5 * guess) & (positive < 1.5 * guess)]
        if near.size == 0:
            break
        guess = float(np.median(near))
    if near.size == diffs.size:
        # Regular sampling (no drop, batch or large jitter): the mean over the whole span
        # averages out timestamps rounded to a few decimals (a 1259.259 Hz export in whole
        # microseconds has intervals of 794 us only, i.e. 1259.4 Hz by the median).
        return float(t_ns[-1] - t_ns[0]) / (t_ns.size - 1) / 1e9
    return guess / 1e9


def _spread_batches(t_ns: np.ndarray, period_ns: int) -> tuple[np.ndarray, int]:
    """A packet holding n samples arrives with one stamp, taken after its last sample: give
    sample j of the packet the time stamp - (n-1-j) * period, never before the previous packet."""
    out = t_ns.copy()
    n_batched = 0
    i = 0
    n = t_ns.size
    while i < n:
        j = i
        while j + 1 < n and t_ns[j + 1] == t_ns[i]:
            j += 1
        size = j - i + 1
        if size > 1:
            prev = int(out[i - 1]) if i > 0 else None
            step = period_ns
            if prev is not None:
                step = min(period_ns, (int(t_ns[i]) - prev) // size)
            out[i : j + 1] = int(t_ns[i]) - step * np.arange(size - 1, -1, -1, dtype=np.int64)
            n_batched += size - 1
        i = j + 1
    return out, n_batched


def _cut_last_row(body: list[tuple[int, list[str]]], text: str) -> str:
    """Why the last row of a file that ends without a line break was cut mid-line ("" when
    it looks whole): fewer fields than the row above, or a last field shorter than that
    column ever is in the rows above (exports write a column with one number format, so a
    truncated copy leaves e.g. `0` where every row above has `0.67719`)."""
    if len(body) < 2 or text.endswith(("\n", "\r")):
        return ""
    last = body[-1][1]
    above = [row for _, row in body[-21:-1]]
    if len(last) < len(above[-1]):
        return f"{len(last)} of {len(above[-1])} fields"
    widths = [len(row[-1].strip()) for row in above if len(row) == len(last)]
    if widths and len(last[-1].strip()) < min(widths):
        return (f"its last value {last[-1].strip()!r} is shorter than every value of that column "
                f"above it (at least {min(widths)} characters)")
    return ""
