"""Lab motion capture in: one C3D file (markers, force plates, analog EMG) read with `ezc3d`.

What comes out of `read_c3d` (a `C3dTrial`), all in SI units and on the file's own clock:

- markers: `MarkerData` in metres, converted from POINT:UNITS (mm, cm, m). Points that the
  file marks as missing (residual < 0, which ezc3d turns into NaN) or writes as exactly
  (0, 0, 0) (how some exporters write a missing sample) are NaN: the caller
  decides (`write_opensim_files` fills short gaps and leaves the marker out of the frames of
  long ones). Dropped on reading, each kind said once in `notes`: empty labels, unlabelled
  trajectories (`*12`: the capture software's name for a trajectory nobody labelled), and
  the model outputs some systems store as points (labels listed in POINT:ANGLES, FORCES,
  MOMENTS, POWERS, SCALARS, REACTIONS: joint angles in degrees, not positions). A label that
  repeats (Motion Analysis' Helen Hayes exports name medial and lateral markers alike) keeps
  its name for its first point; the later ones become `<label>_2`, `<label>_3` ...
- labels the model does not use (Plug-in-Gait's virtual points LFEO, HEDO ..., markers of
  another set) are dropped by `select_markers` before any gap is looked at, so their gaps
  never matter (`model_marker_names` lists a model's markers from its file).
- subject: the body mass (kg) and height (m) the capture software stored
  (PROCESSING:Bodymass / Height, or SUBJECTS:MASS / HEIGHT), when present (`c3d_subject`).
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
message rather than converted wrongly.

Plate baselines: a plate nobody zeroed reads a constant offset when unloaded (the corpus'
Vicon treadmill walk: -14 and -20 N vertical, its FORCE_PLATFORM:ZERO [1 0] naming no range;
the Helen Hayes walk's plate 2: -16 N although its ZERO says frames 1-10). Each plate's force
and moment (linear in its channels) have their median over the unloaded samples removed,
those more than BASELINE_MARGIN_S from any sample loaded above BASELINE_LOAD_N (loads are
hundreds of N, offsets tens), when there are at least BASELINE_MIN_QUIET_S of them; the centre
of pressure and free moment are then computed from the corrected wrench as ezc3d computes
them. Without that, a -20 N offset read against the 20 N threshold flickers "loaded" through
the whole swing and every load is 20 N light. Files already zeroed (Nexus writes unloaded
samples as exact zeros) are unchanged; an offset above 5 N is said in the trial's notes.
This is the correction FORCE_PLATFORM:ZERO asks for, taken over every quiet sample instead of
a frame range that may be missing or, after trimming, loaded.

One process, two SWIG bindings: ezc3d and OpenSim both wrap std::vector, and once one of them
has built such a vector the other's constructors refuse theirs ("Wrong number or type of
arguments"). Reading a C3D builds none, so this module and OpenSim's writers share a process;
code that WRITES C3D files with ezc3d must do it in another process than OpenSim's writers
(tests/test_simulate_c3d.py writes its files in a child process for that reason).
"""

from __future__ import annotations

