"""OpenSim scaling (ScaleTool on a static frame) and inverse kinematics, from files to files.

Registration of the virtual markers on the model is automatic:
1. every virtual marker is attached to the OpenSim body of the SMPL-H segment that carries
   it (largest skinning weight, mapped by the marker set's `segment_bodies`); the model's own
   markers are replaced by the virtual set;
2. joint-centre markers (`jc_*`, from the body model's joints) are put at the model's joint
   centres (the origin of each joint's child frame);
3. ScaleTool scales each body by the ratio of joint-centre distances (static trial vs model),
   then its MarkerPlacer solves the static pose from the joint centres alone and moves every
   virtual marker to where it sits on the body in that pose. No hand correction.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from musclekit.errors import InputError, UnitFailedError
from musclekit.pipelines.simulate.opensim.files import (
    Motion,
    read_mot,
    read_trc,
    rotational_coordinates,
    write_mot,
)
from musclekit.pipelines.simulate.opensim.model import (
    REFERENCE_POSE,
    load_model,
    native_stdout_silenced,
)

JC_WEIGHT = 10.0


@dataclass
class RegistrationPlan:
    """Which markers go on which body; what was left out and why."""

    marker_bodies: dict[str, str]  # virtual marker -> body
    joint_centres: dict[str, str]  # jc marker -> body
    dropped: dict[str, str] = field(default_factory=dict)  # name -> reason
    locked_for_static: list[str] = field(default_factory=list)


def _body_names(model) -> list[str]:
    bs = model.getBodySet()
    return [bs.get(i).getName() for i in range(bs.getSize())]


def plan_registration(model_path: Path, marker_bodies: dict[str, str],
                      joint_centres: dict[str, str]) -> RegistrationPlan:
    """Check the model has the bodies the virtual markers need."""
    model = load_model(model_path)
    bodies = set(_body_names(model))
    plan = RegistrationPlan({}, {})
    for name, body in marker_bodies.items():
        if body in bodies:
            plan.marker_bodies[name] = body
        else:
            plan.dropped[name] = f"model has no body {body}"
    for name, body in joint_centres.items():
        if body in bodies:
            plan.joint_centres[name] = body
        else:
            plan.dropped[name] = f"model has no body {body}"
    if not plan.marker_bodies:
        need = sorted(set(marker_bodies.values()))
        raise InputError(f"OpenSim model {model_path} has none of the bodies the virtual markers "
                         f"attach to ({', '.join(need)}); use a model with OpenSim's usual body "
                         "names (Rajagopal2015, LaiUhlrich2022, gait2392) or edit the marker "
                         "set's segment_bodies")
    return plan


def _joint_centre_in_body(model, body: str) -> np.ndarray:
    js = model.getJointSet()
    for i in range(js.getSize()):
        child = js.get(i).getChildFrame()
        if child.findBaseFrame().getName() == body:
            return child.findTransformInBaseFrame().p().to_numpy()
    raise InputError(f"no joint has body {body} as its child")


# Joint centres leave some rotations of the static pose undetermined or nearly so (the long
# axis of a straight arm; the pelvis tilt about the hip axis, which a lumbar bend
# compensates), and straight knees and elbows sit at the end of their range, where IK stalls
# (measured: 4 deg of knee flexion left, registering every marker below it wrongly). In the
# static frame those coordinates are held at the reference pose, which the static pose is
# built to match (upright spine, straight legs, arms down, forearms neutral); pelvis, hips,
# ankles and shoulders stay free. They are unlocked again in the scaled model.
STATIC_LOCKED = {"arm_rot_r": 0.0, "arm_rot_l": 0.0, "lumbar_extension": 0.0,
                 "lumbar_bending": 0.0, "lumbar_rotation": 0.0, "knee_angle_r": 0.0,
                 "knee_angle_l": 0.0, "elbow_flex_r": 0.0, "elbow_flex_l": 0.0,
                 **REFERENCE_POSE}


def _set_locks(model, names, locked: bool) -> list[str]:
    cs = model.getCoordinateSet()
    done = []
    for n in names:
        if cs.contains(n):
            c = cs.get(n)
            if locked:
                c.setDefaultValue(STATIC_LOCKED.get(n, c.getDefaultValue()))
            c.set_locked(locked)
            done.append(n)
    return done


def _free_root(model) -> None:
    """Unbound the coordinates of the joint to ground: a long walk leaves the model's
    +-5 m range for pelvis_tx, and turning around more than half a turn leaves +-pi."""
    js = model.getJointSet()
    for i in range(js.getSize()):
        joint = js.get(i)
        if joint.getParentFrame().findBaseFrame().getName() != "ground":
            continue
        for k in range(joint.numCoordinates()):
            c = joint.upd_coordinates(k)
            c.set_clamped(False)
            c.setRangeMin(-1e4)
            c.setRangeMax(1e4)


def write_registered_generic(model_path: Path, plan: RegistrationPlan, out_path: Path) -> Path:
    """The generic model with its markers replaced by the virtual set (placed later) and
    the static-frame locks applied."""
    import opensim

    model = load_model(model_path)
    model.initSystem()
    already_locked = {n for n in STATIC_LOCKED if model.getCoordinateSet().contains(n)
                      and model.getCoordinateSet().get(n).get_locked()}
    plan.locked_for_static = _set_locks(model, [n for n in STATIC_LOCKED
                                                if n not in already_locked], True)
    _free_root(model)
    markers = model.updMarkerSet()
    markers.clearAndDestroy()
    bs = model.getBodySet()
    for name, body in plan.marker_bodies.items():
        model.addMarker(opensim.Marker(name, bs.get(body), opensim.Vec3(0, 0, 0)))
    for name, body in plan.joint_centres.items():
        loc = _joint_centre_in_body(model, body)
        m = opensim.Marker(name, bs.get(body), opensim.Vec3(*loc))
        m.set_fixed(True)  # joint centres stay where the model has them
        model.addMarker(m)
    model.finalizeConnections()
    model.printToXML(str(out_path))
    return out_path


@dataclass
class ScaleResult:
    scaled_model: Path
    scale_factors: dict[str, list[float]]  # body -> (sx, sy, sz)
    static_rms_m: float  # joint-centre marker RMS error of the static pose (registration)


def uniform_measurement(name: str, pairs, bodies):
    """An OpenSim Measurement: the mean ratio of the marker `pairs`' distances (trial / model)
    scales each of `bodies` uniformly (X, Y and Z)."""
    import opensim

    meas = opensim.Measurement()
    meas.setName(name)
    meas.setApply(True)
    for a, b in pairs:
        meas.getMarkerPairSet().cloneAndAppend(opensim.MarkerPair(a, b))
    for body in bodies:
        bscale = opensim.BodyScale()
        bscale.setName(body)
        axes = opensim.ArrayStr()
        for ax in ("X", "Y", "Z"):
            axes.append(ax)
        bscale.setAxisNames(axes)
        meas.getBodyScaleSet().cloneAndAppend(bscale)
    return meas


def run_scale(generic_path: Path, static_trc: Path, static_time: tuple[float, float],
              plan: RegistrationPlan, measurements: dict[str, dict], mass_kg: float,
              height_m: float, out_path: Path, work_dir: Path) -> ScaleResult:
    """ScaleTool: measurement-based scaling from joint centres, then marker placement."""
    import opensim

    def rel(p: Path) -> str:  # ScaleTool resolves paths relative to its setup file
        return os.path.relpath(p, work_dir)

    tool = opensim.ScaleTool()
    tool.setName("musclekit_scale")
    tool.setSubjectMass(mass_kg)
    tool.setSubjectHeight(height_m * 1000.0)
    tool.getGenericModelMaker().setModelFileName(rel(generic_path))
    scaler = tool.getModelScaler()
    scaler.setApply(True)
    order = opensim.ArrayStr()
    order.append("measurements")
    scaler.setScalingOrder(order)
    mset = scaler.getMeasurementSet()
    model = load_model(generic_path)
    bodies = set(_body_names(model))
    for name, spec in measurements.items():
        pairs = [p for p in spec["pairs"] if all(m in plan.joint_centres for m in p)]
        scaled = [b for b in spec["bodies"] if b in bodies]
        if not pairs or not scaled:
            continue
        mset.cloneAndAppend(uniform_measurement(name, pairs, scaled))
    times = opensim.ArrayDouble()
    times.append(static_time[0])
    times.append(static_time[1])
    scaler.setMarkerFileName(rel(static_trc))
    scaler.setTimeRange(times)
    scaler.setPreserveMassDist(True)
    scaled_only = work_dir / "scaled_unplaced.osim"
    scaler.setOutputModelFileName(rel(scaled_only))
    scaler.setOutputScaleFileName("scale_factors.xml")
    placer = tool.getMarkerPlacer()
    placer.setApply(True)
    placer.setStaticPoseFileName(rel(static_trc))
    placer.setTimeRange(times)
    placer.setOutputModelFileName(rel(out_path))
    placer.setMaxMarkerMovement(-1.0)
    placer.setOutputMotionFileName("static_pose.mot")
    tasks = placer.getIKTaskSet()
    for name in plan.joint_centres:
        task = opensim.IKMarkerTask()
        task.setName(name)
        task.setWeight(JC_WEIGHT)
        task.setApply(True)
        tasks.cloneAndAppend(task)
    for name in plan.marker_bodies:
        task = opensim.IKMarkerTask()
        task.setName(name)
        task.setApply(False)  # not yet placed: they follow the pose, they do not set it
        tasks.cloneAndAppend(task)
    setup = work_dir / "scale_setup.xml"
    tool.printToXML(str(setup))
    with native_stdout_silenced():
        ok = opensim.ScaleTool(str(setup)).run()
    if not ok or not Path(out_path).is_file():
        raise UnitFailedError(f"OpenSim ScaleTool failed (setup {setup})")
    scaled = load_model(out_path)
    scaled.initSystem()
    _set_locks(scaled, plan.locked_for_static, False)
    scaled.printToXML(str(out_path))
    scale_set = opensim.ScaleSet(str(work_dir / "scale_factors.xml"))
    factors = {scale_set.get(i).getSegmentName():
               [float(x) for x in scale_set.get(i).getScaleFactors().to_numpy()]
               for i in range(scale_set.getSize())}
    rms = _static_joint_centre_rms(out_path, work_dir / "static_pose.mot", static_trc,
                                   list(plan.joint_centres))
    return ScaleResult(Path(out_path), factors, rms)


def _static_joint_centre_rms(model_path: Path, pose_mot: Path, static_trc: Path,
                             names: list[str]) -> float:
    """How well the scaled model's joint centres met the body's in the static pose (m):
    the registration's quality check (every marker was placed in this pose)."""
    if not pose_mot.is_file() or not names:
        return float("nan")
    model = load_model(model_path)
    state = model.initSystem()
    cs = model.getCoordinateSet()
    # MarkerPlacer writes model states (columns /jointset/<joint>/<coordinate>/value)
    rotational = {cs.get(n).getAbsolutePathString() + "/value"
                  for n in rotational_coordinates(model)}
    pose = read_mot(pose_mot, rotational=rotational)
    for col, value in zip(pose.names, pose.values[0], strict=True):
        parts = col.strip("/").split("/")
        if len(parts) == 4 and parts[0] == "jointset" and parts[3] == "value" and \
                cs.contains(parts[2]):
            cs.get(parts[2]).setValue(state, float(value), False)
    model.realizePosition(state)
    data = read_trc(static_trc)
    errors = [model.getMarkerSet().get(n).getLocationInGround(state).to_numpy()
              - data.positions[0, data.names.index(n)] for n in names]
    return float(np.sqrt(np.mean(np.sum(np.square(errors), axis=1))))


