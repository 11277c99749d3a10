"""OpenSim text files: marker trajectories (.trc) and motions (.mot), written and read.

Written files open in the OpenSim GUI and its own adapters (`TRCFileAdapter`,
`STOFileAdapter`). The readers check what OpenSim would trip over (a TRC header that does
not match its data, NaN or missing markers) and say where.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from musclekit.errors import InputError

TRC_HEADER_KEYS = ["DataRate", "CameraRate", "NumFrames", "NumMarkers", "Units",
                   "OrigDataRate", "OrigDataStartFrame", "OrigNumFrames"]


@dataclass
class MarkerData:
    """Marker trajectories: time_s (T,), positions (T, M, 3) in metres, marker names (M)."""

    time_s: np.ndarray
    names: list[str]
    positions: np.ndarray
    rate_hz: float


def write_trc(path: Path, time_s: np.ndarray, names: list[str], positions: np.ndarray) -> Path:
    """Write a .trc in metres. positions (T, M, 3) must be finite (NaN breaks OpenSim)."""
    path = Path(path)
    positions = np.asarray(positions, dtype=float)
    n_frames, n_markers, _ = positions.shape
    if n_frames == 0:
        raise InputError(f"refusing to write {path}: zero-length sequence (no frames)")
    if not np.isfinite(positions).all():
        raise InputError(f"refusing to write {path}: marker positions contain NaN/inf")
    rate = 1.0 / float(np.median(np.diff(time_s))) if n_frames > 1 else 1.0
    lines = [
        f"PathFileType\t4\t(X/Y/Z)\t{path.name}",
        "\t".join(TRC_HEADER_KEYS),
        "\t".join([f"{rate:.6f}", f"{rate:.6f}", str(n_frames), str(n_markers), "m",
                   f"{rate:.6f}", "1", str(n_frames)]),
        "\t".join(["Frame#", "Time"] + [f"{n}\t\t" for n in names]).rstrip("\t"),
        "\t".join(["", ""] + [f"X{i + 1}\tY{i + 1}\tZ{i + 1}" for i in range(n_markers)]),
        "",
    ]
    body = np.column_stack([np.arange(1, n_frames + 1), time_s,
                            positions.reshape(n_frames, -1)])
    fmt = "\t".join(["%d", "%.6f"] + ["%.6f"] * (3 * n_markers))
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")
        np.savetxt(fh, body, fmt=fmt)
    return path


def read_trc(path: Path) -> MarkerData:
    """Read and check a .trc (any units OpenSim knows: m, mm, cm). Returns metres."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"TRC file {path} does not exist")
    lines = path.read_text().splitlines()
    if len(lines) < 5:
        raise InputError(f"{path}: a TRC file needs 5 header lines, found {len(lines)} lines")
    keys = lines[1].split("\t")
    keys = [k.strip() for k in keys if k.strip()]
    if keys != TRC_HEADER_KEYS:
        raise InputError(f"{path}, line 2: expected the 8 TRC header keys "
                         f"{' '.join(TRC_HEADER_KEYS)}, found {keys}")
    values = [v.strip() for v in lines[2].split("\t") if v.strip()]
    if len(values) != 8:
        raise InputError(f"{path}, line 3: expected 8 header values, found {len(values)}")
    header = dict(zip(TRC_HEADER_KEYS, values, strict=True))
    try:
        rate, n_frames, n_markers = (float(header["DataRate"]), int(header["NumFrames"]),
                                     int(header["NumMarkers"]))
    except ValueError as err:
        raise InputError(f"{path}, line 3: unreadable header value ({err})") from err
    scale = {"m": 1.0, "mm": 1e-3, "cm": 1e-2}.get(header["Units"].lower())
    if scale is None:
        raise InputError(f"{path}, line 3: unknown Units {header['Units']!r} (m, cm or mm)")
    names = [n.strip() for n in lines[3].split("\t")[2:] if n.strip()]
    if len(names) != n_markers:
        raise InputError(f"{path}: header says NumMarkers={n_markers} but line 4 names "
                         f"{len(names)} markers")
    data_lines = [(i + 1, ln) for i, ln in enumerate(lines[5:], start=5) if ln.strip()]
    if len(data_lines) != n_frames:
        raise InputError(f"{path}: header says NumFrames={n_frames} but the file has "
                         f"{len(data_lines)} data rows")
    if n_frames == 0:
        raise InputError(f"{path}: zero-length sequence (no frames)")
    out = np.full((n_frames, n_markers, 3), np.nan)
    time_s = np.zeros(n_frames)
    for row, (line_no, ln) in enumerate(data_lines):
        fields = ln.split("\t")
        if len(fields) > 2 + 3 * n_markers and not any(f.strip() for f in fields[2 + 3 * n_markers:]):
            fields = fields[: 2 + 3 * n_markers]
        if len(fields) != 2 + 3 * n_markers:
            raise InputError(f"{path}, line {line_no}: expected {2 + 3 * n_markers} columns "
                             f"(frame, time, 3 x {n_markers} markers), found {len(fields)}")
        try:
            time_s[row] = float(fields[1])
        except ValueError as err:
            raise InputError(f"{path}, line {line_no}, column 2: bad time {fields[1]!r}") from err
        for m in range(n_markers):
            for k in range(3):
                col = 2 + 3 * m + k
                text = fields[col].strip()
                try:
                    val = float(text) if text else math.nan
                except ValueError as err:
                    raise InputError(f"{path}, line {line_no}, column {col + 1}: marker "
                                     f"{names[m]} has a non-numeric value {text!r}") from err
                if not math.isfinite(val):
                    raise InputError(
                        f"{path}, line {line_no}, column {col + 1}: marker {names[m]} is "
                        f"missing or NaN at time {time_s[row]:.4f} s; fill the gap (or drop "
                        "the marker) before scaling and IK: NaN markers break OpenSim")
                out[row, m, k] = val * scale
    return MarkerData(time_s=time_s, names=names, positions=out, rate_hz=rate)