import re
import warnings
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
# Plate baselines (module docstring): a sample is quiet when no sample within the margin
# carries more than BASELINE_LOAD_N along the plate's normal.
BASELINE_LOAD_N = 50.0
BASELINE_MARGIN_S = 0.05
BASELINE_MIN_QUIET_S = 0.1
BASELINE_NOTE_N = 5.0
# Gaps of a used marker up to this long are filled (a cubic spline inside the trial, the
# nearest seen position at its ends); a longer gap leaves the marker out of those frames.
DEFAULT_MAX_GAP_S = 0.1
# A frame where fewer used markers are seen than this hardly poses a body: such frames at
# the start or the end of the trial are trimmed (inside the trial, a note says so; a frame
# that sees none is refused).
MIN_SEEN_MARKERS = 4
UNLABELLED = re.compile(r"\*\d+")
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
    subject: dict = field(default_factory=dict)  # mass_kg, height_m, from (c3d_subject)


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
            "export the trial again with the points in mm (Vicon Nexus, Qualisys, Motion "
            "Analysis and Mokka all write POINT:UNITS 'mm'), or set the parameter in a copy, "
            "e.g. with ezc3d: c['parameters']['POINT']['UNITS']['value'] = ['mm']; c.write(...)")
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
    keep, names, unlabelled, renamed, n_outputs = [], [], [], [], 0
    for j in range(n_points):
        label = labels[j] if j < len(labels) else ""
        if not label:
            continue
        if label in outputs:
            n_outputs += 1
            continue
        if UNLABELLED.fullmatch(label):
            unlabelled.append(label)
            continue
        name, k = label, 1
        while name in names:
            k += 1
            name = f"{label}_{k}"
        if name != label:
            renamed.append(f"{label} (point {j + 1}) -> {name}")
        keep.append(j)
        names.append(name)
    if not keep:
        raise InputError(f"{path}: has no markers (its {n_points} points are unnamed, "
                         "unlabelled (*N) or model outputs such as joint angles)")
    notes = []
    if unlabelled:
        notes.append(f"{len(unlabelled)} unlabelled trajectories ignored ({', '.join(unlabelled[:6])}"
                     f"{' ...' if len(unlabelled) > 6 else ''})")
    if n_outputs:
        notes.append(f"{n_outputs} model outputs stored as points ignored (POINT:ANGLES, "
                     "FORCES, MOMENTS, POWERS ...)")
    if renamed:
        notes.append(f"repeated labels renamed: {', '.join(renamed)}")
    xyz = points[:3, keep, :].transpose(2, 1, 0) * scale  # (T, M, 3)
    residuals = np.asarray(c["data"]["meta_points"]["residuals"], dtype=float)
    if residuals.ndim == 3 and residuals.shape[1] == n_points:
        # C3D marks a missing point with a negative residual; ezc3d already gives NaN for
        # those, this keeps it so whatever the writer put in the coordinates.
        xyz[residuals[0, keep, :].T < 0] = np.nan
    # Exporters also write a missing sample as exactly (0, 0, 0) with a valid residual (the
    # corpus' Vicon Workstation static trial: every upper-body marker): a gap too.
    xyz[(xyz == 0.0).all(axis=2)] = np.nan
    n = xyz.shape[0]
    time_s = (first_frame + np.arange(n)) / rate
    return MarkerData(time_s=time_s, names=names, positions=xyz, rate_hz=rate, notes=notes)


def _plate_channels(params, n_plates: int) -> list[list[int]]:
    """0-based analog indices of each plate (FORCE_PLATFORM:CHANNEL is (channels, plates),
    1-based)."""
    ch = np.asarray(_param(params, "FORCE_PLATFORM", "CHANNEL", []), dtype=int)
    if ch.ndim == 1:
        ch = ch.reshape(-1, 1)
    return [[int(v) - 1 for v in ch[:, k] if v > 0] for k in range(min(n_plates, ch.shape[1]))]


def plate_baseline(action: np.ndarray, moment: np.ndarray, normal: np.ndarray,
                   rate_hz: float) -> tuple[np.ndarray, np.ndarray] | None:
    """A plate's (force, moment) offsets (each (3,), as ezc3d's outputs): their medians over
    the quiet samples (module docstring), None when the plate has too few of them."""
    heavy = np.abs(action @ normal) > BASELINE_LOAD_N
    margin = int(round(BASELINE_MARGIN_S * rate_hz))
    near = np.convolve(heavy.astype(float), np.ones(2 * margin + 1), mode="same") > 0
    quiet = ~near
    if quiet.sum() < BASELINE_MIN_QUIET_S * rate_hz:
        return None
    return np.median(action[quiet], axis=0), np.median(moment[quiet], axis=0)


