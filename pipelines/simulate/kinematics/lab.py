"""A lab's own marker data in: scaling from a static trial, its IK setup, dead markers and
its measured ground forces, with OpenSim's own tools doing the work.

Scaling (`scale_from_static`): OpenSim's ScaleTool on a generic model and the subject's
static trial, its MarkerPlacer then moves the model's markers onto the subject. Either the
lab's own scale setup XML (`--scale-setup`: its measurements, marker pairs and weights; the
model, trial, mass and outputs given on the command line replace the ones in the file), or an
automatic one by this documented rule:
- a body is scaled uniformly by the ratio of marker distances (trial / model) averaged over
  every pair of markers on it that are at least 5 cm apart on the model;
- a body with no such pair keeps the whole-body factor (the mean over the measured bodies);
- the marker placer uses every marker the model and the trial share, equal weights (or
  `--marker-weights`), on the first `static_s` of the trial.
The per-marker static error (model marker vs trial marker in the placed static pose) is
reported, and a trial that shares fewer than 4 markers with the model, or lacks a marker the
scale setup measures, is refused.

IK (`ik_with_setup`): OpenSim's InverseKinematicsTool with the lab's IKTaskSet (marker weights,
coordinate tasks) and time range when `--ik-setup` is given; otherwise equal weights, or the
weights of `--marker-weights` (CSV `name,weight` or TOML `name = weight`).

Dead and bad markers (`dead_markers`, `outlier_markers`, `ik_with_marker_checks`): a marker
that sits at the origin or never moves while the others do (how exporters write "missing") is
dead; a marker whose IK error stays far above the rest (median error above 4 cm and 4x the
median of the others) is an outlier. Without an IK setup dead markers are left out before IK;
a lab's IK setup is never changed unless asked: its dead markers stay (as OpenSim's IK tool
would track them) unless `--drop-dead-markers`. Outliers are left out (and IK rerun once) only
with `--drop-outlier-markers`. Every finding and what was done is printed, kept in the
sequence's metadata (`extra.kinematics.marker_problems`) and shown by `musclekit inspect`.
"""

from __future__ import annotations

import contextlib
import itertools
import shutil
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from musclekit.errors import InputError

MIN_PAIR_DISTANCE_M = 0.05
MIN_SHARED_MARKERS = 4


