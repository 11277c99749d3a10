"""Lab motion capture in: one C3D file (markers, force plates, analog EMG) read with `ezc3d`.

What comes out of `read_c3d` (a `C3dTrial`), all in SI units and on the file's own clock:

- markers: `MarkerData` in metres, converted from POINT:UNITS (mm, cm, m). Points that the
  file marks as missing (residual < 0, which ezc3d turns into NaN) stay NaN: the caller
  decides (`write_opensim_files` fills short gaps and refuses long ones). Empty labels and
  the model outputs some systems store as points (labels listed in POINT:ANGLES, FORCES,
  MOMENTS, POWERS, SCALARS, REACTIONS: joint angles in degrees, not positions) are dropped.
- plates: one `PlateData` per FORCE_PLATFORM:USED plate, at the analog rate, computed by
  ezc3d's own force-platform module (types 2 and 4; type 4 applies CAL_MATRIX). The plate
  channels measure the load the subject puts ON the plate; musclekit stores the ground
  reaction ON the subject (the negated force and free moment; the centre of pressure is the
  same point), as OpenSim's ExternalLoads and musclekit's per-foot channels expect. Frames
  whose force along the plate's normal is below `load_threshold_n` are "unloaded": their
  centre of pressure is NaN (it is noise divided by noise there).
- analogs: every analog channel that no plate uses (EMG, triggers, ...), at the analog rate,
  volts converted to V (mV, uV -> V); units the module does not know are kept as written.
- first_time_s: the header's first frame / point rate, so that times stay on the file's clock
  (what the lab's other files, video, EMG, refer to).
- vertical_axis: the file's "up" as a signed axis ("+z" ...), with the rule that decided it
  in `vertical_reason` (see `_guess_vertical`).

`to_opensim_frame` turns the trial so that +Y is up (OpenSim's convention), keeping the frame
right-handed; `write_opensim_files` writes markers.trc and, with plates, grf.mot (one set of
columns per numbered plate); `assign_plates_to_feet` turns numbered plates into the per-foot
columns (`ground_force_r_vx` ...) that `dynamics.kernel.external_loads.read_measured_grf`
reads.

Units of the plate computation: ezc3d computes moments in (force unit) x (POINT:UNITS), i.e.
N mm for a file in mm. A type-2 plate whose moment channels say otherwise in ANALOG:UNITS
(N m in a file whose points are in mm) would be mixed up inside ezc3d: it is refused with a
message rather than converted wrongly. FORCE_PLATFORM:ZERO (a baseline range) is not applied:
lab software writes plates already zeroed.

One process, two SWIG bindings: ezc3d and OpenSim both wrap std::vector, and once one of them
has built such a vector the other's constructors refuse theirs ("Wrong number or type of
arguments"). Reading a C3D builds none, so this module and OpenSim's writers share a process;
code that WRITES C3D files with ezc3d must do it in another process than OpenSim's writers
(tests/test_simulate_c3d.py writes its files in a child process for that reason).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from musclekit.errors import InputError, MissingDependencyError
from musclekit.pipelines.simulate.opensim.files import MarkerData, Motion, write_mot, write_trc

# Types ezc3d computes and musclekit has tested: 2 (six channels Fx Fy Fz Mx My Mz, e.g.
# AMTI, Bertec) and 4 (the same six through a 6x6 calibration matrix, e.g. Motion Analysis).
SUPPORTED_PLATE_TYPES = (2, 4)
LENGTH_TO_M = {"m": 1.0, "cm": 1e-2, "mm": 1e-3}
VOLTS_TO_V = {"v": 1.0, "mv": 1e-3, "uv": 1e-6, "µv": 1e-6, "μv": 1e-6, "microv": 1e-6,
              "microvolt": 1e-6, "millivolt": 1e-3, "volt": 1.0, "kv": 1e3}
# POINT parameters whose labels are model outputs stored as points, not marker positions.
NON_MARKER_GROUPS = ("ANGLES", "FORCES", "MOMENTS", "POWERS", "SCALARS", "REACTIONS")
DEFAULT_LOAD_THRESHOLD_N = 20.0
DEFAULT_MAX_GAP_S = 0.1
AXES = "xyz"


@dataclass
class PlateData:
    """One force plate in the lab (global) frame of its trial, at the analog rate.

    number: the plate's number in the file (1-based, FORCE_PLATFORM order); type: its
    FORCE_PLATFORM:TYPE. force (T,3) N: the ground reaction on the subject; cop (T,3) m:
    centre of pressure on the plate's surface (NaN where unloaded); free_moment (T,3) N m: the
    free moment on the subject about the plate's normal, at the COP; corners (4,3) m in
    FORCE_PLATFORM:CORNERS order; loaded (T,) bool; channels: the analog labels it uses.
    """

    number: int
    type: int
    time_s: np.ndarray
    force: np.ndarray
    cop: np.ndarray
    free_moment: np.ndarray
    corners: np.ndarray
    loaded: np.ndarray
    channels: list[str]

    @property
    def centre(self) -> np.ndarray:
        """The centre of the plate's surface (mean of its corners), m."""
        return self.corners.mean(axis=0)