def plate_cop_and_free_moment(action: np.ndarray, moment: np.ndarray, corners: np.ndarray
                              ) -> tuple[np.ndarray, np.ndarray]:
    """Centre of pressure and free moment (T, 3) of a plate, from its force `action` and its
    moment `moment` about its sensor origin (T, 3, lab frame, as ezc3d gives them) and its
    corners (4, 3), in the units of those: what ezc3d's force-platform module computes
    (ForcePlatforms.cpp: the plate's frame from its corners, the COP on its surface)."""
    x = corners[0] - corners[1]
    y = corners[0] - corners[3]
    z = np.cross(x, y)
    y = np.cross(z, x)
    frame = np.column_stack([v / np.linalg.norm(v) for v in (x, y, z)])  # plate -> lab
    f = action @ frame  # frame^T f: plate coordinates
    m = moment @ frame
    # unloaded samples divide noise by noise (the caller sets their COP to NaN)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        cop_plate = np.column_stack([-m[:, 1] / f[:, 2], m[:, 0] / f[:, 2], np.zeros(len(f))])
        cop = cop_plate @ frame.T + corners.mean(axis=0)
        free = (m + np.cross(f, cop_plate)) @ frame.T
    return cop, free


def _read_plates(path: Path, params, analog_labels: list[str], analog_units: list[str],
                 first_time_s: float, analog_rate: float, pos_scale: float,
                 threshold_n: float, notes: list[str]) -> list[PlateData]:
    """The plates through ezc3d's force-platform module (module docstring); what was
    corrected is said in `notes`."""
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
        moment = np.asarray(pf["moment"], dtype=float).T  # N (pos unit), about the origin
        offset = plate_baseline(action, moment, normal, analog_rate)
        if offset is not None:
            action = action - offset[0]
            cop_p, tz_p = plate_cop_and_free_moment(action, moment - offset[1],
                                                    np.asarray(pf["corners"], dtype=float).T)
            cop, tz = cop_p * pos_scale, tz_p * pos_scale
            # signed like the loads: negative, the plate read light
            along = action @ normal
            loads = along[np.abs(along) > BASELINE_LOAD_N]
            sign = 1.0 if loads.size == 0 or np.median(loads) >= 0 else -1.0
            unloaded = sign * float(offset[0] @ normal)
            if abs(unloaded) > BASELINE_NOTE_N:
                notes.append(f"force plate {k + 1}: read {unloaded:+.1f} N when unloaded (not "
                             "zeroed); that baseline was removed from its force and moment")
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
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # frames where nothing is seen
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
    notes: list[str] = list(markers.notes)
    plates = (_read_plates(path, params, analog_labels, analog_units, first_time_s, analog_rate,
                           pos_scale, load_threshold_n, notes) if n_plates > 0 else [])

    used = {j for ch in _plate_channels(params, n_plates) for j in ch} if n_plates > 0 else set()
    analogs: dict[str, tuple[np.ndarray, np.ndarray, str]] = {}
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
    # Plates whose reaction points down under a standing subject get their wrench negated
    # (the centre of pressure is sign-free). When every loaded plate of the file needs it,
    # it is the exporter's sign convention (all four labs' files of the corpus: Vicon and
    # Motion Analysis) and nothing is said; a plate that disagrees with the others is wired
    # the other way round, and is named.
    down = [p for p in plates if p.loaded.any() and float(np.mean(p.force[p.loaded] @ up)) < 0]
    loaded = [p for p in plates if p.loaded.any()]
    for p in down:
        p.force *= -1.0
        p.free_moment *= -1.0
        if len(down) < len(loaded):
            notes.append(f"force plate {p.number}: its reaction pointed down ({vertical} is up) "
                         "while the other plates' pointed up; its channels' signs look "
                         "inverted, so its force and free moment were negated")
    return C3dTrial(path=path, markers=markers, plates=plates, analogs=analogs,
                    analog_rate_hz=analog_rate, first_time_s=first_time_s,
                    vertical_axis=vertical, vertical_reason=why, notes=notes,
                    subject=_subject(params))


# Where capture software stores the subject: Vicon (Nexus, Workstation) writes
# PROCESSING:Bodymass (kg) and Height (mm); others SUBJECTS:MASS / HEIGHT or WEIGHT.
_MASS_KEYS = (("PROCESSING", "Bodymass"), ("PROCESSING", "BodyMass"), ("PROCESSING", "Weight"),
              ("SUBJECTS", "MASS"), ("SUBJECTS", "WEIGHT"), ("SUBJECT", "MASS"),
              ("SUBJECT", "WEIGHT"))
_HEIGHT_KEYS = (("PROCESSING", "Height"), ("SUBJECTS", "HEIGHT"), ("SUBJECT", "HEIGHT"))