@dataclass
class LabInputs:
    """Per-subject lab files (paths as strings so they travel in payloads)."""

    static_trc: str | None = None
    marker_set: str | None = None  # an OpenSim MarkerSet XML put on the generic model
    mass_kg: float | None = None
    height_m: float | None = None
    scale_setup: str | None = None
    static_s: float = 0.1
    ik_setup: str | None = None
    marker_weights: dict[str, float] | None = None
    grf_file: str | None = None
    grf_setup: str | None = None
    # A C3D trial (markers, force plates, analog EMG in one file); its plates are assigned to
    # the feet after IK (c3d.assign_plates_to_feet) unless --grf/--grf-setup say otherwise.
    c3d: str | None = None
    c3d_require_plates: bool = False
    mass_from: str | None = None  # where mass/height came from when not typed (a C3D's parameters)
    # Asked for on the command line; never done to a lab's IK setup without them.
    drop_outlier_markers: bool = False  # leave out markers IK cannot follow, rerun IK once
    drop_dead_markers: bool = False  # leave out dead markers a lab's IK setup applies
    # --max-static-error-mm: a scaling above it stops the sequence (None: autoscale's bound)
    max_static_error_mm: float | None = None
    # --plates: what the measured forces (a C3D's plates, --grf) are for: "apply" (None, the
    # default: the dynamics apply them) or "compare" (kept beside, recorded as `plates`, and
    # the dynamics estimate the forces from the motion, as without plates)
    plates: str | None = None

    def scale_bounds(self) -> dict:
        return ({} if self.max_static_error_mm is None
                else {"max_static_rms_m": self.max_static_error_mm / 1000.0})

    def validate(self) -> None:
        """Refuse bad values before any work."""
        from musclekit.pipelines.simulate.kinematics.presets import check_marker_set

        check_marker_set(self.marker_set)  # a preset name or an existing MarkerSet XML
        for flag, p in (("--static", None if self.static_trc == "auto" else self.static_trc),
                        ("--scale-setup", self.scale_setup), ("--c3d", self.c3d),
                        ("--ik-setup", self.ik_setup), ("--grf", self.grf_file),
                        ("--grf-setup", self.grf_setup)):
            if p is not None and not Path(p).is_file():
                raise InputError(f"{flag} file not found: {p}")
        if self.static_trc is not None:
            if self.mass_kg is None:
                raise InputError("--static needs the subject's mass: --mass KG")
        if self.mass_kg is not None and not self.mass_kg > 0:
            raise InputError(f"--mass {self.mass_kg}: the subject's mass must be > 0 kg")
        if self.mass_kg is not None and self.mass_kg > MAX_MASS_KG:
            raise InputError(f"--mass {self.mass_kg:g}: no subject weighs more than "
                             f"{MAX_MASS_KG:g} kg; give the mass in kg (grams typed as kg? "
                             f"--mass {self.mass_kg / 1000:g})")
        check_plates_value(self.plates, grf_c3d=self.c3d_require_plates)
        if self.grf_setup is not None and self.grf_file is None:
            raise InputError("--grf-setup describes the columns of a force file: give the file "
                             "with --grf FILE (or `--grf c3d` for a C3D's plates)")
        if self.max_static_error_mm is not None and not self.max_static_error_mm > 0:
            raise InputError(f"--max-static-error-mm {self.max_static_error_mm}: must be > 0")
        if self.height_m is not None and not 0.5 < self.height_m < 2.8:
            raise InputError(f"--height {self.height_m}: give the height in metres (0.5-2.8)")
        if self.scale_setup and not self.static_trc:
            raise InputError("--scale-setup needs the static trial: --static static.trc")
        if self.marker_weights:
            bad = {k: v for k, v in self.marker_weights.items() if not v >= 0}
            if bad:
                raise InputError(f"marker weights must be >= 0: {bad}")
        # last: the flags' combinations are said first, then what is inside the files
        for flag, path, tool in (("--ik-setup", self.ik_setup, "InverseKinematicsTool"),
                                 ("--scale-setup", self.scale_setup, "ScaleTool"),
                                 ("--grf-setup", self.grf_setup, "ExternalLoads")):
            if path is not None:
                check_setup_kind(Path(path), flag, tool)

    @property
    def any(self) -> bool:
        return any(v not in (None, False) for k, v in asdict(self).items() if k != "static_s")


# The heaviest people recorded are about 600 kg; above this a mass is a unit error.
MAX_MASS_KG = 400.0
# --plates: "apply" the measured forces in the dynamics, or keep them to "compare" with the
# forces the dynamics estimate from the motion
PLATES_CHOICES = ("apply", "compare")


def check_plates_value(plates: str | None, *, grf_c3d: bool) -> None:
    """Refuse a `--plates` word that is not one of PLATES_CHOICES, and `--plates compare`
    with `--grf c3d` (which asks for the C3D's plates to be applied)."""
    if plates is not None and plates not in PLATES_CHOICES:
        raise InputError(f"--plates {plates!r}: choose apply (the measured forces drive the "
                         "dynamics, the default) or compare (kept for comparison; the "
                         "dynamics estimate the forces from the motion)")
    if plates == "compare" and grf_c3d:
        raise InputError("--grf c3d applies the C3D's force plates and --plates compare leaves "
                         "them out of the dynamics: give one of them (--plates compare alone "
                         "keeps the plates of a --c3d for comparison)")