@dataclass
class C3dTrial:
    """What one C3D file holds (module docstring). analogs: label -> (time_s (T,), values
    (T,), unit), values in SI where the unit is a voltage. rotation: the 3x3 matrix applied
    to the file's lab frame so far (identity as read; `to_opensim_frame` sets it)."""

    path: Path
    markers: MarkerData
    plates: list[PlateData]
    analogs: dict[str, tuple[np.ndarray, np.ndarray, str]]
    analog_rate_hz: float
    first_time_s: float
    vertical_axis: str
    vertical_reason: str
    rotation: np.ndarray = field(default_factory=lambda: np.eye(3))
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------
# reading


def _ezc3d():
    try:
        import ezc3d
    except ImportError as err:  # pragma: no cover - a dependency of musclekit
        raise MissingDependencyError(
            f"reading C3D files needs the `ezc3d` package ({err}); pip install ezc3d") from None
    return ezc3d


def _param(params, group: str, name: str, default=None):
    """A parameter's value, or `default` when the group or the parameter is absent."""
    if group not in params or name not in params[group]:
        return default
    return params[group][name]["value"]


def _strings(params, group: str, name: str) -> list[str]:
    """A CHAR parameter with its continuation parameters (LABELS, LABELS2, LABELS3 ...: C3D
    keeps at most 255 entries per parameter), stripped."""
    out: list[str] = []
    for i, key in enumerate([name] + [f"{name}{k}" for k in range(2, 100)]):
        value = _param(params, group, key)
        if value is None:
            if i > 0:
                break
            continue
        out.extend(str(v).strip() for v in (value if isinstance(value, list) else [value]))
    return out


def _first_int(params, group: str, name: str, default: int = 0) -> int:
    value = _param(params, group, name)
    arr = np.asarray(value if value is not None else [], dtype=float).ravel()
    return int(arr[0]) if arr.size else default


def _check_c3d_file(path: Path) -> None:
    """Missing file and not-a-C3D, said before ezc3d says something cryptic: a C3D's first
    block holds the parameter block's number in byte 1 and the key 0x50 in byte 2."""
    if not path.is_file():
        raise InputError(f"C3D file not found: {path}")
    with open(path, "rb") as fh:
        head = fh.read(512)
    if len(head) < 512 or head[1] != 0x50:
        what = (f"{len(head)} bytes, shorter than a C3D header (512)" if len(head) < 512
                else f"its second byte is {head[1]}, a C3D's is 80 (0x50)")
        raise InputError(f"{path}: not a C3D file ({what}); give a .c3d written by the capture "
                         "software")


def _length_scale(unit: str, path: Path, what: str) -> float:
    key = unit.strip().lower()
    if key not in LENGTH_TO_M:
        raise InputError(
            f"{path}: cannot interpret {what} {unit!r} (musclekit reads mm, cm and m); "
            "pass point_units='mm' (or cm, m) if you know the file's unit")
    return LENGTH_TO_M[key]


def _moment_length_unit(unit: str) -> str | None:
    """The length part of a moment unit ('Nmm', 'N.mm', 'N*m', 'N m' -> 'mm'/'m'), None when
    the unit is not a N-based moment unit this module recognises (then ezc3d is trusted)."""
    m = re.fullmatch(r"n\s*[.*·\s]?\s*(mm|cm|m)", unit.strip().lower())
    return m.group(1) if m else None