def _subject(params) -> dict:
    """{"mass_kg", "height_m", "from"} for what the file holds (module docstring). A mass
    outside 1-400 kg or a height outside 0.5-2.8 m (mm and cm are recognised by size) is not
    taken: it is a placeholder or a unit nobody can guess."""
    out: dict = {}
    for key, scale_for in (("mass_kg", None), ("height_m", "length")):
        for group, name in (_MASS_KEYS if key == "mass_kg" else _HEIGHT_KEYS):
            value = _param(params, group, name)
            arr = np.asarray(value if value is not None else [], dtype=object).ravel()
            try:
                v = float(arr[0]) if arr.size else float("nan")
            except (TypeError, ValueError):
                continue
            if scale_for == "length":
                v = v / 1000.0 if v > 250 else (v / 100.0 if v > 2.8 else v)
                ok = 0.5 <= v <= 2.8
            else:
                ok = 1.0 <= v <= 400.0
            if np.isfinite(v) and ok:
                out[key] = round(v, 4)
                out.setdefault("from", {})[key] = f"{group}:{name}"
                break
    return out


def c3d_subject(path: str | Path) -> dict:
    """The subject's mass and height stored in a C3D file (module docstring), {} when none:
    {"mass_kg": 74.0, "height_m": 1.76, "from": {"mass_kg": "PROCESSING:Bodymass", ...}}."""
    path = Path(path)
    _check_c3d_file(path)
    try:
        c = _ezc3d().c3d(str(path))
    except (RuntimeError, ValueError, IndexError, OSError, TypeError) as err:
        raise InputError(f"{path}: not a readable C3D file ({err})") from None
    return _subject(c["parameters"])


def model_marker_names(model_path: str | Path, marker_set: str | Path | None = None
                       ) -> list[str] | None:
    """The markers a model has, read from its .osim text (no OpenSim needed): those of
    `marker_set` (an OpenSim MarkerSet XML, or the name of a preset, that replaces the
    model's) when given. None when the file cannot be read (the caller then keeps every
    marker)."""
    import xml.etree.ElementTree as ET

    from musclekit.pipelines.simulate.kinematics.presets import is_preset, load_preset

    if marker_set is not None and is_preset(str(marker_set)):  # --marker-set plug-in-gait
        return [m.name for m in load_preset(str(marker_set))]
    src = Path(marker_set) if marker_set else Path(model_path)
    try:
        root = ET.parse(src).getroot()
    except ET.ParseError:
        # OpenSim's own parser takes files that are not well-formed XML (old models with a
        # stray '&' in a note): read the MarkerSet's names from the text instead.
        text = src.read_text(errors="replace")
        blocks = re.findall(r"<MarkerSet\b.*?</MarkerSet>", text, flags=re.S) or [text]
        names = [n for b in blocks for n in re.findall(r"<Marker\s+name=\"([^\"]+)\"", b)]
        return names or None
    except OSError:
        return None
    sets = [root] if root.tag == "MarkerSet" else list(root.iter("MarkerSet"))
    names = [m.get("name") for ms in sets for m in ms.iter("Marker") if m.get("name")]
    return names or None


def select_markers(markers: MarkerData, used: list[str] | set[str] | None, where: str | Path
                   ) -> tuple[MarkerData, list[str]]:
    """The markers the model uses (`used`, None: all), in the file's order, and a note
    naming how many others were ignored. Refused when the file has none of them."""
    if used is None:
        return markers, []
    used = set(used)
    keep = [j for j, n in enumerate(markers.names) if n in used]
    if not keep:
        raise InputError(
            f"{where}: none of its {len(markers.names)} markers ({', '.join(markers.names[:8])}"
            f"{' ...' if len(markers.names) > 8 else ''}) is a marker of the model "
            f"({', '.join(sorted(used)[:8])}{' ...' if len(used) > 8 else ''}); give a model "
            "whose markers are named as in the file (--model), or put the lab's marker set on "
            "it (--marker-set markers.xml)")
    ignored = [n for n in markers.names if n not in used]
    notes = ([f"{len(ignored)} labels the model does not use ignored ({', '.join(ignored[:8])}"
              f"{' ...' if len(ignored) > 8 else ''})"] if ignored else [])
    return replace(markers, names=[markers.names[j] for j in keep],
                   positions=markers.positions[:, keep, :]), notes


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


