"""Vicon Nexus CSV exports (`File > Export > CSV`), the `Devices` section.

Nexus writes one block per section (`Devices`, `Model Outputs`, `Trajectories`, ...):

```
Devices
2000                                   <- the devices' sample rate (Hz)
,,Imported Analog EMG - Voltage,,,...  <- each device's name over its first column
Frame,Sub Frame,1,2,...,EMG1,EMG2,...  <- channel names
,,V,V,...                              <- units
1,0,-0.022,...                         <- camera frame, sub frame, values
```

A sample's time is ((frame - first frame) x sub frames per frame + sub frame) / rate, in
seconds from the start of the trial: Nexus writes no wall-clock time, so the recording is
relative (`EmgRecording.relative_time`) unless `--emg-start` gives time zero. Channel names
that are bare numbers (an analog device's `1`, `2`, ...) get their device's name in front.
Only the `Devices` block is read (markers are simulate's business); it ends at the first
empty line.
"""

from __future__ import annotations

import csv
import io
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
)


def is_nexus_csv(path: Path) -> bool:
    """A Nexus export starts with a section name (`Devices`, `Trajectories`, ...) alone on
    its line, then the section's rate."""
    try:
        with Path(path).open("r", encoding="utf-8-sig", errors="replace") as fh:
            head = [fh.readline() for _ in range(2)]
    except OSError:
        return False
    first = head[0].strip().strip(",").strip()
    second = head[1].strip().strip(",").strip()
    return first in ("Devices", "Trajectories", "Model Outputs", "Joints", "Segments") and \
        second.replace(".", "", 1).isdigit()


def read_nexus_csv(path: Path, options: EmgCsvOptions | None = None) -> EmgRecording:
    """Read the `Devices` block of a Vicon Nexus CSV export.

    Raises:
        InputError: no `Devices` block (a markers-only export), a block without the
            `Frame,Sub Frame` header or the rate line, rows of the wrong width, a value that
            is not a number (with the line).
    """
    path = Path(path)
    opts = options or EmgCsvOptions()
    text = _read_text(path, text_only=True)
    rows = list(csv.reader(io.StringIO(text)))
    starts = [i for i, r in enumerate(rows) if r and r[0].strip() == "Devices"]
    if not starts:
        sections = [r[0].strip() for r in rows if r and len([c for c in r if c.strip()]) == 1
                    and r[0].strip().isalpha()]
        raise InputError(f"{path}: a Vicon Nexus export without a Devices section (it has "
                         f"{', '.join(sections) or 'none'}): export the analog devices (EMG) "
                         "with it, or give the EMG in another file")
    top = starts[0]
    try:
        rate = float(rows[top + 1][0])
    except (IndexError, ValueError):
        raise InputError(f"{path}: line {top + 2} should hold the Devices' sample rate (Hz) "
                         "under the word Devices") from None
    header_at = top + 3
    if header_at >= len(rows) or [c.strip().lower() for c in rows[header_at][:2]] != ["frame", "sub frame"]:
        raise InputError(f"{path}: line {header_at + 1} should be the Devices header "
                         "(Frame,Sub Frame,<channels>); the export is not in Nexus's CSV layout")
    devices, names, units = rows[top + 2], rows[header_at], rows[header_at + 1]
    width = len(names)
    body = []
    for i in range(header_at + 2, len(rows)):
        row = rows[i]
        if not any(c.strip() for c in row):
            break  # the end of the Devices block
        body.append((i + 1, row))
    if not body:
        raise InputError(f"{path}: the Devices header on line {header_at + 1} has no samples under it")
    warnings = []
    if len(body) > 1 and len(body[-1][1]) < width and not text.endswith(("\n", "\r")):
        line_no, row = body.pop()
        warnings.append(f"line {line_no} is cut short ({len(row)} of {width} fields) and the file "
                        "ends without a line break: the export was truncated mid-line; that row "
                        "is left out (export the recording again to get it back)")
    short = [ln for ln, r in body if len(r) < width]
    if short:
        raise InputError(f"{path}: {len(short)} Devices rows have fewer than {width} fields, first "
                         f"at line {short[0]}: the file is damaged")
    lines = np.array([ln for ln, _ in body])
    try:
        frame = np.array([int(r[0]) for _, r in body], dtype=np.int64)
        sub = np.array([int(r[1]) for _, r in body], dtype=np.int64)
    except ValueError as err:
        raise InputError(f"{path}: a Frame / Sub Frame cell is not a whole number ({err})") from err
    per_frame = int(sub.max()) + 1
    rel_s = ((frame - frame[0]) * per_frame + sub) / rate
    start = opts.start
    header = ["time"]
    device, columns = "", []
    for j in range(2, width):
        device = (devices[j].strip() if j < len(devices) else "") or device
        name = names[j].strip()
        if not name:
            continue
        if name.replace(".", "", 1).isdigit() and device:
            name = f"{device}: {name}"
        unit = units[j].strip() if j < len(units) else ""
        header.append(f"{name} ({unit})" if unit else name)
        columns.append(j)
    ctx = _Context(path=path, header=header, header_line=header_at + 1, opts=opts, delim=",")
    ctx.warnings.extend(warnings)
    t_ns = ctx.times([repr(float(t)) for t in rel_s], lines.tolist(), 0) if start else None
    if t_ns is None:
        t_ns = np.round(rel_s * 1e9).astype(np.int64)
        ctx.time_unit, ctx.relative = "relative s (Frame, Sub Frame / Devices rate)", True
    series: Series = {}
    for k, j in enumerate(columns):
        cells = [r[j].strip() for _, r in body]
        values = np.array([_number(c) for c in cells], dtype=np.float64)
        keep = np.isfinite(values)
        if not keep.any():
            ctx.warnings.append(f"channel {header[k + 1]!r} holds no finite value (lines "
                                f"{lines[0]}-{lines[-1]}): it is left out")
            continue
        series[header[k + 1]] = (t_ns[keep], values[keep], lines[keep], int((~keep).sum()))
    rec = assemble_recording(ctx, series, "nexus", header_at + 1, rate,
                             {i + 1: rate for i in range(len(columns))}, "Vicon Nexus")
    rec.notes["nexus_sub_frames_per_frame"] = per_frame
    return rec


def _number(text: str) -> float:
    if not text:
        return float("nan")
    try:
        return float(text)
    except ValueError:
        return float("nan")