def write_mot(path: Path, time_s: np.ndarray, columns: list[str], values: np.ndarray,
              in_degrees: bool, name: str | None = None) -> Path:
    """Write an OpenSim .mot (values (T, C)); the header states inDegrees."""
    path = Path(path)
    values = np.asarray(values, dtype=float)
    header = [name or path.stem, "version=1", f"nRows={len(time_s)}",
              f"nColumns={values.shape[1] + 1}", f"inDegrees={'yes' if in_degrees else 'no'}",
              "endheader", "\t".join(["time", *columns])]
    with open(path, "w") as fh:
        fh.write("\n".join(header) + "\n")
        np.savetxt(fh, np.column_stack([time_s, values]), fmt="%.8f", delimiter="\t")
    return path


@dataclass
class Motion:
    """A .mot/.sto table: time_s (T,), columns (C), values (T, C) as written, in_degrees."""

    time_s: np.ndarray
    columns: list[str]
    values: np.ndarray
    in_degrees: bool


def read_mot(path: Path) -> Motion:
    """Read an OpenSim .mot/.sto (values as stored; see `in_degrees`)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"motion file {path} does not exist")
    lines = path.read_text().splitlines()
    try:
        end = next(i for i, ln in enumerate(lines) if ln.strip().lower() == "endheader")
    except StopIteration as err:
        raise InputError(f"{path}: no 'endheader' line; not an OpenSim .mot/.sto file") from err
    in_degrees = any(ln.strip().lower() == "indegrees=yes" for ln in lines[:end])
    columns = lines[end + 1].split("\t")
    data = np.loadtxt(path, skiprows=end + 2, ndmin=2)
    if data.shape[1] != len(columns):
        raise InputError(f"{path}: {len(columns)} column names but {data.shape[1]} values a row")
    return Motion(time_s=data[:, 0], columns=[c.strip() for c in columns[1:]],
                  values=data[:, 1:], in_degrees=in_degrees)