def fill_marker_gaps(markers: MarkerData, max_gap_s: float = DEFAULT_MAX_GAP_S, *,
                     drop_incomplete: bool = False) -> tuple[MarkerData, list[dict], list[str]]:
    """Each marker's gaps (NaN frames): up to `max_gap_s` filled (inside the trial by a cubic
    spline through the marker's seen frames, as capture software does; at the trial's start
    or end by holding the nearest seen position); a longer gap stays NaN: the marker is left
    out of IK for that stretch (OpenSim's IK skips a marker in the frames where it is NaN), and
    the other markers carry those frames. A marker never seen stays NaN throughout.

    drop_incomplete: drop every marker that still has a gap after filling, and those never
    seen (a static trial: OpenSim's ScaleTool needs every marker it uses in every frame).
    Returns (markers, gaps: one dict per gap with marker, start_s, end_s, frames, how
    ("spline", "linear", "held", "left out"), notes)."""
    from scipy.interpolate import CubicSpline

    pos = markers.positions.copy()
    t = markers.time_s
    gaps_out, notes, keep, never = [], [], [], []
    dt = 1.0 / markers.rate_hz
    for j, name in enumerate(markers.names):
        seen = np.isfinite(pos[:, j, :]).all(axis=1)
        pos[~seen, j, :] = np.nan
        if not seen.any():
            never.append(name)
            if not drop_incomplete:
                keep.append(j)
            continue
        gaps = _runs(~seen)
        idx = np.flatnonzero(seen)
        spline = CubicSpline(t[idx], pos[idx, j, :], axis=0) if idx.size >= 4 else None
        complete = True
        for a, b in gaps:
            length = (b - a) * dt
            if length > max_gap_s + 1e-9:
                how = "left out"
                complete = False
            elif a == 0 or b == len(t):  # at an end: hold the nearest seen position
                pos[a:b, j, :] = pos[b if a == 0 else a - 1, j, :]
                how = "held"
            elif spline is not None:
                pos[a:b, j, :] = spline(t[a:b])
                how = "spline"
            else:
                for c in range(3):
                    pos[a:b, j, c] = np.interp(t[a:b], t[idx], pos[idx, j, c])
                how = "linear"
            gaps_out.append({"marker": name, "start_s": float(t[a]), "end_s": float(t[b - 1]),
                             "frames": int(b - a), "how": how})
        if drop_incomplete and not complete:
            notes.append(f"marker {name!r} has gaps longer than {max_gap_s:g} s: dropped")
            continue
        keep.append(j)
    if never:
        notes.insert(0, f"{len(never)} marker(s) never seen in the trial, "
                     + ("dropped" if drop_incomplete else "left out of every frame")
                     + f": {', '.join(never[:10])}{' ...' if len(never) > 10 else ''}")
    out = replace(markers, names=[markers.names[j] for j in keep], positions=pos[:, keep, :])
    return out, gaps_out, notes


def _gap_notes(gaps: list[dict], max_gap_s: float) -> list[str]:
    """One line for the markers whose gaps were all filled, one per marker left out of IK
    somewhere (with the stretches)."""
    out, filled_only = [], []
    for name in dict.fromkeys(g["marker"] for g in gaps):
        mine = [g for g in gaps if g["marker"] == name]
        out_of = [g for g in mine if g["how"] == "left out"]
        if not out_of:
            filled_only.append(name)
            continue
        spans = ", ".join(f"{g['start_s']:.3f}-{g['end_s']:.3f} s" for g in out_of[:4])
        n_filled = len(mine) - len(out_of)
        out.append(f"marker {name!r}: left out of IK where it is missing for longer than "
                   f"{max_gap_s:g} s ({spans}{' ...' if len(out_of) > 4 else ''})"
                   + (f"; {n_filled} shorter gap(s) filled" if n_filled else ""))
    if filled_only:
        out.insert(0, f"gaps up to {max_gap_s:g} s filled in {len(filled_only)} marker(s): "
                   f"{', '.join(filled_only[:10])}{' ...' if len(filled_only) > 10 else ''}")
    return out


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


