"""sEMG recordings in the formats besides CSV, and the one entry point that picks the reader.

- Cortex `.anc` (Motion Analysis analog ASCII): a preamble (`PreciseRate`, `BitDepth`,
  `#Channels`), then rows `Name`, `Rate`, `Range` (the ADC input range per channel in mV,
  bipolar), then one row per sample: time in seconds from the trial start, then ADC counts.
  Counts become volts at the ADC input: counts / 2^(bits-1) x range. The amplifier gain in
  front of the ADC is not in the file, so these volts are not electrode microvolts.
- EDF / BDF (European Data Format, 16 / 24 bit), read with MNE (`pip install 'musclekit[emg]'`):
  the start date and time in the header gives the wall clock, each signal's physical
  dimension its unit.
- Vicon Nexus CSV exports (`Devices` block; `nexus_csv`).
- Anything else is a CSV / text export (`emg_csv.read_emg_csv`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from musclekit.errors import InputError
from musclekit.pipelines.align.emg_csv import (
    EmgCsvOptions,
    EmgRecording,
    Series,
    _Context,
    _read_text,
    assemble_recording,
    read_emg_csv,
)
from musclekit.pipelines.align.timeparse import format_ns

EDF_SUFFIXES = (".edf", ".bdf")


def read_recording(path: Path, options: EmgCsvOptions | None = None) -> EmgRecording:
    """Read an sEMG recording in any supported format (by suffix: .anc, .edf/.bdf; else a
    Nexus CSV by its first lines, else CSV)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".anc":
        return read_anc(path, options)
    if suffix in EDF_SUFFIXES:
        return read_edf(path, options)
    from musclekit.pipelines.align.nexus_csv import is_nexus_csv, read_nexus_csv

    if is_nexus_csv(path):
        return read_nexus_csv(path, options)
    return read_emg_csv(path, options)


def read_anc(path: Path, options: EmgCsvOptions | None = None) -> EmgRecording:
    """Read a Cortex `.anc` analog file. Times count from the trial start, so the wall-clock
    time of time zero comes from `options.start` (--emg-start).

    Raises:
        InputError: no `Name`/`Rate`/`Range` rows, rows of the wrong width, unparseable
            numbers (with the line), or a `PreciseRate` that the time column contradicts.
    """
    path = Path(path)
    opts = options or EmgCsvOptions()
    lines = _read_text(path).splitlines()
    fields = [ln.rstrip("\t ").split("\t") for ln in lines]
    rows = {f[0].strip(): (i, f) for i, f in enumerate(fields) if f and f[0].strip() in ("Name", "Rate", "Range")}
    missing = [k for k in ("Name", "Rate", "Range") if k not in rows]
    if missing:
        raise InputError(
            f"{path}: not a Cortex .anc analog file: no {', '.join(missing)} row (the format has "
            "a preamble, then rows starting with Name, Rate and Range, then one row per sample). "
            "If it is a CSV export, give it a .csv name"
        )
    names = [c.strip() for c in rows["Name"][1][1:] if c.strip()]
    try:
        rates = [float(c) for c in rows["Rate"][1][1 : len(names) + 1]]
        ranges_mv = [float(c) for c in rows["Range"][1][1 : len(names) + 1]]
    except ValueError as err:
        raise InputError(f"{path}: the Rate / Range rows hold a value that is not a number: {err}") from err
    pre = " ".join(" ".join(f) for f in fields[: rows["Name"][0]])
    bits = _preamble_number(pre, "BitDepth:") or 16.0
    precise = _preamble_number(pre, "PreciseRate:")
    first = max(i for i, _ in rows.values()) + 1
    body = [(i + 1, f) for i, f in enumerate(fields[first:], start=first) if any(c.strip() for c in f)]
    if not body:
        raise InputError(f"{path}: the Name/Rate/Range rows are not followed by any samples")
    width = len(names) + 1
    bad = [ln for ln, f in body if len(f) < width]
    if bad:
        raise InputError(f"{path}: {len(bad)} sample rows have fewer than {width} columns (time + "
                         f"{len(names)} channels), first at line {bad[0]}: the file is truncated or damaged")
    try:
        counts = np.array([[float(c) for c in f[1:width]] for _, f in body])
    except ValueError as err:
        raise InputError(f"{path}: a sample is not a number ({err}); the file is damaged") from err
    header = ["time", *names]
    ctx = _Context(path=path, header=header, header_line=rows["Name"][0] + 1, opts=opts, delim="\t")
    line_no = [ln for ln, _ in body]
    t_ns = ctx.times([f[0].strip() for _, f in body], line_no, 0)
    scale = np.asarray(ranges_mv) * 1e-3 / 2.0 ** (bits - 1)  # V per count at the ADC input
    series: Series = {}
    for j, name in enumerate(names):
        # Counts become volts here; the unit rule below must not scale them again.
        series[f"{name} (V)"] = (t_ns, counts[:, j] * scale[j], np.asarray(line_no), 0)
    column_rates = {j + 1: rates[j] for j in range(len(names))}
    ctx.header = ["time", *[f"{n} (V)" for n in names]]
    rec = assemble_recording(ctx, series, "anc", ctx.header_line, precise, column_rates, "Cortex .anc")
    for ch in [*rec.channels, *rec.others]:
        ch.unit_declared = "ADC counts (V at the ADC input from the Range row)"
    return rec