@dataclass
class IKResult:
    mot_path: Path
    time_s: np.ndarray
    coordinates: list[str]
    values: np.ndarray  # (T, C): rad for rotations, m for translations
    rms_m: np.ndarray  # (T,)
    max_m: np.ndarray  # (T,)
    marker_errors_m: dict[str, np.ndarray] = field(default_factory=dict)  # per marker (T,)
    setup_changes: list[str] = field(default_factory=list)  # what differs from a lab's setup
    solver: str = "opensim"  # which solved it (IK_SOLVERS)
    notes: list[str] = field(default_factory=list)  # e.g. why OpenSim's tool ran instead


# "gauss-newton": ik_solver.py on the problem OpenSim's tool poses (same setup, same
# references, same objective and constraints), ~10x faster per frame; it hands a setup it
# does not take on (a finite constraint weight, quaternion joints) to OpenSim's tool.
# "opensim": OpenSim's InverseKinematicsTool itself.
IK_SOLVERS = ("gauss-newton", "opensim")


def run_ik(model_path: Path, trc_path: Path, time_range: tuple[float, float],
           weights: dict[str, float], out_mot: Path, work_dir: Path,
           accuracy: float = 1e-6, setup: Path | None = None,
           leave_out: set[str] | None = None, solver: str = "gauss-newton") -> IKResult:
    """Inverse kinematics as OpenSim's InverseKinematicsTool poses it (marker weights or a
    lab's setup); per-frame marker errors.

    solver: "gauss-newton" (ik_solver.py: the tool's own references and objective, solved
        by Gauss-Newton per frame) or "opensim" (the tool's run()); see IK_SOLVERS.

    out_mot ends up in radians (m for translations), `inDegrees=no`: OpenSim writes it in
    degrees, and it is read with the model's rotational coordinates and written again.

    accuracy: the solver's convergence tolerance. OpenSim's default (1e-5) stops early in
    the shallow valley of the arms' long-axis rotations (arm_rot vs pro_sup: up to 6 deg off
    on a jumping jack); 1e-6 brings them within 1 deg for about 1.5x the IK time.
    setup: a lab's IK setup XML, run as OpenSim's InverseKinematicsTool runs it: its
        IKTaskSet (marker weights, markers switched off, coordinate tasks), time range (within
        `time_range`), accuracy, constraint weight and coordinate file (relative to the
        setup's folder, as OpenSim reads it) are kept; only the model, the marker file and the
        outputs are the command's. `weights` must then hold only the user's explicit
        overrides (--marker-weights): each one sets that marker's weight (and applies it when
        > 0), every change listed in `IKResult.setup_changes`.
    leave_out: markers not to track (dead or bad ones); with a setup, only what the user
        asked to leave out (the caller's flags), each listed in `setup_changes`."""
    import opensim

    if solver not in IK_SOLVERS:
        raise InputError(f"--ik-solver {solver}: choose one of {', '.join(IK_SOLVERS)}")
    changes: list[str] = []
    # The model is read here only to build a task set (no setup): a setup's solve reads it
    # itself, once.
    model = load_model(model_path) if setup is None else None
    model_markers = ({model.getMarkerSet().get(i).getName()
                      for i in range(model.getMarkerSet().getSize())} if model else set())
    used = {m: w for m, w in weights.items() if m in model_markers and w > 0}
    if not used and setup is None:
        raise InputError(f"OpenSim model {model_path} has none of the markers in {trc_path} "
                         f"(model markers: {', '.join(sorted(model_markers)[:10]) or 'none'}"
                         f"{', ...' if len(model_markers) > 10 else ''}); give a model "
                         "with markers named as in the TRC file (--model), or put the lab's "
                         "markers on a generic model while scaling it: --static static.trc "
                         "--mass KG with --marker-set markers.xml or --scale-setup "
                         "scale_setup.xml")
    if model is None and not Path(model_path).is_file():
        raise InputError(f"OpenSim model {model_path} does not exist")
    leave_out = set(leave_out or ())
    if setup is not None:
        tool = opensim.InverseKinematicsTool(str(setup))
        lo = max(float(time_range[0]), float(tool.getStartTime()))
        hi = min(float(time_range[1]), float(tool.getEndTime()))
        if hi <= lo:
            raise InputError(f"the IK setup {setup} covers {tool.getStartTime()}-"
                             f"{tool.getEndTime()} s, outside the marker file's "
                             f"{time_range[0]}-{time_range[1]} s")
        time_range = (lo, hi)
        changes = _apply_overrides(tool, weights, leave_out)
        _absolute_coordinate_file(tool, Path(setup))
    else:
        tool = opensim.InverseKinematicsTool()
        tasks = tool.getIKTaskSet()
        for name in sorted(model_markers):
            task = opensim.IKMarkerTask()
            task.setName(name)
            task.setWeight(float(used.get(name, 0.0)))
            task.setApply(name in used and name not in leave_out)
            tasks.cloneAndAppend(task)
    tool.setName("ik")
    tool.set_model_file(str(model_path))
    tool.setMarkerDataFileName(str(trc_path))
    tool.setStartTime(float(time_range[0]))
    tool.setEndTime(float(time_range[1]))
    tool.setOutputMotionFileName(str(out_mot))
    tool.set_report_errors(True)
    tool.set_report_marker_locations(True)
    tool.setResultsDir(str(work_dir))
    if setup is None:  # a lab's setup keeps its own accuracy: same inputs, same IK as OpenSim
        tool.set_accuracy(accuracy)
    setup = work_dir / "ik_setup.xml"
    tool.printToXML(str(setup))
    notes: list[str] = []
    if solver == "gauss-newton":
        from musclekit.pipelines.simulate.kinematics import ik_solver

        try:
            return _own_ik(setup, Path(model_path), Path(out_mot), Path(work_dir), changes)
        except ik_solver.Unsupported as why:
            notes.append(f"IK ran in OpenSim's InverseKinematicsTool: {why}")
    with native_stdout_silenced():
        ok = opensim.InverseKinematicsTool(str(setup)).run()
    if not ok or not Path(out_mot).is_file():
        raise UnitFailedError(f"OpenSim inverse kinematics failed (setup {setup})")
    # OpenSim writes its Rotational coordinates in degrees (inDegrees=yes); the file is
    # rewritten in radians (inDegrees=no), as every .mot musclekit leaves behind.
    model = model or load_model(model_path)
    motion = read_mot(out_mot, rotational=rotational_coordinates(model))
    write_mot(out_mot, Motion(motion.time_s, motion.names, motion.values), name="ik")
    errors = read_mot(work_dir / "ik_ik_marker_errors.sto", rotational=set())
    return IKResult(Path(out_mot), motion.time_s, motion.names, motion.values,
                    errors.column("marker_error_RMS"), errors.column("marker_error_max"),
                    _marker_errors(work_dir / "ik_ik_model_marker_locations.sto", trc_path,
                                   motion.time_s), changes, solver="opensim", notes=notes)