def prepare_markers(markers: MarkerData, used: list[str] | set[str] | None, where: str | Path,
                    *, max_gap_s: float = DEFAULT_MAX_GAP_S, static: bool = False
                    ) -> tuple[MarkerData, list[dict], list[str]]:
    """A trial's markers as IK (or the ScaleTool) takes them, from any marker file (C3D, or a
    TRC whose missing samples are empty cells): only the model's markers (`used`, None: all;
    `select_markers`); frames at the trial's start or end where fewer than MIN_SEEN_MARKERS
    of them are seen trimmed (inside the trial such frames are said in a note, and a frame
    that sees none is refused, with the fix); then the gaps (`fill_marker_gaps`: up to
    `max_gap_s` filled, longer ones left NaN, i.e. left out of IK there). static: a static
    trial for the ScaleTool: markers with a gap left after filling are dropped instead (the
    ScaleTool needs them all). Returns (markers, gaps, notes)."""
    selected, notes = select_markers(markers, used, where)
    # Frames first (on what the file saw, before any filling), then gaps.
    seen = np.isfinite(selected.positions).all(axis=2).sum(axis=1)
    need = min(MIN_SEEN_MARKERS, len(selected.names))
    ok = np.flatnonzero(seen >= need)
    if ok.size == 0:
        raise InputError(f"{where}: no frame sees {need} of the model's markers; fill the "
                         "gaps in the capture software, or give a model whose markers are the "
                         "file's")
    first, last = int(ok[0]), int(ok[-1])
    t = selected.time_s
    blind = np.flatnonzero(seen[first:last + 1] == 0)
    if blind.size:
        k = first + int(blind[0])
        raise InputError(
            f"{where}: at t = {t[k]:.3f} s none of the model's {len(selected.names)} "
            "markers is seen, so IK has nothing to follow; fill the gaps there in the capture "
            "software, or cut the trial into the parts before and after it")
    few = first + np.flatnonzero(seen[first:last + 1] < need)
    if few.size:
        notes.append(f"{few.size} frames ({t[few[0]]:.3f}-{t[few[-1]]:.3f} s) see fewer than "
                     f"{need} of the model's markers: IK poses them from the few it has")
    if first > 0 or last < len(seen) - 1:
        notes.append(f"frames where fewer than {need} of the model's markers are seen trimmed: "
                     f"the trial runs {t[first]:.3f}-{t[last]:.3f} s (of {t[0]:.3f}-{t[-1]:.3f})")
        selected = replace(selected, time_s=selected.time_s[first:last + 1],
                           positions=selected.positions[first:last + 1])
    filled, gaps, gap_notes = fill_marker_gaps(selected, max_gap_s, drop_incomplete=static)
    notes += gap_notes + _gap_notes(gaps, max_gap_s)
    if not filled.names:
        raise InputError(f"{where}: no marker the model uses is seen in every frame of "
                         "the static trial (after filling gaps up to "
                         f"{max_gap_s:g} s); give a static trial where the markers are seen"
                         if static else f"{where}: no marker is ever seen in the trial; "
                         "nothing to write")
    return filled, gaps, notes


