"""OpenSim text files, the one place musclekit reads and writes them: marker trajectories
(.trc) and tables of numbers over time (.mot, .sto).

OpenSim's own adapters do the reading and the writing: `STOFileAdapter` for .mot/.sto (a
`TimeSeriesTable`), `TRCFileAdapter` for .trc (a `TimeSeriesTableVec3`). So whatever musclekit
writes, OpenSim's tools read as written, and musclekit reads a file as OpenSim reads it.
Where an adapter would do something silently wrong or say something cryptic, this module
checks first (or, when the adapter fails, reads the text again to find the culprit) and
raises an `InputError` that names the file, the line and the column:

- both adapters read a field as far as it looks like a number, without a word: "1,5" (a
  decimal comma) becomes 1, "abc" or an empty field NaN;
- both stop at the first blank line inside the data, dropping the rest of the file;
- `TRCFileAdapter` never checks NumFrames against the data, takes any Units, and never
  returns on a file with the header but no data rows;
- both refuse, with a message naming their own source file, rows of the wrong width, labels
  that do not fit, and times that do not increase.

Units, one rule. Inside musclekit every rotation is in radians and every translation in
metres. Every .mot/.sto musclekit writes is in those units and says so (`inDegrees=no`); every
.trc it writes is in metres. Files from elsewhere (OpenSim's IK writes degrees and says
`inDegrees=yes`; OpenCap's files do the same; TRC files often come in mm) are converted on
reading: `read_mot` turns the rotational columns to radians when the header says degrees,
`read_trc` scales any unit OpenSim knows (m, cm, mm) to metres.

OpenSim is imported inside the functions: importing this module stays cheap, and the
child processes that solve the optimisation problems (which must never load OpenSim) can
import modules that import this one.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from musclekit.errors import InputError

TRC_HEADER_KEYS = ["DataRate", "CameraRate", "NumFrames", "NumMarkers", "Units",
                   "OrigDataRate", "OrigDataStartFrame", "OrigNumFrames"]
TRC_UNITS_TO_M = {"m": 1.0, "cm": 1e-2, "mm": 1e-3}
TRANSLATION_SUFFIXES = ("_tx", "_ty", "_tz")
# OpenCap-style models couple the patella to the knee through `knee_angle_*_beta`; OpenSim
# leaves those columns in radians under `inDegrees=yes` (their motion type is Coupled, and
# OpenSim converts Rotational coordinates only), so they are never converted.
NEVER_DEGREES_SUFFIX = "_beta"


def _opensim():
    """OpenSim, imported on first use, with its console logging off (musclekit.pipelines.simulate.opensim.log)."""
    import opensim

    from musclekit.pipelines.simulate.opensim.log import quiet_console

    quiet_console()
    return opensim


def _adapter_message(err: Exception) -> str:
    """The readable part of an OpenSim exception (no SWIG prefix, no C++ source place)."""
    text = str(err).strip()
    if "': " in text and text.startswith("std::exception in"):
        text = text.split("': ", 1)[1]
    return " ".join(text.split("Thrown at")[0].split())


def _write_atomically(path: Path, write: Callable[[Path], None]) -> Path:
    """Write through `write(tmp)` into a temporary file beside `path`, then move it into
    place (os.replace: readers see the old file or the new one, never half of one)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _check_times(path: Path, time_s: np.ndarray, n_rows: int) -> None:
    if time_s.shape != (n_rows,):
        raise InputError(f"refusing to write {path}: {time_s.shape[0] if time_s.ndim else 0} "
                         f"times for {n_rows} rows")
    if not np.isfinite(time_s).all():
        raise InputError(f"refusing to write {path}: times contain NaN/inf")
    steps = np.diff(time_s)
    if np.any(steps <= 0):
        k = int(np.flatnonzero(steps <= 0)[0])
        raise InputError(f"refusing to write {path}: time {time_s[k + 1]!r} (row {k + 2}) is "
                         f"not after {time_s[k]!r} (row {k + 1}); OpenSim needs strictly "
                         "increasing times")


def _check_names(path: Path, names: list[str], what: str) -> None:
    for n in names:
        if not isinstance(n, str) or not n.strip() or any(c in n for c in "\t\r\n"):
            raise InputError(f"refusing to write {path}: {what} name {n!r} is empty or holds "
                             "a tab or line break")