def _own_ik(setup: Path, model_path: Path, out_mot: Path, work_dir: Path,
            changes: list[str]) -> IKResult:
    """The setup written for OpenSim's tool, solved by ik_solver.py; the same files out
    (the motion in radians, `ik_ik_marker_errors.sto` as OpenSim reports it)."""
    import contextlib

    import opensim

    from musclekit.pipelines.simulate.kinematics import ik_solver

    model_path = model_path.resolve()
    # OpenSim reads a setup's files relative to the setup's folder
    with contextlib.chdir(setup.resolve().parent):
        tool = opensim.InverseKinematicsTool(setup.name)
        sol = ik_solver.solve(tool, model_path)
    write_mot(out_mot, Motion(sol.time_s, sol.coordinates, sol.values), name="ik")
    write_mot(work_dir / "ik_ik_marker_errors.sto",
              Motion(sol.time_s, ["total_squared_error", "marker_error_RMS", "marker_error_max"],
                     np.column_stack([sol.total_squared_m2, sol.rms_m, sol.max_m])),
              name="Model Marker Errors from IK")
    errors = {name: sol.marker_errors_m[:, j] for j, name in enumerate(sol.marker_names)}
    return IKResult(out_mot, sol.time_s, sol.coordinates, sol.values, sol.rms_m, sol.max_m,
                    errors, changes, solver="gauss-newton", notes=sol.notes)