def _read_markers(c, path: Path, point_units: str | None, first_frame: int) -> MarkerData:
    params = c["parameters"]
    labels = _strings(params, "POINT", "LABELS")
    points = np.asarray(c["data"]["points"], dtype=float)  # (4, M, T)
    rate = float(c["header"]["points"]["frame_rate"])
    n_points = points.shape[1] if points.ndim == 3 else 0
    if n_points == 0 or rate <= 0:
        raise InputError(f"{path}: has no markers (POINT:USED = {_first_int(params, 'POINT', 'USED')}); "
                         "musclekit needs the marker trajectories of the trial")
    units = point_units or next(iter(_strings(params, "POINT", "UNITS")), "")
    scale = _length_scale(units, path, "POINT:UNITS")
    outputs = {lab for g in NON_MARKER_GROUPS for lab in _strings(params, "POINT", g)}
    keep = [j for j in range(n_points)
            if j < len(labels) and labels[j] and labels[j] not in outputs]
    if not keep:
        raise InputError(f"{path}: has no markers (its {n_points} points are unnamed or model "
                         "outputs such as joint angles)")
    xyz = points[:3, keep, :].transpose(2, 1, 0) * scale  # (T, M, 3)
    residuals = np.asarray(c["data"]["meta_points"]["residuals"], dtype=float)
    if residuals.ndim == 3 and residuals.shape[1] == n_points:
        # C3D marks a missing point with a negative residual; ezc3d already gives NaN for
        # those, this keeps it so whatever the writer put in the coordinates.
        xyz[residuals[0, keep, :].T < 0] = np.nan
    n = xyz.shape[0]
    time_s = (first_frame + np.arange(n)) / rate
    return MarkerData(time_s=time_s, names=[labels[j] for j in keep], positions=xyz, rate_hz=rate)


def _plate_channels(params, n_plates: int) -> list[list[int]]:
    """0-based analog indices of each plate (FORCE_PLATFORM:CHANNEL is (channels, plates),
    1-based)."""
    ch = np.asarray(_param(params, "FORCE_PLATFORM", "CHANNEL", []), dtype=int)
    if ch.ndim == 1:
        ch = ch.reshape(-1, 1)
    return [[int(v) - 1 for v in ch[:, k] if v > 0] for k in range(min(n_plates, ch.shape[1]))]


def _read_plates(path: Path, params, analog_labels: list[str], analog_units: list[str],
                 first_time_s: float, analog_rate: float, pos_scale: float,
                 threshold_n: float) -> list[PlateData]:
    """The plates through ezc3d's force-platform module (module docstring)."""
    n_plates = _first_int(params, "FORCE_PLATFORM", "USED")
    types = np.asarray(_param(params, "FORCE_PLATFORM", "TYPE", []), dtype=int).ravel()
    if types.size < n_plates:
        raise InputError(f"{path}: FORCE_PLATFORM:USED is {n_plates} but FORCE_PLATFORM:TYPE "
                         f"has {types.size} entries; the file's plate description is incomplete")
    for k in range(n_plates):
        if types[k] not in SUPPORTED_PLATE_TYPES:
            raise InputError(
                f"{path}: force plate {k + 1} is of FORCE_PLATFORM:TYPE {types[k]}, which "
                f"musclekit does not read (it reads types {', '.join(map(str, SUPPORTED_PLATE_TYPES))}); "
                "export the plates as type 2 from the capture software, or give their forces "
                "as a .mot with --grf")
    channels = _plate_channels(params, n_plates)
    for k in range(n_plates):
        if k >= len(channels) or len(channels[k]) < 6:
            raise InputError(f"{path}: FORCE_PLATFORM:CHANNEL does not name the 6 analog channels "
                             f"of force plate {k + 1}")
        if types[k] == 2:
            # ezc3d assumes moments in force unit x POINT:UNITS; a plate that says otherwise
            # would be silently mixed (see the module docstring).
            for j in channels[k][3:6]:
                unit = analog_units[j] if j < len(analog_units) else ""
                length = _moment_length_unit(unit)
                if length is not None and LENGTH_TO_M[length] != pos_scale:
                    raise InputError(
                        f"{path}: force plate {k + 1}'s moment channel {analog_labels[j]!r} is in "
                        f"{unit!r} while the points are in {pos_scale:g} m units; musclekit "
                        "(through ezc3d) needs the moments in N times the point unit: export the "
                        "file with consistent units")
    ezc3d = _ezc3d()
    try:
        c = ezc3d.c3d(str(path), extract_forceplat_data=True)
    except (RuntimeError, ValueError, IndexError, TypeError) as err:
        raise InputError(f"{path}: ezc3d cannot compute its force plates ({err}); give the "
                         "plates' forces as a .mot with --grf instead") from None
    unit_force = None
    plates = []
    for k, pf in enumerate(c["data"]["platform"]):
        unit_force = str(pf["unit_force"]).strip()
        if unit_force.lower() != "n":
            raise InputError(f"{path}: force plate {k + 1} reports forces in {unit_force!r}; "
                             "musclekit reads plates in N")
        # Stored as in the file's corners' order, (4, 3) in metres.
        corners = np.asarray(pf["corners"], dtype=float).T * pos_scale
        action = np.asarray(pf["force"], dtype=float).T  # load on the plate, N
        cop = np.asarray(pf["center_of_pressure"], dtype=float).T * pos_scale
        tz = np.asarray(pf["Tz"], dtype=float).T * pos_scale  # N (pos unit) -> N m
        normal = np.cross(corners[0] - corners[1], corners[0] - corners[3])
        normal /= np.linalg.norm(normal)
        loaded = np.abs(action @ normal) > threshold_n
        cop[~loaded] = np.nan
        force = -action
        free = -tz
        force[~loaded] = 0.0
        free[~loaded] = 0.0
        n = force.shape[0]
        plates.append(PlateData(
            number=k + 1, type=int(types[k]), time_s=first_time_s + np.arange(n) / analog_rate,
            force=force, cop=cop, free_moment=free, corners=corners, loaded=loaded,
            channels=[analog_labels[j] for j in channels[k] if j < len(analog_labels)]))
    return plates