def _labels(opensim, names):
    labels = opensim.StdVectorString()
    for n in names:
        labels.append(n)
    return labels


# --------------------------------------------------------------------------------------
# .mot / .sto


@dataclass
class Motion:
    """A .mot/.sto table in SI units: time_s (T,), names (C, no 'time'), values (T, C);
    for coordinates, rad for rotations and m for translations."""

    time_s: np.ndarray
    names: list[str]
    values: np.ndarray

    def column(self, name: str) -> np.ndarray:
        try:
            return self.values[:, self.names.index(name)]
        except ValueError:
            raise ValueError(f"no column {name!r} in this motion (columns: "
                             f"{', '.join(self.names[:8])}{', ...' if len(self.names) > 8 else ''})"
                             ) from None

    def window(self, start_s: float, end_s: float) -> Motion:
        """Rows with start_s <= t <= end_s (within 1e-9 s), as copies."""
        keep = (self.time_s >= start_s - 1e-9) & (self.time_s <= end_s + 1e-9)
        return Motion(self.time_s[keep].copy(), list(self.names), self.values[keep].copy())

    @property
    def rate_hz(self) -> float:
        """1 / the median time step (NaN with fewer than two rows)."""
        if len(self.time_s) < 2:
            return float("nan")
        return float(1.0 / np.median(np.diff(self.time_s)))


def _is_rotational(name: str, rotational: set[str] | None) -> bool:
    if name.endswith(NEVER_DEGREES_SUFFIX):
        return False
    if rotational is not None:
        return name in rotational
    return not name.endswith(TRANSLATION_SUFFIXES)


def _fields(line: str) -> list[str]:
    """Tab-separated fields, stripped, without the empty ones a trailing tab leaves."""
    parts = [p.strip() for p in line.split("\t")]
    while parts and not parts[-1]:
        parts.pop()
    return parts


def _is_number(text: str) -> bool:
    if "_" in text:
        return False
    try:
        float(text)
    except ValueError:
        return False
    return True


def _all_numbers(lines: list[str], rows: list[int]) -> bool:
    """Whether every whitespace-separated field of these lines is a number.

    Done with numpy on every read, because the adapters cannot be trusted with it: they
    parse a field as far as it looks like a number and drop the rest without a word ("1,5"
    -> 1, a decimal comma; "abc" -> NaN)."""
    block = "\n".join(lines[i] for i in rows)
    if "_" in block:  # float("1_5") == 15.0, where OpenSim reads 1
        return False
    try:
        np.array(block.split(), dtype=float)
    except ValueError:
        return False
    return True


def _mot_layout(path: Path, lines: list[str]) -> tuple[int, list[str], list[int]]:
    """Index of the column-name line, the names (with 'time') and the 0-based indices of
    the data lines; checks what OpenSim's STOFileAdapter would trip over or read wrongly
    without looking at every number (cheap: done on every read)."""
    end = next((i for i, ln in enumerate(lines) if ln.strip().lower() == "endheader"), None)
    if end is None:
        raise InputError(f"{path}: no 'endheader' line: not an OpenSim .mot/.sto file (the "
                         "header must end with a line 'endheader', then the column names)")
    label_at = end + 1
    if label_at >= len(lines) or not lines[label_at].strip():
        raise InputError(f"{path}, line {label_at + 1}: expected the column names right after "
                         "'endheader' (tab-separated, starting with 'time')")
    names = _fields(lines[label_at])
    if names[0] != "time":
        hint = (" (the names must be separated by tabs)" if len(names) == 1
                and len(names[0].split()) > 1 else "")
        raise InputError(f"{path}, line {label_at + 1}: expected a header row starting with "
                         f"'time' (as OpenSim needs), found {names[0]!r}{hint}")
    data = [i for i in range(label_at + 1, len(lines)) if lines[i].strip()]
    if not data:
        raise InputError(f"{path}: no data rows after the column names (line {label_at + 1})")
    if data[-1] - data[0] + 1 != len(data):
        gap = next(i for i in range(data[0], data[-1]) if not lines[i].strip())
        raise InputError(f"{path}, line {gap + 1}: blank line inside the data; OpenSim stops "
                         "reading there and would drop every row after it: remove it")
    return label_at, names, data