def _apply_overrides(tool, weights: dict[str, float], leave_out: set[str]) -> list[str]:
    """The user's explicit changes to a lab's IKTaskSet: a weight per marker named in
    `weights` (a task appended for a marker the setup does not list), markers in `leave_out`
    switched off. Returns one line per change; nothing else of the setup is touched."""
    import opensim

    tasks = tool.getIKTaskSet()
    changes = []
    for name, w in weights.items():
        w = float(w)
        if tasks.contains(name):
            task = tasks.get(name)
            if opensim.IKMarkerTask.safeDownCast(task) is None:
                continue  # a coordinate task of that name: --marker-weights names markers
            before = f"{task.getWeight():g}" + ("" if task.getApply() else ", not applied")
            if task.getWeight() == w and task.getApply() == (w > 0):
                continue
            task.setWeight(w)
            task.setApply(w > 0)
            changes.append(f"marker {name}: weight {w:g} from --marker-weights (the IK setup "
                           f"says {before})")
        else:
            task = opensim.IKMarkerTask()
            task.setName(name)
            task.setWeight(w)
            task.setApply(w > 0)
            tasks.cloneAndAppend(task)
            changes.append(f"marker {name}: weight {w:g} from --marker-weights (not in the IK "
                           "setup)")
    for name in sorted(leave_out):
        if tasks.contains(name) and tasks.get(name).getApply():
            tasks.get(name).setApply(False)
            changes.append(f"marker {name}: switched off (the IK setup applies it with weight "
                           f"{tasks.get(name).getWeight():g})")
    return changes