def check_plates(plates: str | None, *, marker_files: list, grf_given: bool,
                 grf_c3d: bool = False) -> None:
    """The `--plates` flag against the others, before any file is read: `check_plates_value`,
    and `--plates compare` where there is nothing to compare with (no --c3d, whose plates it
    would keep, and no --grf file). `marker_files`: the --trc and --c3d inputs."""
    check_plates_value(plates, grf_c3d=grf_c3d)
    if plates != "compare" or grf_given:
        return
    if not any(Path(p).suffix.lower() == ".c3d" for p in marker_files):
        raise InputError("--plates compare keeps measured forces beside the estimate: give "
                         "them, as a --c3d with force plates or a force file with --grf FILE "
                         "(with --grf-setup XML when its columns need one)")


def force_roles(lab: LabInputs) -> tuple[str, str]:
    """The roles the measured forces are recorded under in the sequence's KinematicsRecord:
    `grf`/`grf_setup`, which the dynamics apply, or with `--plates compare`
    `plates`/`plates_setup`, which no part of the dynamics reads (kept for comparison)."""
    return ("plates", "plates_setup") if lab.plates == "compare" else ("grf", "grf_setup")


def check_setup_kind(path: Path, flag: str, tool: str) -> None:
    """Refuse an OpenSim XML whose first element under <OpenSimDocument> is not `tool` (a
    scale setup given as --ik-setup runs the wrong tool, or none)."""
    import xml.etree.ElementTree as ET

    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as err:
        raise InputError(f"{flag} {path}: not readable XML ({err})") from None
    first = root if root.tag != "OpenSimDocument" else next(iter(root), None)
    found = first.tag if first is not None else "nothing"
    if found != tool:
        hint = {"InverseKinematicsTool": "--ik-setup", "ScaleTool": "--scale-setup",
                "ExternalLoads": "--grf-setup"}.get(found)
        raise InputError(f"{flag} {path}: an OpenSim {tool} setup was expected, this file "
                         f"holds {found}" + (f" (give it as {hint})" if hint else ""))