def _guess_vertical(params, markers: MarkerData, plates: list[PlateData]) -> tuple[str, str]:
    """The file's up direction, signed ('+z'), and why. Rules, first that applies:

    1. plates with loaded frames: the axis along which the ground reaction is largest on
       average (|F| over loaded frames of all plates: body weight dominates shear). Its sign:
       the side of the plates' surface where the markers are (the subject stands on the
       plates), or, without markers, the side the reaction points to;
    2. POINT:Y_SCREEN ('+Z' ...), the axis the capture software draws upwards;
    3. markers: the axis of largest spread between the markers of one frame (median over
       frames): an upright body is taller than it is wide or deep, sign +;
    4. '+z', the commonest lab convention.
    """
    loaded = [p.force[p.loaded] for p in plates if p.loaded.any()]
    finite = markers.positions[np.isfinite(markers.positions).all(axis=2)]
    if loaded:
        forces = np.concatenate(loaded)
        axis = int(np.argmax(np.abs(forces).mean(axis=0)))
        surface = float(np.mean([p.corners[:, axis].mean() for p in plates]))
        if finite.size:
            sign = 1.0 if np.median(finite[:, axis]) >= surface else -1.0
            why = ("the plates' reaction force is largest along it; the markers are on its "
                   "positive side of the plates")
        else:
            sign = 1.0 if forces[:, axis].mean() >= 0 else -1.0
            why = "the plates' reaction force is largest along it and points that way"
        return ("+" if sign > 0 else "-") + AXES[axis], why
    screen = next(iter(_strings(params, "POINT", "Y_SCREEN")), "").lower()
    if re.fullmatch(r"[+-]?[xyz]", screen):
        return (screen if screen[0] in "+-" else "+" + screen), "POINT:Y_SCREEN says so"
    pos = markers.positions
    if pos.shape[1] >= 2 and np.isfinite(pos).any():
        with np.errstate(invalid="ignore"):
            spread = np.nanmedian(np.nanmax(pos, axis=1) - np.nanmin(pos, axis=1), axis=0)
        if np.isfinite(spread).all():
            return "+" + AXES[int(np.argmax(spread))], ("the markers of one frame spread most "
                                                        "along it (an upright body)")
    return "+z", "nothing in the file tells; +z is the commonest lab convention"