def _absolute_coordinate_file(tool, setup: Path) -> None:
    """OpenSim reads a setup's coordinate file relative to the setup's folder: keep pointing
    at that file when the setup is written elsewhere."""
    name = str(tool.getCoordinateFileName()).strip()
    if not name or name == "Unassigned" or Path(name).is_absolute():
        return
    path = (Path(setup).resolve().parent / name).resolve()
    if not path.is_file():
        raise InputError(f"--ik-setup {setup}: its coordinate file {name} is not found next to "
                         f"it ({path}); OpenSim reads it relative to the setup's folder")
    tool.setCoordinateFileName(str(path))


def _marker_errors(locations: Path, trc_path: Path, time_s: np.ndarray) -> dict[str, np.ndarray]:
    """Per tracked marker, the distance (T,) between the model's marker and the measured one."""
    if not locations.is_file():
        return {}
    model = read_mot(locations, rotational=set())
    data = read_trc(trc_path, allow_missing=True)  # a C3D's long gaps are NaN (left out)
    out = {}
    for j, name in enumerate(data.names):
        cols = [f"{name}_t{a}" for a in "xyz"]
        if not all(c in model.names for c in cols):
            continue
        m = np.column_stack([np.interp(time_s, model.time_s, model.column(c)) for c in cols])
        d = np.column_stack([np.interp(time_s, data.time_s, data.positions[:, j, k])
                             for k in range(3)])
        out[name] = np.linalg.norm(m - d, axis=1)
    return out