def _preamble_number(text: str, key: str) -> float | None:
    parts = text.split()
    if key in parts:
        try:
            return float(parts[parts.index(key) + 1])
        except (IndexError, ValueError):
            return None
    return None


def read_edf(path: Path, options: EmgCsvOptions | None = None) -> EmgRecording:
    """Read an EDF or BDF file with MNE. Sample times are the header's start time plus
    k / rate; the start is read as UTC unless `options.tz` names the recording's zone
    (EDF stores local time without a zone)."""
    path = Path(path)
    opts = options or EmgCsvOptions()
    _read_text(path)  # the same messages for a missing or empty file
    try:
        import mne
    except ImportError as err:
        raise InputError(f"{path}: reading EDF/BDF needs the mne package: pip install 'musclekit[emg]'") from err
    reader = mne.io.read_raw_bdf if path.suffix.lower() == ".bdf" else mne.io.read_raw_edf
    try:
        raw = reader(str(path), preload=True, verbose="error")
    except (ValueError, OSError, RuntimeError, IndexError) as err:
        raise InputError(f"{path}: MNE cannot read it as {path.suffix[1:].upper()}: {err}") from err
    meas = raw.info["meas_date"]
    if meas is None and opts.start is None:
        raise InputError(f"{path}: the header has no start date and time; give the wall-clock time "
                         "of the first sample with --emg-start")
    from musclekit.pipelines.align.timeparse import parse_iso_ns, resolve_tz

    if opts.start is not None:
        parsed = parse_iso_ns(opts.start, resolve_tz(opts.tz))
        if parsed is None:
            raise InputError(f"--emg-start {opts.start!r} is not an ISO 8601 time such as 2026-11-22T10:00:00.000+01:00")
        start_ns, assumed = parsed[0], None
    else:
        # MNE returns the header's local date-time labelled UTC; re-read it in --emg-tz.
        local = meas.replace(tzinfo=None).isoformat(timespec="microseconds")
        start_ns = parse_iso_ns(local, resolve_tz(opts.tz))[0]  # type: ignore[index]
        assumed = opts.tz or "UTC"
    rate = float(raw.info["sfreq"])
    data = raw.get_data()  # volts for voltage signals (MNE scales them), else as stored
    dims = _edf_dimensions(path, len(raw.ch_names))
    n = data.shape[1]
    t_ns = start_ns + np.round(np.arange(n) * (1e9 / rate)).astype(np.int64)
    series: Series = {}
    header = ["time"]
    from musclekit.pipelines.align.channels import parse_unit

    for j, name in enumerate(raw.ch_names):
        unit = dims[j] if j < len(dims) else ""
        info = parse_unit(unit) if unit else None
        values = data[j]
        if info is not None and info.quantity == "voltage":
            column = f"{name} (V)"  # MNE already scaled to volts
        elif info is not None:
            column = f"{name} ({unit})"
        else:
            column = name
        header.append(column)
        series[column] = (t_ns, values.astype(np.float64), np.arange(n), 0)
    ctx = _Context(path=path, header=header, header_line=0, opts=opts, delim="")
    ctx.time_unit, ctx.assumed_tz = "edf header start + k / rate", assumed
    rec = assemble_recording(ctx, series, path.suffix[1:].lower(), 0, rate, {}, path.suffix[1:].upper())
    declared = dict(zip(header[1:], dims, strict=False))
    for ch in [*rec.channels, *rec.others]:
        if declared.get(ch.source_column):
            ch.unit_declared = declared[ch.source_column]
    rec.notes["start"] = format_ns(start_ns)
    return rec


def _edf_dimensions(path: Path, n_signals: int) -> list[str]:
    """Each signal's physical dimension from the EDF/BDF header (MNE keeps only voltages:
    it reports `g` or `deg/s` as 'n/a'). Header: 256 bytes, then per-signal fields of fixed
    width, all labels (16), then all transducers (80), then all dimensions (8)."""
    with path.open("rb") as fh:
        head = fh.read(256 + 256 * n_signals)
    start = 256 + n_signals * (16 + 80)
    return [head[start + 8 * j : start + 8 * (j + 1)].decode("latin-1").strip() for j in range(n_signals)]