def read_c3d(path: str | Path, *, require_plates: bool = False,
             load_threshold_n: float = DEFAULT_LOAD_THRESHOLD_N,
             point_units: str | None = None) -> C3dTrial:
    """Read markers, force plates and analog channels of one C3D (module docstring).

    require_plates: refuse a file without force plates (the `--grf` case).
    load_threshold_n: a plate is loaded where its force along its normal exceeds this.
    point_units: overrides POINT:UNITS (for files that leave it empty or misstate it).
    """
    path = Path(path)
    _check_c3d_file(path)
    ezc3d = _ezc3d()
    try:
        c = ezc3d.c3d(str(path))
    except (RuntimeError, ValueError, IndexError, OSError, TypeError) as err:
        raise InputError(f"{path}: not a readable C3D file ({err})") from None
    params = c["parameters"]
    first_frame = int(c["header"]["points"]["first_frame"])
    markers = _read_markers(c, path, point_units, first_frame)
    first_time_s = float(markers.time_s[0])
    n_plates = _first_int(params, "FORCE_PLATFORM", "USED")
    if require_plates and n_plates <= 0:
        raise InputError(f"{path} has no force plates (FORCE_PLATFORM:USED = {max(n_plates, 0)}): "
                         "drop --grf or give the force file with --grf")

    analog_labels = _strings(params, "ANALOG", "LABELS")
    analog_units = _strings(params, "ANALOG", "UNITS")
    analogs_raw = np.asarray(c["data"]["analogs"], dtype=float)  # (1, A, T)
    analog_rate = float(c["header"]["analogs"]["frame_rate"]) or markers.rate_hz
    pos_scale = _length_scale(point_units or next(iter(_strings(params, "POINT", "UNITS")), ""),
                              path, "POINT:UNITS")
    plates = (_read_plates(path, params, analog_labels, analog_units, first_time_s, analog_rate,
                           pos_scale, load_threshold_n) if n_plates > 0 else [])

    used = {j for ch in _plate_channels(params, n_plates) for j in ch} if n_plates > 0 else set()
    analogs: dict[str, tuple[np.ndarray, np.ndarray, str]] = {}
    notes: list[str] = []
    if analogs_raw.ndim == 3 and analogs_raw.shape[1]:
        t = first_time_s + np.arange(analogs_raw.shape[2]) / analog_rate
        for j in range(analogs_raw.shape[1]):
            if j in used:
                continue
            label = analog_labels[j] if j < len(analog_labels) and analog_labels[j] else f"analog_{j + 1}"
            if label in analogs:  # duplicated labels: keep both, the second renamed
                label = f"{label}_{j + 1}"
            unit = analog_units[j] if j < len(analog_units) else ""
            values = analogs_raw[0, j, :].copy()
            factor = VOLTS_TO_V.get(unit.strip().lower())
            if factor is not None:
                values *= factor
                unit = "V"
            elif unit:
                notes.append(f"analog {label!r}: unit {unit!r} kept as in the file")
            analogs[label] = (t, values, unit)
    vertical, why = _guess_vertical(params, markers, plates)
    up = (1.0 if vertical[0] == "+" else -1.0) * np.eye(3)[AXES.index(vertical[1])]
    for p in plates:
        # Plates wired with inverted signs give a reaction pointing down under a standing
        # subject; negating the wrench fixes it (the centre of pressure is sign-free).
        if p.loaded.any() and float(np.mean(p.force[p.loaded] @ up)) < 0:
            p.force *= -1.0
            p.free_moment *= -1.0
            notes.append(f"force plate {p.number}: its reaction pointed down ({vertical} is up); "
                         "its channels' signs look inverted, so its force and free moment "
                         "were negated")
    return C3dTrial(path=path, markers=markers, plates=plates, analogs=analogs,
                    analog_rate_hz=analog_rate, first_time_s=first_time_s,
                    vertical_axis=vertical, vertical_reason=why, notes=notes)


# --------------------------------------------------------------------------------------
# frames


def _parse_vertical(vertical: str) -> tuple[int, float]:
    v = vertical.strip().lower()
    if not re.fullmatch(r"[+-]?[xyz]", v):
        raise InputError(f"vertical axis {vertical!r}: give 'auto', 'x', 'y', 'z' (or '-z' ...)")
    return AXES.index(v[-1]), (-1.0 if v[0] == "-" else 1.0)