def _diagnose_mot(path: Path, lines: list[str], names: list[str], data: list[int]) -> None:
    """Find the first row OpenSim cannot (or should not) read; raise its InputError."""
    prev = None
    for i in data:
        parts = _fields(lines[i])
        if len(parts) != len(names):
            raise InputError(f"{path}, line {i + 1}: {len(parts)} values but the header names "
                             f"{len(names)} columns")
        for k, text in enumerate(parts):
            if not _is_number(text):
                raise InputError(f"{path}, line {i + 1}, column {k + 1} ({names[k]}): not a "
                                 f"number ({text!r})")
        t = float(parts[0])
        if prev is not None and not t > prev:
            raise InputError(f"{path}, line {i + 1}: time {parts[0]} is not after the previous "
                             "row's; OpenSim needs strictly increasing times")
        prev = t


def read_mot(path: str | Path, rotational: set[str] | None = None) -> Motion:
    """Read a .mot/.sto file into SI units, through OpenSim's STOFileAdapter.

    Args:
        path: the file (.mot or .sto).
        rotational: names of the rotational columns, converted from degrees to radians
            when the header says `inDegrees=yes` (for OpenSim IK output, pass
            `rotational_coordinates(model)`: the coordinates OpenSim itself wrote in
            degrees). None: every column except names ending in _tx/_ty/_tz. Columns ending
            in `_beta` are never converted (OpenCap's patella coupler, radians under
            `inDegrees=yes`). Pass `set()` for tables that are not coordinates
            (activations, forces, marker errors).

    Raises:
        InputError: missing file, no `endheader`, column names not starting with `time`,
            blank lines inside the data, rows of the wrong width, not numbers, times that
            do not increase, no data rows; each with its line.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"motion file not found: {path} (a .mot/.sto file is expected)")
    if path.suffix.lower() not in (".mot", ".sto"):
        raise InputError(f"{path}: expected a .mot or .sto file (OpenSim picks its reader by "
                         "the extension); rename it if it is one")
    lines = path.read_text(errors="replace").splitlines()
    _, names, data = _mot_layout(path, lines)
    if not _all_numbers(lines, data):  # a written "nan" passes, and stays NaN
        _diagnose_mot(path, lines, names, data)
    osim = _opensim()
    try:
        table = osim.TimeSeriesTable(str(path))
    except RuntimeError as err:
        _diagnose_mot(path, lines, names, data)
        raise InputError(f"{path}: OpenSim cannot read it: {_adapter_message(err)}") from None
    values = np.array(table.getMatrix().to_numpy(), dtype=float, copy=True).reshape(
        table.getNumRows(), table.getNumColumns())
    time_s = np.asarray(table.getIndependentColumn(), dtype=float)
    labels = list(table.getColumnLabels())
    if len(time_s) != len(data) or labels != names[1:]:
        _diagnose_mot(path, lines, names, data)
        raise InputError(f"{path}: OpenSim read {len(time_s)} rows of {len(labels)} columns "
                         f"where the text has {len(data)} rows of {len(names) - 1}")
    in_degrees = (table.hasTableMetaDataKey("inDegrees")
                  and table.getTableMetaDataAsString("inDegrees").strip().lower()
                  in ("yes", "true"))
    if in_degrees:
        for c, name in enumerate(labels):
            if _is_rotational(name, rotational):
                values[:, c] = np.deg2rad(values[:, c])
    return Motion(time_s, labels, values)


def write_mot(path: str | Path, motion: Motion, name: str | None = None) -> Path:
    """Write `motion` (SI: rad, m) as an OpenSim .mot/.sto with `inDegrees=no`, through
    OpenSim's STOFileAdapter (16 significant digits), atomically.

    name: the table's name, the file's first line (default: the file name without suffix).
    """
    path = Path(path)
    values = np.asarray(motion.values, dtype=float)
    time_s = np.asarray(motion.time_s, dtype=float)
    names = list(motion.names)
    if values.ndim != 2 or values.shape[1] != len(names):
        raise InputError(f"refusing to write {path}: values of shape {values.shape} for "
                         f"{len(names)} column names")
    if values.shape[0] == 0:
        raise InputError(f"refusing to write {path}: no rows")
    _check_times(path, time_s, values.shape[0])
    _check_names(path, names, "column")
    if "time" in names:
        raise InputError(f"refusing to write {path}: 'time' is the time column's name; no "
                         "other column may take it")
    osim = _opensim()
    times = osim.StdVectorDouble(time_s.tolist())
    table = osim.TimeSeriesTable(times, osim.Matrix.createFromMat(values), _labels(osim, names))
    table.addTableMetaDataString("header", name or path.stem)
    table.addTableMetaDataString("inDegrees", "no")
    return _write_atomically(path, lambda tmp: osim.STOFileAdapter.write(table, str(tmp)))


def rotational_coordinates(model) -> set[str]:
    """Names of the model's coordinates whose OpenSim motion type is Rotational: exactly
    those OpenSim's tools write in degrees under `inDegrees=yes` (Coupled coordinates, such
    as a patella's `knee_angle_r_beta`, stay in radians there).

    model: an `opensim.Model`, or the path of an .osim file.
    """
    osim = _opensim()
    if isinstance(model, str | Path):
        from musclekit.pipelines.simulate.opensim.model import load_model

        model = load_model(Path(model))
    cs = model.getCoordinateSet()
    return {cs.get(i).getName() for i in range(cs.getSize())
            if cs.get(i).getMotionType() == osim.Coordinate.Rotational}


# --------------------------------------------------------------------------------------
# .trc


@dataclass
class MarkerData:
    """Marker trajectories: time_s (T,), positions (T, M, 3) in metres, marker names (M).
    notes: what reading the file corrected and the user should hear (a header's NumFrames
    that did not match its rows, times rounded in the file put back on the header's rate)."""

    time_s: np.ndarray
    names: list[str]
    positions: np.ndarray
    rate_hz: float
    notes: list[str] = field(default_factory=list)


def write_trc(path: str | Path, time_s: np.ndarray, names: list[str],
              positions: np.ndarray, *, allow_missing: bool = False,
              rate_hz: float | None = None) -> Path:
    """Write a .trc in metres through OpenSim's TRCFileAdapter (16 significant digits),
    atomically.

    positions (T, M, 3) must be finite (NaN breaks OpenSim's ScaleTool), unless
    `allow_missing`: then NaN is written as `nan`, which OpenSim's inverse kinematics reads as
    "this marker is not seen in this frame" and leaves out of that frame (the way musclekit
    leaves a marker out for the stretch of a long gap).
    rate_hz: the header's DataRate (default: 1 / the median time step)."""
    path = Path(path)
    positions = np.asarray(positions, dtype=float)
    time_s = np.asarray(time_s, dtype=float)
    names = list(names)
    if positions.ndim != 3 or positions.shape[2] != 3 or positions.shape[1] != len(names):
        raise InputError(f"refusing to write {path}: positions of shape {positions.shape} "
                         f"for {len(names)} marker names (expected (frames, markers, 3))")
    n_frames, n_markers, _ = positions.shape
    if n_frames == 0:
        raise InputError(f"refusing to write {path}: zero-length sequence (no frames)")
    if np.isinf(positions).any() or (not allow_missing and np.isnan(positions).any()):
        raise InputError(f"refusing to write {path}: marker positions contain NaN/inf")
    _check_times(path, time_s, n_frames)
    _check_names(path, names, "marker")
    if rate_hz is not None:
        rate = float(rate_hz)
    else:
        rate = 1.0 / float(np.median(np.diff(time_s))) if n_frames > 1 else 1.0
    osim = _opensim()
    times = osim.StdVectorDouble(time_s.tolist())
    # OpenSim's packVec3 turns columns <label>_x/_y/_z into one Vec3 column (built row by row
    # through the bindings instead, a table takes ~100x longer). It guesses the suffixes by
    # comparing marker groups and fails on a single one, whatever suffixes it is given: so
    # one padding marker goes in, and out again after packing; the names are set last.
    xyz = np.concatenate([positions.reshape(n_frames, -1), np.zeros((n_frames, 3))], axis=1)
    flat_labels = [f"m{j}{s}" for j in range(n_markers + 1) for s in ("_x", "_y", "_z")]
    flat = osim.TimeSeriesTable(times, osim.Matrix.createFromMat(xyz), _labels(osim, flat_labels))
    table = flat.packVec3()
    table.removeColumnAtIndex(n_markers)
    table.setColumnLabels(_labels(osim, names))
    meta = {"DataRate": f"{rate:.10g}", "CameraRate": f"{rate:.10g}", "NumFrames": str(n_frames),
            "NumMarkers": str(n_markers), "Units": "m", "OrigDataRate": f"{rate:.10g}",
            "OrigDataStartFrame": "1", "OrigNumFrames": str(n_frames)}
    for key in TRC_HEADER_KEYS:
        table.addTableMetaDataString(key, meta[key])

    def write(tmp: Path) -> None:
        osim.TRCFileAdapter.write(table, str(tmp))
        # The adapter puts the path it writes to (here the temporary one) on line 1; the
        # file's own name goes there, as TRC files have it.
        with open(tmp, "rb") as fh:
            fh.readline()
            rest = fh.read()
        tmp.write_bytes(f"PathFileType\t4\t(X/Y/Z)\t{path.name}\n".encode() + rest)

    return _write_atomically(path, write)


def _trc_columns_message(path: Path, line_no: int, n_markers: int, found: int) -> str:
    return (f"{path}, line {line_no}: expected {2 + 3 * n_markers} columns (frame, time, "
            f"3 x {n_markers} markers), found {found}")


def _trc_fields(line: str, n_markers: int) -> list[str]:
    fields = line.split("\t")
    width = 2 + 3 * n_markers
    if len(fields) > width and not any(f.strip() for f in fields[width:]):
        fields = fields[:width]  # trailing tabs (OpenSim's own writer leaves one)
    return fields


def _diagnose_trc(path: Path, lines: list[str], names: list[str], data: list[int],
                  check_width: bool = True) -> None:
    """Find the first TRC field OpenSim cannot (or should not) read; raise its InputError."""
    n_markers = len(names)
    prev = None
    for i in data:
        fields = _trc_fields(lines[i], n_markers)
        if len(fields) != 2 + 3 * n_markers:
            if check_width:
                raise InputError(_trc_columns_message(path, i + 1, n_markers, len(fields)))
            continue
        t_text = fields[1].strip()
        if not _is_number(t_text) or not math.isfinite(float(t_text)):
            raise InputError(f"{path}, line {i + 1}, column 2: bad time {fields[1]!r}")
        t = float(t_text)
        for m in range(n_markers):
            for k in range(3):
                col = 2 + 3 * m + k
                text = fields[col].strip()
                if text and not _is_number(text):
                    raise InputError(f"{path}, line {i + 1}, column {col + 1}: marker "
                                     f"{names[m]} has a non-numeric value {text!r}")
                if not text or not math.isfinite(float(text)):
                    raise InputError(
                        f"{path}, line {i + 1}, column {col + 1}: marker {names[m]} is "
                        f"missing or NaN at time {t:.4f} s; fill the gap (or drop "
                        "the marker) before scaling and IK: NaN markers break OpenSim")
        if prev is not None and not t > prev:
            raise InputError(f"{path}, line {i + 1}: time {t_text} is not after the previous "
                             "frame's; OpenSim needs strictly increasing times")
        prev = t


def read_trc(path: str | Path, *, allow_missing: bool = False) -> MarkerData:
    """Read and check a .trc through OpenSim's TRCFileAdapter (any Units OpenSim knows:
    m, cm, mm). Returns metres.

    What OpenSim reads, musclekit reads, with a note in `MarkerData.notes`:
    - a header whose NumFrames (or OrigNumFrames) does not match the data rows: OpenSim
      reads the rows, so does musclekit;
    - times written with fewer digits than the rate needs (a 60 Hz trial's 0.017, 0.033 ...):
      when every time lies within a tenth of a frame of `first + k / DataRate`, the times are
      put back on that grid, so that the rate stays the header's (not 58.82 Hz) and files
      musclekit rewrites keep it.
    allow_missing: empty or NaN marker fields (gaps) are read as NaN instead of refused.

    Raises:
        InputError: missing file, header keys or values that are not TRC's, unknown Units,
            NumMarkers that does not match the data, no frames, blank lines inside the
            data, rows of the wrong width, missing/NaN (unless `allow_missing`) or
            non-numeric values, times that do not increase; each with its line (and column).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"TRC file {path} does not exist")
    if path.suffix.lower() != ".trc":
        raise InputError(f"{path}: expected a .trc file (OpenSim picks its reader by the "
                         "extension); rename it if it is one")
    lines = path.read_text(errors="replace").splitlines()
    if len(lines) < 5:
        raise InputError(f"{path}: a TRC file needs 5 header lines, found {len(lines)} lines")
    keys = [k.strip() for k in lines[1].split("\t") if k.strip()]
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
    scale = TRC_UNITS_TO_M.get(header["Units"].lower())
    if scale is None:
        raise InputError(f"{path}, line 3: unknown Units {header['Units']!r} (m, cm or mm)")
    names = [n.strip() for n in lines[3].split("\t")[2:] if n.strip()]
    if len(names) != n_markers:
        raise InputError(f"{path}: header says NumMarkers={n_markers} but line 4 names "
                         f"{len(names)} markers")
    data = [i for i in range(5, len(lines)) if lines[i].strip()]
    notes: list[str] = []
    if len(data) != n_frames:
        notes.append(f"{path.name}: header says NumFrames={n_frames} but the file has "
                     f"{len(data)} data rows; the rows are read (as OpenSim does)")
        n_frames = len(data)
    if n_frames == 0:  # checked here: OpenSim's TRCFileAdapter never returns on such a file
        raise InputError(f"{path}: zero-length sequence (no frames)")
    if data[-1] - data[0] + 1 != len(data):
        gap = next(i for i in range(data[0], data[-1]) if not lines[i].strip())
        raise InputError(f"{path}, line {gap + 1}: blank line inside the data; OpenSim stops "
                         "reading there and would drop every frame after it: remove it")
    if not _all_numbers(lines, data):
        _diagnose_trc(path, lines, names, data)
    osim = _opensim()
    try:
        table = osim.TimeSeriesTableVec3(str(path))
    except RuntimeError as err:
        _diagnose_trc(path, lines, names, data)
        raise InputError(f"{path}: OpenSim cannot read it: {_adapter_message(err)}") from None
    flat = table.flatten()  # keep `flat` alive while its matrix view is in use
    xyz = np.array(flat.getMatrix().to_numpy(), dtype=float, copy=True)
    time_s = np.asarray(table.getIndependentColumn(), dtype=float)
    if xyz.shape != (n_frames, 3 * n_markers):
        raise InputError(f"{path}: OpenSim read {xyz.shape[0]} frames of "
                         f"{xyz.shape[1] // 3} markers where the header says {n_frames} of "
                         f"{n_markers}")
    if np.isnan(time_s).any() or (not allow_missing and np.isnan(xyz).any()):
        # The adapter reads an empty field as NaN, as a written NaN: say which and where.
        rows = np.unique(np.concatenate([np.nonzero(np.isnan(xyz))[0] if not allow_missing
                                         else np.array([], int),
                                         np.flatnonzero(np.isnan(time_s))]))
        _diagnose_trc(path, lines, names, [data[r] for r in rows], check_width=False)
    positions = xyz.reshape(n_frames, n_markers, 3) * scale
    time_s, note = _times_on_rate(time_s, rate)
    if note:
        notes.append(f"{path.name}: {note}")
    return MarkerData(time_s=time_s, names=list(table.getColumnLabels()), positions=positions,
                      rate_hz=rate, notes=notes)


def _times_on_rate(time_s: np.ndarray, rate_hz: float) -> tuple[np.ndarray, str | None]:
    """`first + k / rate_hz` when every time lies within a tenth of a frame of it (times
    rounded in the file), else the times as they are; with a note when they changed by more
    than rounding in the last of 9 digits."""
    if len(time_s) < 2 or not (np.isfinite(rate_hz) and rate_hz > 0):
        return time_s, None
    grid = time_s[0] + np.arange(len(time_s)) / rate_hz
    off = float(np.max(np.abs(time_s - grid)))
    if off > 0.1 / rate_hz:
        return time_s, None
    if off <= 1e-9:
        return grid, None
    return grid, (f"times are rounded in the file (up to {1000 * off:.3g} ms off the "
                  f"header's DataRate {rate_hz:g} Hz); put back on that rate")


__all__ = ["Motion", "MarkerData", "read_mot", "write_mot", "rotational_coordinates",
           "read_trc", "write_trc", "TRC_HEADER_KEYS"]