def read_marker_weights(path: Path) -> dict[str, float]:
    """Marker weights from a CSV (`name,weight` per line, an optional header) or TOML
    (`name = weight`)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"--marker-weights file not found: {path}")
    text = path.read_text()
    if path.suffix.lower() == ".toml":
        try:
            table = tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            raise InputError(f"{path}: not valid TOML ({err})") from None
        items = table.get("weights", table).items()
    else:
        items = []
        for n, line in enumerate(text.splitlines(), start=1):
            parts = [p.strip() for p in line.replace(";", ",").split(",")]
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if len(parts) != 2:
                raise InputError(f"{path}, line {n}: expected 'marker,weight', got {line!r}")
            try:
                items.append((parts[0], float(parts[1])))
            except ValueError:
                if n == 1:
                    continue  # a header row
                raise InputError(f"{path}, line {n}: weight {parts[1]!r} is not a number") from None
    out = {}
    for name, w in items:
        try:
            out[str(name)] = float(w)
        except (TypeError, ValueError):
            raise InputError(f"{path}: weight of {name!r} is not a number: {w!r}") from None
    if not out:
        raise InputError(f"{path}: no marker weights in it")
    return out


# -- dead and bad markers ------------------------------------------------------------------
def dead_markers(names: list[str], positions: np.ndarray) -> dict[str, str]:
    """Markers that carry no data, with why: at the origin in most frames, or never moving
    (< 1 mm) while the median marker travels more than 5 cm (exporters' "missing")."""
    import warnings

    out = {}
    at_origin = (np.linalg.norm(positions, axis=2) < 1e-6).mean(axis=0)
    with warnings.catch_warnings():  # gaps (NaN) are not data; an all-NaN marker travels NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        travel = (np.nanmax(positions, axis=0) - np.nanmin(positions, axis=0)).max(axis=1)
        moving = bool(float(np.nanmedian(travel)) > 0.05) if np.isfinite(travel).any() else False
    for j, name in enumerate(names):
        if at_origin[j] > 0.5:
            out[name] = f"at the origin in {100 * at_origin[j]:.0f} % of frames"
        elif moving and travel[j] < 1e-3:
            out[name] = (f"does not move ({1000 * travel[j]:.2f} mm) while the median marker "
                         f"travels {100 * np.nanmedian(travel):.0f} cm")
    return out


def outlier_markers(errors: dict[str, np.ndarray], limit_m: float = 0.04,
                    ratio: float = 4.0) -> dict[str, str]:
    """Markers whose median IK error is above `limit_m` and `ratio` x the median of the
    others' medians."""
    med = {n: float(np.nanmedian(e)) for n, e in errors.items()}
    out = {}
    for n, m in med.items():
        others = [v for k, v in med.items() if k != n]
        ref = float(np.median(others)) if others else 0.0
        if m > limit_m and m > ratio * ref:
            out[n] = f"median IK error {1000 * m:.0f} mm vs {1000 * ref:.0f} mm for the others"
    return out


def setup_marker_tasks(setup: Path) -> dict[str, float]:
    """The markers a lab's IK setup applies, with their weights (OpenSim reads the setup, so
    OpenSim 3 and 4 formats alike)."""
    import opensim as osim

    tool = osim.InverseKinematicsTool(str(setup))  # kept alive: the task set is its member
    tasks = tool.getIKTaskSet()
    out = {}
    for i in range(tasks.getSize()):
        task = tasks.get(i)
        if osim.IKMarkerTask.safeDownCast(task) is not None and task.getApply():
            out[task.getName()] = float(task.getWeight())
    return out


def ik_with_marker_checks(run_ik, names: list[str], positions: np.ndarray, lab: LabInputs):
    """IK (`run_ik(leave_out) -> IKResult`) with the dead-marker and outlier rules (module
    docstring). Returns the result and `problems`: marker -> {problem, why, action}, where
    action says what was done ("left out" or "kept")."""
    setup = Path(lab.ik_setup) if lab.ik_setup else None
    applied = setup_marker_tasks(setup) if setup else None
    problems: dict[str, dict[str, str]] = {}
    for name, why in dead_markers(names, positions).items():
        if applied is not None and name not in applied:
            continue  # the setup does not use it: nothing to say
        keep = applied is not None and not lab.drop_dead_markers
        problems[name] = {"problem": "dead", "why": why,
                          "action": "kept" if keep else "left out"}
    left_out = {n for n, p in problems.items() if p["action"] == "left out"}
    result = run_ik(left_out)
    errors = {n: e for n, e in result.marker_errors_m.items()  # dead ones: said already
              if n not in problems and (applied is None or n in applied)}
    bad = outlier_markers(errors)
    for name, why in bad.items():
        problems[name] = {"problem": "outlier", "why": why,
                          "action": "left out" if lab.drop_outlier_markers else "kept"}
    if bad and lab.drop_outlier_markers:
        result = run_ik(left_out | set(bad))
    return result, problems


def marker_messages(problems: dict[str, dict[str, str]], setup: str | None) -> list[str]:
    """One line per marker problem, saying what was done and how to change it."""
    where = f"the IK setup {Path(setup).name}" if setup else "IK"
    out = []
    for name, p in problems.items():
        if p["problem"] == "dead" and p["action"] == "kept":
            out.append(f"marker {name} carries no data ({p['why']}), but {where} applies it: "
                       "kept, as OpenSim's IK tool would track it; --drop-dead-markers leaves "
                       "it out")
        elif p["problem"] == "dead":
            out.append(f"marker {name} left out of IK: no data ({p['why']})"
                       + (" (--drop-dead-markers)" if setup else ""))
        elif p["action"] == "kept":
            out.append(f"marker {name}: IK cannot follow it ({p['why']}); kept in {where}: "
                       "--drop-outlier-markers leaves it out and reruns IK")
        else:
            out.append(f"marker {name} left out of IK and IK rerun (--drop-outlier-markers): "
                       f"{p['why']}")
    return out


# -- scaling -------------------------------------------------------------------------------
@dataclass
class ScaleOutcome:
    model_path: Path
    scale_factors: dict[str, list[float]]  # body -> (sx, sy, sz)
    static_error_m: dict[str, float]  # per marker, in the placed static pose
    measurements: list[dict] = field(default_factory=list)
    setup: str = "automatic"

    @property
    def static_rms_m(self) -> float:
        e = np.array(list(self.static_error_m.values()))
        return float(np.sqrt(np.mean(e ** 2))) if len(e) else float("nan")


def _model_markers(model) -> dict[str, tuple[str, np.ndarray]]:
    ms = model.getMarkerSet()
    out = {}
    for i in range(ms.getSize()):
        m = ms.get(i)
        out[m.getName()] = (m.getParentFrame().findBaseFrame().getName(),
                            np.array(m.get_location().to_numpy()))
    return out


def automatic_measurements(model_path: Path, static_names: list[str]) -> list[dict]:
    """One measurement per body: the (up to 3) longest pairs of shared markers that span it:
    both on the body, or one on the body and one on a body jointed to its distal end (a hip
    marker and a knee marker span the thigh). Long pairs between landmarks keep the factor
    from depending on where a cluster marker happens to sit on the generic model."""
    import opensim as osim

    model = osim.Model(str(model_path))
    state = model.initSystem()
    markers = _model_markers(model)
    shared = [n for n in static_names if n in markers]
    by_body: dict[str, list[str]] = {}
    for n in shared:
        by_body.setdefault(markers[n][0], []).append(n)
    children: dict[str, list[str]] = {}
    joints = model.getJointSet()
    for i in range(joints.getSize()):
        j = joints.get(i)
        children.setdefault(j.getParentFrame().findBaseFrame().getName(), []).append(
            j.getChildFrame().findBaseFrame().getName())
    ms = model.getMarkerSet()

    def where(n: str) -> np.ndarray:
        return np.asarray(ms.get(n).getLocationInGround(state).to_numpy())

    out = []
    for body, names in sorted(by_body.items()):
        distal = [n for c in children.get(body, []) for n in by_body.get(c, [])]
        candidates = list(itertools.combinations(names, 2)) + [(a, b) for a in names
                                                               for b in distal]
        scored = sorted(((float(np.linalg.norm(where(a) - where(b))), a, b)
                         for a, b in candidates), reverse=True)
        pairs = [(a, b) for d, a, b in scored if d >= MIN_PAIR_DISTANCE_M][:3]
        if pairs:
            out.append({"body": body, "pairs": pairs})
    return out


def scale_from_static(generic_model: Path, static_trc: Path, out_dir: Path, lab: LabInputs,
                      weights: dict[str, float] | None = None,
                      motion_trc: Path | None = None) -> ScaleOutcome:
    """Scale `generic_model` to the subject of `static_trc` and place its markers (module
    docstring). Writes `scaled.osim` and the scale setup used into `out_dir`."""
    import opensim as osim

    from musclekit.pipelines.simulate.kinematics.scale_ik import uniform_measurement
    from musclekit.pipelines.simulate.opensim.files import read_trc

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    # automatic scaling fits around gaps (NaN); OpenSim's ScaleTool needs every marker
    static = read_trc(static_trc, allow_missing=not lab.scale_setup)
    model = osim.Model(str(generic_model))
    tool = osim.ScaleTool(str(lab.scale_setup)) if lab.scale_setup else None
    marker_file = tool.getGenericModelMaker().getMarkerSetFileName() if tool else ""
    marker_path = None
    tracking = None  # a preset's wand/cluster markers (autoscale.py)
    if lab.marker_set:
        from musclekit.pipelines.simulate.kinematics.presets import resolve_marker_set

        marker_path, tracking = resolve_marker_set(lab.marker_set, out_dir, generic_model)
    elif marker_file and marker_file != "Unassigned":
        # The lab's setup brings its own marker set (placed on the generic model first).
        marker_path = Path(lab.scale_setup).resolve().parent / marker_file
        if not marker_path.is_file():
            raise InputError(f"{lab.scale_setup}: its marker set file {marker_file} is not "
                             f"found next to it ({marker_path})")
    if marker_path is not None:
        try:
            model.updateMarkerSet(osim.MarkerSet(str(marker_path)))
        except RuntimeError as err:
            raise InputError(f"marker set {marker_path} does not fit model {generic_model}: "
                             f"{err}") from None
    markers = _model_markers(model)
    shared = [n for n in static.names if n in markers]
    out_dir.mkdir(parents=True, exist_ok=True)
    generic_with_markers = out_dir / "generic_with_markers.osim"
    model.printToXML(str(generic_with_markers))
    if len(shared) < MIN_SHARED_MARKERS:
        raise InputError(
            f"static trial {static_trc} shares {len(shared)} markers with model {generic_model} "
            f"(at least {MIN_SHARED_MARKERS} are needed): trial {static.names[:8]}..., model "
            f"{sorted(markers)[:8]}...; put the lab's marker set on the model (--marker-set "
            "markerset.xml, an OpenSim MarkerSet) or give a model that has it (--model)")
    if not lab.scale_setup:  # automatic scaling with marker registration (autoscale.py)
        from musclekit.pipelines.simulate.kinematics.autoscale import scale_automatic

        auto = scale_automatic(generic_with_markers, static, str(static_trc), out_dir,
                               float(lab.mass_kg), lab.height_m, weights,
                               motion=lab.static_trc == "auto", tracking=tracking,
                               motion_trial=(read_trc(motion_trc, allow_missing=True)
                                             if motion_trc else None),
                               **lab.scale_bounds())
        return ScaleOutcome(auto["model_path"], auto["scale_factors"], auto["static_error_m"],
                            auto["measurements"], "automatic")
    t0 = float(static.time_s[0])
    t1 = min(float(static.time_s[-1]), t0 + lab.static_s)
    scaled = out_dir / "scaled.osim"
    placed_pose = out_dir / "static_pose.mot"
    if tool is not None:
        setup_name = str(Path(lab.scale_setup).resolve())
        # Every marker the lab's measurements use must be in the trial.
        measured = set()
        mset = tool.getModelScaler().getMeasurementSet()
        for i in range(mset.getSize()):
            pairs = mset.get(i).getMarkerPairSet()
            for k in range(pairs.getSize()):
                measured |= {pairs.get(k).getMarkerName(0), pairs.get(k).getMarkerName(1)}
        missing = sorted(measured - set(static.names))
        if missing:
            raise InputError(
                f"static trial {static_trc} lacks markers the scale setup {lab.scale_setup} "
                f"measures: {missing}; give the trial the setup was written for, or leave out "
                "--scale-setup for the automatic measurements")
    else:
        tool = osim.ScaleTool()
        setup_name = "automatic"
        scaler = tool.getModelScaler()
        scaler.setApply(True)
        order = osim.ArrayStr()
        order.append("measurements")
        scaler.setScalingOrder(order)
        for meas in automatic_measurements(generic_with_markers, static.names):
            scaler.addMeasurement(uniform_measurement(meas["body"], meas["pairs"], [meas["body"]]))
    placer = tool.getMarkerPlacer()
    placer.setApply(True)  # the markers must sit on the subject for IK
    if placer.getIKTaskSet().getSize() == 0:
        for n in shared:
            task = osim.IKMarkerTask()
            task.setName(n)
            task.setWeight(float((weights or {}).get(n, 1.0)))
            task.setApply(True)
            placer.getIKTaskSet().cloneAndAppend(task)
    if marker_path is not None:
        tool.getGenericModelMaker().setMarkerSetFileName(str(marker_path))
    tool.setSubjectMass(float(lab.mass_kg))
    if lab.height_m:
        tool.setSubjectHeight(1000.0 * float(lab.height_m))  # OpenSim keeps it in mm
    tool.setPathToSubject("")
    tool.getGenericModelMaker().setModelFileName(str(Path(generic_model).resolve()))
    times = osim.ArrayDouble()
    if lab.scale_setup:  # the lab's own time range of its static trial
        setup_times = tool.getModelScaler().getTimeRange()
        t0, t1 = float(setup_times.get(0)), float(setup_times.get(1))
    times.append(t0)
    times.append(t1)
    scaler = tool.getModelScaler()
    scaler.setMarkerFileName(str(Path(static_trc).resolve()))
    scaler.setTimeRange(times)
    scaler.setOutputModelFileName(str(scaled))
    scaler.setOutputScaleFileName(str(out_dir / "scale_set_applied.xml"))
    scaler.setPreserveMassDist(True)
    placer = tool.getMarkerPlacer()
    placer.setStaticPoseFileName(str(Path(static_trc).resolve()))
    placer.setTimeRange(times)
    placer.setOutputModelFileName(str(scaled))
    placer.setOutputMotionFileName(str(placed_pose))
    placer.setMoveModelMarkers(True)
    placer.setOutputMarkerFileName(str(out_dir / "markerset_placed.xml"))
    setup = out_dir / "scale_setup.xml"
    tool.printToXML(str(setup))
    # Every path in the setup is absolute now; anything OpenSim still writes relatively lands
    # in the sequence's folder, never in the lab's (possibly read-only) one.
    # Loaded by its bare name from its own folder: OpenSim prefixes the setup's folder to
    # every path in it, absolute ones included ("<dir>//abs/path").
    with contextlib.chdir(out_dir):
        ok = osim.ScaleTool(setup.name).run()
    if not ok or not scaled.is_file():
        raise InputError(f"OpenSim's ScaleTool failed on {static_trc} (setup {setup}); see the "
                         "sequence's OpenSim log")
    factors = _scale_factors(out_dir / "scale_set_applied.xml")
    errors = _static_errors(scaled, placed_pose, static)
    meas = ([] if lab.scale_setup else automatic_measurements(generic_with_markers, static.names))
    from musclekit.pipelines.simulate.kinematics.autoscale import check_scaling

    check_scaling(factors, errors, str(static_trc), check_factors=False, **lab.scale_bounds())
    return ScaleOutcome(scaled, factors, errors, meas, setup_name)




def _scale_factors(scale_set: Path) -> dict[str, list[float]]:
    """Per body, the scale factors OpenSim applied (its scale set file)."""
    import opensim as osim

    ss = osim.ScaleSet(str(scale_set))
    out = {}
    for i in range(ss.getSize()):
        sc = ss.get(i)
        f = sc.getScaleFactors()
        out[sc.getSegmentName()] = [round(float(f.get(k)), 4) for k in range(3)]
    return out


def _static_errors(scaled: Path, pose_mot: Path, static) -> dict[str, float]:
    """Per marker, the distance between the model marker (placed model, static pose) and
    the trial's mean position over the static window."""
    import opensim as osim

    from musclekit.pipelines.simulate.opensim.files import read_mot, rotational_coordinates

    model = osim.Model(str(scaled))
    state = model.initSystem()
    pose = read_mot(pose_mot, rotational=rotational_coordinates(model))
    cset = model.getCoordinateSet()
    for j, n in enumerate(pose.names):
        if n.startswith("/") and not n.endswith("/value"):
            continue  # the placer's pose is a states table: speeds too
        name = n.split("/")[-2] if n.startswith("/") else n
        if cset.contains(name):
            cset.get(name).setValue(state, float(pose.values[0, j]), False)
    model.assemble(state)
    model.realizePosition(state)
    ms = model.getMarkerSet()
    mean = np.nanmean(static.positions, axis=0)
    out = {}
    for j, n in enumerate(static.names):
        if ms.contains(n):
            p = np.array(ms.get(n).getLocationInGround(state).to_numpy())
            out[n] = round(float(np.linalg.norm(p - mean[j])), 5)
    return out


# -- measured forces into the sequence's lab layout ----------------------------------------
def copy_external_loads(lab: LabInputs, model_path: Path, out_dir: Path,
                        feet: dict[str, list[str]]) -> dict[str, str]:
    """Check the measured forces against the model (bodies, columns) and copy them next to
    the sequence's other OpenSim files: `grf.mot` and, with a setup, `external_loads.xml`
    whose data file is the copy (with `--plates compare`: `plates.mot` and
    `plates_external_loads.xml`). Returns the copied paths by role (`force_roles`)."""
    import opensim as osim

    from musclekit.pipelines.simulate.opensim.external_loads import read_measured_grf

    model = osim.Model(str(model_path))
    bodies = {model.getBodySet().get(i).getName() for i in range(model.getBodySet().getSize())}
    measured = read_measured_grf(lab.grf_file, lab.grf_setup, feet=feet, model_bodies=bodies)
    out_dir.mkdir(parents=True, exist_ok=True)
    data = Path(measured.source["file"])
    role, setup_role = force_roles(lab)
    grf = out_dir / f"{role}.mot"
    shutil.copyfile(data, grf)
    files = {role: grf}
    if lab.grf_setup:
        loads = osim.ExternalLoads(str(lab.grf_setup), True)
        loads.setDataFileName(grf.name)
        xml = out_dir / ("external_loads.xml" if role == "grf" else f"{role}_external_loads.xml")
        loads.printToXML(str(xml))
        files[setup_role] = xml
    return {k: str(v) for k, v in files.items()}


def foot_positions(model_path: Path, ik_mot: Path, feet: dict[str, str]) -> tuple[np.ndarray,
                                                                                 dict[str, np.ndarray]]:
    """Per IK frame, the ground position of each side's foot body origin (`feet`: side letter
    -> body): where a force plate's load is given to a foot."""
    import opensim as osim

    from musclekit.pipelines.simulate.opensim.files import read_mot, rotational_coordinates

    model = osim.Model(str(model_path))
    state = model.initSystem()
    motion = read_mot(ik_mot, rotational=rotational_coordinates(model))
    cset = model.getCoordinateSet()
    out = {s: np.zeros((len(motion.time_s), 3)) for s in feet}
    for k in range(len(motion.time_s)):
        for j, n in enumerate(motion.names):
            if cset.contains(n):
                cset.get(n).setValue(state, float(motion.values[k, j]), False)
        model.assemble(state)
        model.realizePosition(state)
        for s, body in feet.items():
            out[s][k] = model.getBodySet().get(body).getPositionInGround(state).to_numpy()
    return motion.time_s, out


def trc_gaps_filled(trc_path: Path, out_path: Path, *, static: bool = False) -> dict | None:
    """A TRC whose missing samples are empty (or NaN) cells, read as a C3D's gaps are
    (c3d.prepare_markers: up to 0.1 s filled, longer gaps left out of IK there, frames at the
    ends that see almost nothing trimmed; `static`: markers still gappy are dropped, as the
    ScaleTool needs them all) and written to `out_path`. None when the file has no gap (it is
    then used as it is). Returns {"markers": out_path, "notes": [...], "filled_gaps": [...]}."""
    from musclekit.pipelines.simulate.kinematics.c3d import prepare_markers
    from musclekit.pipelines.simulate.opensim.files import read_trc, write_trc

    data = read_trc(trc_path, allow_missing=True)
    if not np.isnan(data.positions).any():
        return None
    markers, gaps, notes = prepare_markers(data, None, trc_path, static=static)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    write_trc(out_path, markers.time_s, markers.names, markers.positions,
              allow_missing=not static, rate_hz=markers.rate_hz)
    return {"markers": out_path, "notes": [f"{Path(trc_path).name}: {n}" for n in notes],
            "filled_gaps": gaps}


def c3d_inputs(c3d_path: Path, out_dir: Path, **kw) -> dict:
    """A C3D trial in OpenSim's frame, written as `markers.trc` in `out_dir`; returns the
    paths and the trial (for its plates and analog channels). `kw` go to
    c3d.write_opensim_files (used: the model's markers; static)."""
    from musclekit.pipelines.simulate.kinematics.c3d import (
        read_c3d,
        to_opensim_frame,
        write_opensim_files,
    )

    trial = to_opensim_frame(read_c3d(c3d_path))
    written = write_opensim_files(trial, out_dir, **kw)
    return {"trial": trial, **written}