def opensim_rotation(vertical: str) -> np.ndarray:
    """The rotation R (new = R @ old) that makes `vertical` the new +Y, right-handed.

    The new X is the lab's X (the lab's Y when X is up), so a walk along the lab's X stays
    along OpenSim's X; the new Z = X x Y completes the frame. For a Z-up lab: (x, y, z) ->
    (x, z, -y), the usual Vicon-to-OpenSim turn.
    """
    axis, sign = _parse_vertical(vertical)
    e = np.eye(3)
    new_y = sign * e[axis]
    new_x = e[1] if axis == 0 else e[0]
    new_z = np.cross(new_x, new_y)
    return np.vstack([new_x, new_y, new_z])


def to_opensim_frame(trial: C3dTrial, vertical: str = "auto") -> C3dTrial:
    """A copy of `trial` turned so that +Y is up (OpenSim's convention), right-handed.

    vertical: 'auto' uses the file's guess (`trial.vertical_axis`, rule in
    `_guess_vertical`); 'x', 'y', 'z' (or signed, '-z') say which of the trial's current axes
    points up. Markers, forces, centres of pressure, free moments and corners turn together.
    """
    v = trial.vertical_axis if vertical == "auto" else vertical
    R = opensim_rotation(v)

    def turn(a: np.ndarray) -> np.ndarray:
        return np.asarray(a) @ R.T

    markers = replace(trial.markers, positions=turn(trial.markers.positions))
    plates = [replace(p, force=turn(p.force), cop=turn(p.cop),
                      free_moment=turn(p.free_moment), corners=turn(p.corners))
              for p in trial.plates]
    return replace(trial, markers=markers, plates=plates, vertical_axis="+y",
                   vertical_reason=f"turned from {v} up to OpenSim's +y",
                   rotation=R @ trial.rotation, notes=list(trial.notes))


# --------------------------------------------------------------------------------------
# OpenSim files


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) of each run of True."""
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1), strict=True))


def fill_marker_gaps(markers: MarkerData, max_gap_s: float = DEFAULT_MAX_GAP_S
                     ) -> tuple[MarkerData, list[dict], list[str]]:
    """Markers without NaN: gaps up to `max_gap_s` filled (inside the trial by a cubic spline
    through the marker's seen frames, as capture software does; at the trial's start or end
    by holding the nearest seen position), longer gaps refused with an InputError naming the
    marker and the time. A marker never seen is dropped (it holds nothing to fill from).
    Returns (markers, filled gaps, notes)."""
    from scipy.interpolate import CubicSpline

    pos = markers.positions.copy()
    t = markers.time_s
    filled, notes, keep = [], [], []
    dt = 1.0 / markers.rate_hz
    for j, name in enumerate(markers.names):
        seen = np.isfinite(pos[:, j, :]).all(axis=1)
        if not seen.any():
            notes.append(f"marker {name!r} is never seen in the trial: dropped")
            continue
        keep.append(j)
        gaps = _runs(~seen)
        for a, b in gaps:
            length = (b - a) * dt
            if length > max_gap_s + 1e-9:
                raise InputError(
                    f"marker {name!r} is missing for {length:.3f} s from t = {t[a]:.3f} s to "
                    f"{t[b - 1]:.3f} s, more than the {max_gap_s:g} s musclekit fills; fill the "
                    "gap in the capture software, trim the trial, or leave the marker out")
        if not gaps:
            continue
        idx = np.flatnonzero(seen)
        if idx.size >= 4:
            spline = CubicSpline(t[idx], pos[idx, j, :], axis=0)
        for a, b in gaps:
            if a == 0 or b == len(t):  # at an end: hold the nearest seen position
                pos[a:b, j, :] = pos[b if a == 0 else a - 1, j, :]
                how = "held"
            elif idx.size >= 4:
                pos[a:b, j, :] = spline(t[a:b])
                how = "spline"
            else:
                for c in range(3):
                    pos[a:b, j, c] = np.interp(t[a:b], t[idx], pos[idx, j, c])
                how = "linear"
            filled.append({"marker": name, "start_s": float(t[a]), "end_s": float(t[b - 1]),
                           "frames": int(b - a), "how": how})
    out = replace(markers, names=[markers.names[j] for j in keep], positions=pos[:, keep, :])
    return out, filled, notes


def plate_columns(number: int | str) -> list[str]:
    """The .mot columns of one plate, OpenSim's gait-example layout: force, point, torque."""
    k = number
    return ([f"{k}_ground_force_v{a}" for a in AXES] + [f"{k}_ground_force_p{a}" for a in AXES]
            + [f"{k}_ground_torque_{a}" for a in AXES])


