"""Reading and writing OpenSim motion files (.mot/.sto) as SI arrays.

Inside musclekit every angle is in radians. OpenSim IK writes degrees and says so in its
header (`inDegrees=yes`), except for the `knee_angle_*_beta` columns of OpenCap-style models,
which hold radians even then (a known quirk): those are never converted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from musclekit.errors import InputError


@dataclass
class Motion:
    """Coordinate trajectories: time_s (T,), values (T, C) in rad (m for translations)."""

    time_s: np.ndarray
    names: list[str]
    values: np.ndarray

    def column(self, name: str) -> np.ndarray:
        return self.values[:, self.names.index(name)]

    def window(self, start_s: float, end_s: float) -> Motion:
        """Rows with start_s <= t <= end_s (within 1e-9 s)."""
        keep = (self.time_s >= start_s - 1e-9) & (self.time_s <= end_s + 1e-9)
        return Motion(self.time_s[keep].copy(), list(self.names), self.values[keep].copy())

    @property
    def rate_hz(self) -> float:
        return float(1.0 / np.median(np.diff(self.time_s)))


def _is_never_degrees(name: str) -> bool:
    return name.endswith("_beta")


def read_mot(path: str | Path, rotational: set[str] | None = None) -> Motion:
    """Read a .mot/.sto file into SI units.

    Args:
        path: the file.
        rotational: names of rotational coordinates (converted from degrees when the header
            says `inDegrees=yes`). When None, every column except names containing
            `_tx`, `_ty`, `_tz` (translations) and `_beta` columns is taken as rotational.

    Raises:
        InputError: missing file, no `endheader`, or rows of the wrong width / not numbers.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"kinematics file not found: {path}")
    lines = path.read_text().splitlines()
    in_degrees = False
    end = None
    for i, line in enumerate(lines):
        key = line.strip().lower()
        if key.startswith("indegrees"):
            in_degrees = key.split("=", 1)[1].strip() in ("yes", "true")
        if key == "endheader":
            end = i
            break
    if end is None:
        raise InputError(f"{path}: no 'endheader' line: not an OpenSim .mot/.sto file")
    names = lines[end + 1].split()
    if not names or names[0].lower() != "time":
        raise InputError(f"{path}, line {end + 2}: expected a header row starting with 'time'")
    rows = []
    for j, line in enumerate(lines[end + 2 :], start=end + 3):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != len(names):
            raise InputError(
                f"{path}, line {j}: {len(parts)} values but the header names {len(names)} columns"
            )
        try:
            rows.append([float(p) for p in parts])
        except ValueError as err:
            raise InputError(f"{path}, line {j}: not a number ({err})") from None
    if not rows:
        raise InputError(f"{path}: no data rows")
    data = np.asarray(rows)
    time_s, values, cols = data[:, 0], data[:, 1:], names[1:]
    if in_degrees:
        for c, name in enumerate(cols):
            if _is_never_degrees(name):
                continue
            if rotational is not None:
                is_rot = name in rotational
            else:
                is_rot = not any(name.endswith(s) for s in ("_tx", "_ty", "_tz"))
            if is_rot:
                values[:, c] = np.deg2rad(values[:, c])
    return Motion(time_s, cols, values)


def write_mot(path: str | Path, motion: Motion, name: str = "coordinates") -> Path:
    """Write a .mot file in radians (header `inDegrees=no`)."""
    path = Path(path)
    header = [
        name,
        "version=1",
        f"nRows={len(motion.time_s)}",
        f"nColumns={len(motion.names) + 1}",
        "inDegrees=no",
        "endheader",
        "\t".join(["time", *motion.names]),
    ]
    body = [
        "\t".join([f"{t:.8f}", *(f"{v:.10g}" for v in row)])
        for t, row in zip(motion.time_s, motion.values, strict=True)
    ]
    path.write_text("\n".join(header + body) + "\n")
    return path


def lowpass(motion: Motion, cutoff_hz: float, order: int = 4) -> Motion:
    """Zero-lag Butterworth low-pass of every column (as OpenCap filters its coordinates).

    Raises InputError when the cut-off is not between 0 and the motion's Nyquist frequency:
    the filtered motion is differentiated twice, so returning it unfiltered would turn
    marker noise into accelerations without a word."""
    from scipy.signal import butter, filtfilt

    nyquist = motion.rate_hz / 2
    if not 0 < cutoff_hz < nyquist * (1 - 1e-9):  # rates measured from float times
        raise InputError(
            f"low-pass cut-off {cutoff_hz:g} Hz must lie between 0 and the motion's Nyquist "
            f"frequency ({nyquist:g} Hz for {motion.rate_hz:g} Hz samples): choose a "
            f"--filter-hz below {nyquist:g} (OpenCap filters at 6 Hz)")
    b, a = butter(order, cutoff_hz / (motion.rate_hz / 2))
    padlen = min(3 * max(len(a), len(b)), len(motion.time_s) - 1)
    vals = filtfilt(b, a, motion.values, axis=0, padlen=padlen)
    return Motion(motion.time_s.copy(), list(motion.names), vals)


def finite_difference(motion: Motion) -> tuple[np.ndarray, np.ndarray]:
    """Speeds and accelerations (T, C) by central differences of a smooth motion."""
    qd = np.gradient(motion.values, motion.time_s, axis=0)
    qdd = np.gradient(qd, motion.time_s, axis=0)
    return qd, qdd


__all__ = ["Motion", "read_mot", "write_mot", "lowpass", "finite_difference"]