def write_opensim_files(trial: C3dTrial, out_dir: str | Path, *,
                        max_gap_s: float = DEFAULT_MAX_GAP_S,
                        used: list[str] | set[str] | None = None, static: bool = False) -> dict:
    """Write `markers.trc` (metres) and, when the trial has plates, `grf.mot` into `out_dir`.

    The trial is written in its current frame: call `to_opensim_frame` first for OpenSim
    (a trial whose vertical is not +y is refused, since OpenSim would read it lying down).
    used: the model's markers (`model_marker_names`); the others are ignored before any gap
    is looked at. Frames, gaps and static trials: `prepare_markers`; the TRC holds `nan` where
    a marker is left out (OpenSim's IK skips it there).
    Everything is checked before anything is written. Returns {"markers": path, "grf": path
    or None, "filled_gaps": [...], "notes": [...], "analogs": trial.analogs, "rate_hz": ...}.
    """
    if trial.vertical_axis != "+y":
        raise InputError(f"{trial.path}: the trial's vertical is {trial.vertical_axis}, not "
                         "OpenSim's +y; turn it with to_opensim_frame(trial) first")
    markers, gaps, notes = prepare_markers(trial.markers, used, trial.path, max_gap_s=max_gap_s,
                                           static=static)
    grf = plates_motion(trial) if trial.plates and not static else None
    out_dir = Path(out_dir)
    trc = write_trc(out_dir / "markers.trc", markers.time_s, markers.names, markers.positions,
                    allow_missing=not static, rate_hz=markers.rate_hz)
    mot = write_mot(out_dir / "grf.mot", grf, name="grf") if grf is not None else None
    return {"markers": trc, "grf": mot, "filled_gaps": gaps, "notes": list(trial.notes) + notes,
            "analogs": trial.analogs, "marker_rate_hz": trial.markers.rate_hz,
            "analog_rate_hz": trial.analog_rate_hz, "rotation": trial.rotation.tolist(),
            "marker_names": list(markers.names), "subject": dict(trial.subject)}


def c3d_marker_names(path: str | Path, used: list[str] | set[str] | None = None) -> list[str]:
    """The markers a run takes from a C3D: its markers (`read_c3d`: unlabelled and model
    outputs ignored) that the model uses, in the file's order; what `write_opensim_files`
    writes for a trial (a never-seen marker stays, as NaN)."""
    trial = read_c3d(path)
    return list(select_markers(trial.markers, used, path)[0].names)


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
    is nearest, horizontally, to the plate's centre of pressure on average over the period
    (its height above the plate does not count; at the period's middle alone the swinging
    foot passes as near as the standing one: the corpus' Plug-in-Gait walk had its first
    two plates given to the wrong feet that way). Several
    plates on one foot at once are summed: one force, the moment of all about the lab origin,
    and from it one centre of pressure on the plates' mean surface height and one free torque
    about the vertical. A period during which the feet are unknown all along (outside the
    motion's times) goes to no foot: it is listed with side None and why. The trial must be in
    OpenSim's frame (+y up).
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
            # Mean horizontal distance over the period's frames where both feet are known:
            # the foot standing on the plate stays near its COP the whole stance; at any one
            # instant (mid-stance) the swinging foot passes just as near.
            tk = t[a:b]
            d_k = {s: np.hypot(*[np.interp(tk, ft, feet[s][:, c], left=np.nan, right=np.nan)
                                 - p.cop[a:b, c] for c in (0, 2)]) for s in sides}
            known = np.isfinite(d_k["r"]) & np.isfinite(d_k["l"])
            dist = ({s: float(d_k[s][known].mean()) for s in sides} if known.any() else None)
            if dist is None:
                # Loaded only where the motion is not (before IK's first frame, after its last:
                # a plate's noise at the trial's edge, a step the markers did not see): no foot
                # can take it, and no frame of the motion needs it.
                periods.append({"plate": p.number, "start_s": float(t[a]),
                                "end_s": float(t[b - 1]), "side": None, "distances_m": None,
                                "why": "the feet are not known then (outside the motion, or "
                                       "not seen): given to no foot"})
                continue
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


def subject_from_c3d(mass_kg: float | None, height_m: float | None,
                     paths: list) -> tuple[float | None, float | None, str | None]:
    """Mass and height for a run: the typed ones (--mass, --height) win; each one not typed
    comes from the first C3D among `paths` (static trial first) that stores it. Returns
    (mass_kg, height_m, where they came from, None when all were typed or none found)."""
    found = []
    for p in paths:
        if p is None or Path(p).suffix.lower() != ".c3d" or not Path(p).is_file():
            continue
        if mass_kg is not None and height_m is not None:
            break
        subject = c3d_subject(p)
        for key in ("mass_kg", "height_m"):
            if key in subject and (mass_kg if key == "mass_kg" else height_m) is None:
                if key == "mass_kg":
                    mass_kg = subject[key]
                else:
                    height_m = subject[key]
                found.append(f"{subject['from'][key]} of {Path(p).name}")
    return mass_kg, height_m, ("the C3D's " + ", ".join(found)) if found else None