def plates_motion(trial: C3dTrial) -> Motion:
    """One column set per plate (`plate_columns`) at the analog rate. Unloaded frames: zero
    force and torque, the point at the plate's centre (OpenSim low-passes points with the
    forces; a point jumping to the origin would smear into the loaded frames)."""
    if not trial.plates:
        raise InputError(f"{trial.path} has no force plates (FORCE_PLATFORM:USED = 0): drop "
                         "--grf or give the force file with --grf")
    cols, names = [], []
    for p in trial.plates:
        point = np.where(p.loaded[:, None], p.cop, p.centre[None, :])
        cols += [p.force, point, p.free_moment]
        names += plate_columns(p.number)
    return Motion(time_s=trial.plates[0].time_s, names=names, values=np.column_stack(cols))


def write_opensim_files(trial: C3dTrial, out_dir: str | Path, *,
                        max_gap_s: float = DEFAULT_MAX_GAP_S) -> dict:
    """Write `markers.trc` (metres) and, when the trial has plates, `grf.mot` into `out_dir`.

    The trial is written in its current frame: call `to_opensim_frame` first for OpenSim
    (a trial whose vertical is not +y is refused, since OpenSim would read it lying down).
    Everything is checked before anything is written. Returns {"markers": path, "grf": path
    or None, "filled_gaps": [...], "notes": [...], "analogs": trial.analogs, "rate_hz": ...}.
    """
    if trial.vertical_axis != "+y":
        raise InputError(f"{trial.path}: the trial's vertical is {trial.vertical_axis}, not "
                         "OpenSim's +y; turn it with to_opensim_frame(trial) first")
    markers, filled, notes = fill_marker_gaps(trial.markers, max_gap_s)
    if not markers.names:
        raise InputError(f"{trial.path}: no marker is ever seen in the trial; nothing to write")
    for g in filled:
        notes.append(f"marker {g['marker']!r}: gap of {g['frames']} frames "
                     f"({g['start_s']:.3f}-{g['end_s']:.3f} s) filled ({g['how']})")
    grf = plates_motion(trial) if trial.plates else None
    out_dir = Path(out_dir)
    trc = write_trc(out_dir / "markers.trc", markers.time_s, markers.names, markers.positions)
    mot = write_mot(out_dir / "grf.mot", grf, name="grf") if grf is not None else None
    return {"markers": trc, "grf": mot, "filled_gaps": filled, "notes": list(trial.notes) + notes,
            "analogs": trial.analogs, "marker_rate_hz": trial.markers.rate_hz,
            "analog_rate_hz": trial.analog_rate_hz, "rotation": trial.rotation.tolist()}


# --------------------------------------------------------------------------------------
# plates -> feet


@dataclass
class FootLoads:
    """Per-foot ground reactions: motion (columns ground_force_r_vx ... ground_torque_l_z at
    the analog rate) and periods: one dict per loaded period of a plate with the side it went
    to (plate, start_s, end_s, side, distances_m)."""

    motion: Motion
    periods: list[dict]

    def write(self, path: str | Path) -> Path:
        return write_mot(path, self.motion, name="grf_feet")


def assign_plates_to_feet(trial: C3dTrial, foot_positions: dict[str, np.ndarray],
                          time_s: np.ndarray | None = None) -> FootLoads:
    """Give each loaded period of each plate to a foot, and sum per foot.

    foot_positions: {"r": (T,3), "l": (T,3)} per-frame positions of each foot (calcaneus
    origins, heel markers) in the trial's frame, at `time_s` (default: the markers' times).
    The rule: a period (a run of loaded frames of one plate) goes to the foot whose position
    is nearest, horizontally, to the plate's centre of pressure at the period's middle (the
    foot is then flat on the plate, and its height above the plate does not count). Several
    plates on one foot at once are summed: one force, the moment of all about the lab origin,
    and from it one centre of pressure on the plates' mean surface height and one free torque
    about the vertical. The trial must be in OpenSim's frame (+y up).
    """
    if trial.vertical_axis != "+y":
        raise InputError(f"{trial.path}: assign_plates_to_feet needs the trial in OpenSim's frame "
                         f"(+y up, it is {trial.vertical_axis}); turn it with to_opensim_frame and "
                         "give the foot positions in that frame")
    if not trial.plates:
        raise InputError(f"{trial.path} has no force plates (FORCE_PLATFORM:USED = 0): drop "
                         "--grf or give the force file with --grf")
    sides = ("r", "l")
    if set(foot_positions) != set(sides):
        raise InputError(f"foot positions: give exactly 'r' and 'l', got {sorted(foot_positions)}")
    ft = np.asarray(trial.markers.time_s if time_s is None else time_s, dtype=float)
    feet = {}
    for s in sides:
        f = np.asarray(foot_positions[s], dtype=float)
        if f.shape != (len(ft), 3):
            raise InputError(f"foot positions {s!r}: shape {f.shape}, expected ({len(ft)}, 3) "
                             "(one position per time)")
        feet[s] = f
    t = trial.plates[0].time_s
    n = len(t)
    share = {s: [np.zeros(n, bool) for _ in trial.plates] for s in sides}
    periods = []
    for i, p in enumerate(trial.plates):
        for a, b in _runs(p.loaded):
            # The middle frame, or the loaded frame nearest it where both feet are known.
            order = sorted(range(a, b), key=lambda k: abs(k - (a + b - 1) / 2))
            dist = None
            for k in order:
                here = {s: np.array([np.interp(t[k], ft, feet[s][:, c], left=np.nan,
                                               right=np.nan) for c in range(3)]) for s in sides}
                d = {s: float(np.hypot(*(here[s] - p.cop[k])[[0, 2]])) for s in sides}
                if all(np.isfinite(v) for v in d.values()):
                    dist = d
                    break
            if dist is None:
                raise InputError(
                    f"force plate {p.number} is loaded from {t[a]:.3f} to {t[b - 1]:.3f} s, but "
                    "the foot positions are unknown (NaN or outside their times) all that time")
            side = min(sides, key=lambda s: dist[s])
            share[side][i][a:b] = True
            periods.append({"plate": p.number, "start_s": float(t[a]), "end_s": float(t[b - 1]),
                            "side": side, "distances_m": dist})
    cols: dict[str, np.ndarray] = {}
    for s in sides:
        F = np.zeros((n, 3))
        M = np.zeros((n, 3))  # about the lab origin
        hw = np.zeros(n)  # plates' surface height weighted by vertical force
        for i, p in enumerate(trial.plates):
            on = share[s][i]
            f = np.where(on[:, None], p.force, 0.0)
            r = np.where(on[:, None], np.nan_to_num(p.cop), 0.0)
            F += f
            M += np.cross(r, f) + np.where(on[:, None], p.free_moment, 0.0)
            hw += np.where(on, np.nan_to_num(p.cop[:, 1]) * f[:, 1], 0.0)
        loaded = F[:, 1] > 1e-6
        with np.errstate(divide="ignore", invalid="ignore"):
            h = np.where(loaded, hw / F[:, 1], 0.0)
            px = np.where(loaded, (M[:, 2] + h * F[:, 0]) / F[:, 1], 0.0)
            pz = np.where(loaded, (h * F[:, 2] - M[:, 0]) / F[:, 1], 0.0)
        ty = np.where(loaded, M[:, 1] - (pz * F[:, 0] - px * F[:, 2]), 0.0)
        for c, a in enumerate(AXES):
            cols[f"ground_force_{s}_v{a}"] = F[:, c]
        cols[f"ground_force_{s}_px"], cols[f"ground_force_{s}_py"] = px, h
        cols[f"ground_force_{s}_pz"] = pz
        cols[f"ground_torque_{s}_x"] = np.zeros(n)
        cols[f"ground_torque_{s}_y"] = ty
        cols[f"ground_torque_{s}_z"] = np.zeros(n)
    names = [f"ground_force_{s}_v{a}" for s in sides for a in AXES] + \
            [f"ground_force_{s}_p{a}" for s in sides for a in AXES] + \
            [f"ground_torque_{s}_{a}" for s in sides for a in AXES]
    motion = Motion(time_s=t, names=names, values=np.column_stack([cols[c] for c in names]))
    return FootLoads(motion=motion, periods=periods)
