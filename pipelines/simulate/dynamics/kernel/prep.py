"""Per-model preparation, done once per scaled model and reused by all its chunks.

OpenSim objects do not pickle, so the result is a folder: the prepared `.osim` (locked
coordinates welded, contact forces removed for the inverse method, residual actuators on the
root and reserve actuators elsewhere, polynomial muscle paths) and a `prep.json` describing
it (with the SHA-256 of every file and the seconds per phase). The folder name is a hash of
the contents of the input model and motions and of the settings, so a finished preparation is
found again on a rerun, in another dataset, and by every sequence of the same subject
(kernel/model_cache.py: where the cache lives, how entries are published and checked).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from musclekit.dataset.atomic import file_sha256
from musclekit.errors import InputError
from musclekit.pipelines.simulate.dynamics.kernel.path_fit import fit_paths, muscled_coordinates_fd
from musclekit.pipelines.simulate.dynamics.kernel.phases import PhaseClock
from musclekit.pipelines.simulate.opensim.evaluate import (
    CONTACT_FORCE_CLASSES,
    ActuatorStrengths,
    add_coordinate_actuators,
    coordinate_actuated,
    couplers,
    muscled_coordinates,
    root_joint,
    with_welds,
)
from musclekit.pipelines.simulate.opensim.external_loads import DEFAULT_FEET
from musclekit.pipelines.simulate.opensim.model import coordinate_units


@dataclass
class PrepSettings:
    """What the preparation depends on (part of the cache key)."""

    method: str = "inverse"  # the method the model is prepared for
    # The method solves with the model's contact spheres (track) instead of estimated ground
    # forces (inverse): keep the contact forces, require spheres. The stage's config sets it
    # from the method's registry entry (`Method.contact`).
    contact: bool = False
    polynomial_paths: bool = True
    path_fit_range_deg: float = 25.0
    path_fit_max_order: int = 5
    path_fit_samples_per_frame: int = 10
    path_fit_max_frames: int = 40  # IK frames (evenly spaced) the samples are centred on
    # Seed of the sample poses around each frame (drawn here, not by OpenSim's fitter, whose
    # Latin hypercube draws from std::random_device and cannot be seeded): same inputs, same
    # prepared model, bit for bit.
    path_fit_seed: int = 0
    # "numpy" (kernel/path_fit.py: the same least squares fed from path lengths, seconds) or
    # "opensim" (OpenSim's PolynomialPathFitter, minutes; kept as the reference)
    path_fitter: str = "numpy"
    residual_optimal_force: float = 10.0
    reserve_optimal_force: float = 1.0
    torque_optimal_force: float = 250.0  # coordinates no muscle crosses (trunk, arms)
    feet: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_FEET))
    # a model without foot contact gets the method's own (track: OpenCap's 12 spheres,
    # methods/track/foot_spheres.py), through `prepare_model(edit_model=...)`
    add_foot_contact: bool = False


@dataclass
class PreparedModel:
    """The prepared model's description (JSON in `<folder>/prep.json`)."""

    model_path: str
    source_model: str
    method: str
    muscles: list[str]
    coordinates: list[str]
    root_coordinates: list[str]
    residuals: list[str]  # actuator names on the root, same order as root_coordinates
    reserves: dict[str, str]  # actuator name -> coordinate
    welded_joints: list[str]
    feet: dict[str, list[str]]
    apply_body: dict[str, str]  # side -> body the estimated ground force is applied to
    mass_kg: float
    contact_forces: list[str]
    polynomial_paths: bool
    path_fit: dict
    seconds: float
    # {file relative to the folder: SHA-256}: what the cache checks before using an entry
    files: dict[str, str] = field(default_factory=dict)
    # wall and CPU seconds per phase of the preparation (load, edit, sample, fit, map, write)
    phases: dict[str, dict[str, float]] = field(default_factory=dict)

    @classmethod
    def load(cls, folder: str | Path) -> PreparedModel:
        return cls(**json.loads((Path(folder) / "prep.json").read_text()))


def _motion_list(fit_motions) -> list[Path]:
    if fit_motions is None:
        return []
    if isinstance(fit_motions, (str, Path)):
        return [Path(fit_motions)]
    return sorted(Path(m) for m in fit_motions)


def cache_key(model_path: str | Path, settings: PrepSettings, fit_motions=None,
              template: str | Path | None = None) -> str:
    """The preparation's folder name: a hash of the preparation's format, the model file's
    content, the settings and, with polynomial paths, the motions' contents the paths are
    fitted around (a new sequence of the same subject gets paths fitted over its poses too,
    never paths fitted elsewhere) and the template whose paths are mapped (its own key, the
    folder's name). Contents, not paths: the same subject in another dataset or run finds the
    same entry."""
    from musclekit.pipelines.simulate.dynamics.kernel.model_cache import FORMAT

    blob = FORMAT + file_sha256(Path(model_path)) + json.dumps(asdict(settings), sort_keys=True,
                                                               default=list)
    if settings.polynomial_paths:
        blob += "".join(file_sha256(m) for m in _motion_list(fit_motions))
        if template is not None:
            from musclekit.pipelines.simulate.dynamics.kernel.path_map import MAP_RULE

            blob += f"template:{Path(template).name}:{MAP_RULE}"
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def path_fit_violations(prep: PreparedModel, motion, tolerance: float = 1e-6) -> list[str]:
    """Coordinates of `motion` (SI) that leave the ranges the polynomial muscle paths were
    fitted on, each as a sentence; empty when covered (or without polynomial paths)."""
    ranges = (prep.path_fit or {}).get("ranges") or {}
    out = []
    for name, (lo, hi) in ranges.items():
        if name not in motion.names:
            continue
        v = motion.column(name)
        if v.min() < lo - tolerance or v.max() > hi + tolerance:
            out.append(f"{name} spans [{v.min():.3f}, {v.max():.3f}] outside the fitted "
                       f"[{lo:.3f}, {hi:.3f}]")
    return out


def check_model(model_path: str | Path, settings: PrepSettings) -> None:
    """Refuse models the methods cannot use, with what to do about it."""
    load_checked_model(model_path, settings)


def load_checked_model(model_path: str | Path, settings: PrepSettings):
    """`check_model`, returning the loaded model (one read of the file for both)."""
    import opensim as osim

    path = Path(model_path)
    if not path.is_file():
        raise InputError(f"model file not found: {path}")
    model = osim.Model(str(path))
    if model.getMuscles().getSize() == 0:
        raise InputError(
            f"model {path} has no muscles: the muscle-driven methods need a musculoskeletal "
            "model (e.g. OpenCap's LaiUhlrich2022 or Rajagopal2015)"
        )
    bodies = model.getBodySet()
    for side, names in settings.feet.items():
        if not any(bodies.contains(n) for n in names):
            raise InputError(
                f"model {path} has none of the {side} foot bodies {list(names)}: ground "
                "reaction forces need the feet; pass the model's foot body names"
            )
    if settings.contact:
        geoms = model.getContactGeometrySet()
        foot = {n for names in settings.feet.values() for n in names}
        spheres = [
            geoms.get(i)
            for i in range(geoms.getSize())
            if geoms.get(i).getConcreteClassName() == "ContactSphere"
            and geoms.get(i).getFrame().findBaseFrame().getName() in foot
        ]
        forces = model.getForceSet()
        n_contact = sum(
            forces.get(i).getConcreteClassName() in CONTACT_FORCE_CLASSES
            for i in range(forces.getSize())
        )
        if (not spheres or n_contact == 0) and not settings.add_foot_contact:
            raise InputError(
                f"model {path} has no foot contact spheres with contact forces: the track "
                "method needs them (e.g. OpenCap's LaiArnoldModified2017_contacts.osim): pass "
                "--add-foot-contact to add OpenCap's 12 foot spheres, or use --method inverse"
            )
    return model


def prepare_model(
    model_path: str | Path,
    cache_dir: str | Path,
    settings: PrepSettings,
    fit_motion_path=None,
    edit_model: Callable[[Any], object] | None = None,
    template: str | Path | None = None,
) -> Path:
    """Prepare `model_path` once (cached in `cache_dir/<key>/`); returns the folder.

    fit_motion_path: the IK .mot (or a list of them, every sequence of this model) whose
    poses centre the polynomial path fit (needed when `settings.polynomial_paths`).
    edit_model: what the method adds to a model that lacks it (`Method.edit_model`), applied
    to the loaded model when `settings.add_foot_contact` and it has no contact forces yet.
    template: the prepared folder of another scaling of the same generic model (same bodies,
    joints and muscles): its polynomial paths are mapped onto this model and only the
    muscles the mapping does not fit within the bound of `kernel/path_map.py` are fitted
    afresh; part of the cache key. The dynamics stage does not use it (docs/dynamics.md).
    """
    from musclekit.pipelines.simulate.dynamics.kernel.model_cache import entry_complete, publish

    clock = PhaseClock()
    with clock("load"):
        model = load_checked_model(model_path, settings)
    folder = Path(cache_dir) / cache_key(model_path, settings, fit_motion_path, template)
    if entry_complete(folder):
        return folder
    start = time.perf_counter()
    from musclekit.process import remove_stale_temp_dirs, temp_dir_name

    # Folders of preparations that were killed (their process is gone) are removed first.
    remove_stale_temp_dirs(folder.parent)
    tmp = folder.with_name(temp_dir_name(folder.name))
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        info = _prepare_into(model, Path(model_path), tmp, settings, fit_motion_path,
                             edit_model, template, clock)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    info.seconds = time.perf_counter() - start
    info.phases = clock.as_dict()
    (tmp / "prep.json").write_text(json.dumps(asdict(info), indent=2))
    # Atomic publish: a reader sees the whole entry or none; a concurrent preparation of the
    # same model simply loses the race.
    publish(tmp, folder)
    return folder


def _prepare_into(model, model_path: Path, tmp: Path, settings: PrepSettings, fit_motion_path,
                  edit_model, template, clock: PhaseClock) -> PreparedModel:
    """The preparation of the loaded `model`, written into `tmp`; returns its description
    (without timings)."""
    import opensim as osim

    from musclekit.pipelines.simulate.dynamics.kernel.model_cache import file_digests

    with clock("edit"):
        if settings.contact and settings.add_foot_contact:
            forces = model.getForceSet()
            if not any(forces.get(i).getConcreteClassName() in CONTACT_FORCE_CLASSES
                       for i in range(forces.getSize())):
                if edit_model is None:
                    raise InputError("add_foot_contact needs the method's model edit "
                                     "(prepare_model(edit_model=Method.edit_model))")
                edit_model(model)
        state = model.initSystem()
        cset = model.getCoordinateSet()

        # Locked coordinates must become welds (Moco does not support locked coordinates); a
        # joint is welded only when all its coordinates are locked.
        locked = {cset.get(i).getName() for i in range(cset.getSize())
                  if cset.get(i).getLocked(state)}
        weld = []
        joints = model.getJointSet()
        for i in range(joints.getSize()):
            j = joints.get(i)
            names = [j.get_coordinates(k).getName() for k in range(j.numCoordinates())]
            if names and all(n in locked for n in names):
                weld.append(j.getName())
        # Actuators on welded coordinates must go first, else the model no longer connects.
        forces = model.updForceSet()
        contact = []
        for i in reversed(range(forces.getSize())):
            f = forces.get(i)
            cls = f.getConcreteClassName()
            if cls == "CoordinateActuator":
                ca = osim.CoordinateActuator.safeDownCast(f)
                if ca.get_coordinate() in locked:
                    forces.remove(i)
            elif cls in CONTACT_FORCE_CLASSES:
                contact.append(f.getName())
                if not settings.contact:
                    forces.remove(i)
        if weld:
            # The operator itself on the model in memory: a ModelProcessor would copy the
            # model first (~0.5 s on an 80-muscle model).
            model.finalizeFromProperties()
            osim.ModOpReplaceJointsWithWelds(_names(weld)).operate(model, "")
            model.finalizeConnections()
        state = model.initSystem()
        cset = model.getCoordinateSet()
        coords = [cset.get(i).getName() for i in range(cset.getSize())]
        root = root_joint(model)
        root_coords = [root.get_coordinates(i).getName() for i in range(6)]
        # Every root coordinate gets a residual; other coordinates a reserve unless a coupler
        # drives them or they have an actuator already. A coordinate still locked (its joint
        # has free ones too, so it was not welded) gets neither: its lock holds it, and an
        # actuator on it was what made `track` refuse a lab's model with a locked lumbar
        # rotation ("not an independent coordinate").
        still_locked = {cset.get(i).getName() for i in range(cset.getSize())
                        if cset.get(i).getLocked(state)}
        skip = ((set(couplers(model)) | coordinate_actuated(model)) - set(root_coords)
                | still_locked)
        residual_map, reserves = add_coordinate_actuators(
            model, state, ActuatorStrengths(settings.residual_optimal_force,
                                            settings.reserve_optimal_force,
                                            settings.torque_optimal_force), skip)
        residuals = list(residual_map)
        model.finalizeConnections()
        state = model.initSystem()
        muscles = [model.getMuscles().get(i).getName() for i in range(model.getMuscles().getSize())]
        bodies = model.getBodySet()
        feet = {s: [n for n in names if bodies.contains(n)] for s, names in settings.feet.items()}
        mass = model.getTotalMass(state)
    prepared = tmp / "model.osim"

    path_fit: dict = {}
    files = ["model.osim"]
    if settings.polynomial_paths:
        motions = _motion_list(fit_motion_path)
        if not motions:
            raise InputError("polynomial muscle paths need an IK motion to fit around")
        if settings.path_fitter == "numpy":
            path_fit = _fit_in_memory(model, state, motions, tmp / "paths", settings, template,
                                      clock)
        else:
            with clock("write"):
                model.printToXML(str(prepared))
            path_fit = fit_polynomial_paths(prepared, motions, tmp / "paths", settings)
        with clock("write"):
            # ModOpReplacePathsWithFunctionBasedPaths itself on the model in memory (no
            # re-read of the file, no ModelProcessor copy).
            model.finalizeFromProperties()
            osim.ModOpReplacePathsWithFunctionBasedPaths(path_fit["file"]).operate(model, "")
            model.finalizeConnections()
        path_fit["file"] = str(Path(path_fit["file"]).relative_to(tmp))
        files.append(path_fit["file"])
    with clock("write"):
        model.printToXML(str(prepared))

    return PreparedModel(
        model_path="model.osim",
        source_model=str(Path(model_path).resolve()),
        method=settings.method,
        muscles=muscles,
        coordinates=coords,
        root_coordinates=root_coords,
        residuals=residuals,
        reserves=reserves,
        welded_joints=weld,
        feet=feet,
        apply_body={s: names[0] for s, names in feet.items()},
        mass_kg=mass,
        contact_forces=contact if settings.contact else [],
        polynomial_paths=settings.polynomial_paths,
        path_fit=path_fit,
        seconds=0.0,
        files=file_digests(tmp, files),
    )


def _names(names: list[str]):
    import opensim as osim

    out = osim.StdVectorString()
    for n in names:
        out.append(n)
    return out


# Bounds of the fitter's own sampling (degrees): far below the spacing of doubles around any
# angle it samples (a pose of exactly 0 rad moves by < 1e-300 rad, which no path length feels).
_NO_SPREAD_DEG = 1e-300


def sample_poses(frames: np.ndarray, rotational: list[bool], spread_rad: float,
                 per_frame: int, seed: int) -> np.ndarray:
    """`per_frame` poses around each row of `frames` (F, C): a Latin hypercube over the
    rotational columns, +-`spread_rad` around the frame, from a generator seeded with `seed`;
    other columns keep the frame's value. Each frame is followed by its samples, the frame
    itself first (the fit always sees the poses of the motion). Returns (F * per_frame, C)."""
    rng = np.random.default_rng(seed)
    rot = np.flatnonzero(rotational)
    n = max(1, int(per_frame))
    out = np.repeat(np.asarray(frames, dtype=float), n, axis=0)
    if len(rot) and n > 1:
        for f in range(len(frames)):
            # Latin hypercube: each column's n strata hit once, in a random order.
            strata = np.argsort(rng.random((n - 1, len(rot))), axis=0)
            unit = (strata + rng.random((n - 1, len(rot)))) / (n - 1)
            out[f * n + 1:(f + 1) * n, rot] += (2.0 * unit - 1.0) * spread_rad
    return out


def _fit_inputs(model_path: Path, motion_paths: list[Path], settings: PrepSettings):
    """What both fitters fit: the model reduced to its muscles, with the joints no muscle
    crosses welded; its free coordinates; the seeded sample poses (N, C) around the motions'
    frames; the span per rotational coordinate (rad). Returns (model, state, weld, cols,
    rotational, sampled, ranges)."""
    import opensim as osim

    full = osim.Model(str(model_path))
    state = full.initSystem()
    fcs = full.getCoordinateSet()
    names = [fcs.get(i).getName() for i in range(fcs.getSize())]
    if settings.path_fitter == "opensim":
        muscled = muscled_coordinates(full, state, names)
    else:
        muscled = muscled_coordinates_fd(full, names)
    # Joints no muscle crosses (the root, trunk, arms) are welded for the fit: path lengths do
    # not depend on them, and the fitter's cost grows with every coordinate it samples.
    weld = []
    joints = full.getJointSet()
    for i in range(joints.getSize()):
        j = joints.get(i)
        names = [j.get_coordinates(k).getName() for k in range(j.numCoordinates())]
        if names and not any(n in muscled for n in names):
            weld.append(j.getName())
    # Only muscles matter to the fit; actuators on welded coordinates would not connect.
    base = osim.Model(str(model_path))
    forces = base.updForceSet()
    for i in reversed(range(forces.getSize())):
        if osim.Muscle.safeDownCast(forces.get(i)) is None:
            forces.remove(i)
    base.finalizeConnections()
    model = with_welds(osim.ModelProcessor(base), weld).process()
    state = model.initSystem()
    cset = model.getCoordinateSet()
    rotational = {c for c, u in coordinate_units(model).items() if u == "rad"}
    cols = [cset.get(i).getName() for i in range(cset.getSize())
            if not cset.get(i).getLocked(state)]
    sampled, ranges = _sample_around(model, cols, rotational, motion_paths, settings)
    return model, state, weld, cols, rotational, sampled, ranges


def motion_frames(model, cols: list[str], rotational: set[str], motion_paths: list[Path],
                  max_frames: int) -> np.ndarray:
    """`max_frames` evenly spaced frames (F, C) of each motion, columns `cols` (the model's
    default value where a motion lacks one)."""
    from musclekit.pipelines.simulate.opensim.files import read_mot

    cset = model.getCoordinateSet()
    poses = []
    for motion_path in motion_paths:
        motion = read_mot(motion_path, rotational=rotational)
        n_frames = min(len(motion.time_s), max(2, max_frames))
        frames = np.unique(np.linspace(0, len(motion.time_s) - 1, n_frames).round().astype(int))
        for k in frames:
            poses.append([float(motion.values[k, motion.names.index(n)]) if n in motion.names
                          else cset.get(n).getDefaultValue() for n in cols])
    return np.asarray(poses)


def _sample_around(model, cols: list[str], rotational: set[str], motion_paths: list[Path],
                   settings: PrepSettings) -> tuple[np.ndarray, dict]:
    """The seeded sample poses (N, C) around the motions' frames, and the span per rotational
    coordinate (rad) they cover."""
    span = motion_frames(model, cols, rotational, motion_paths, settings.path_fit_max_frames)
    r = settings.path_fit_range_deg
    ranges = {n: [float(span[:, j].min() - np.deg2rad(r)), float(span[:, j].max() + np.deg2rad(r))]
              for j, n in enumerate(cols) if n in rotational}
    sampled = sample_poses(span, [n in rotational for n in cols], np.deg2rad(r),
                           settings.path_fit_samples_per_frame, settings.path_fit_seed)
    return sampled, ranges


def fit_columns(model, state) -> list[str]:
    """The coordinates the path fit samples: the unlocked coordinates of the joints that
    have a coordinate some muscle's length depends on (the others, root, trunk and arms,
    stay at their default values: no path length depends on them)."""
    cset = model.getCoordinateSet()
    names = [cset.get(i).getName() for i in range(cset.getSize())]
    muscled = muscled_coordinates_fd(model, names, state)
    cols = set()
    joints = model.getJointSet()
    for i in range(joints.getSize()):
        j = joints.get(i)
        mine = [j.get_coordinates(k).getName() for k in range(j.numCoordinates())]
        if any(n in muscled for n in mine):
            cols.update(n for n in mine if not cset.get(n).getLocked(state))
    return [n for n in names if n in cols]


def _fit_in_memory(model, state, motions: list[Path], out_dir: Path, settings: PrepSettings,
                   template, clock: PhaseClock) -> dict:
    """The numpy fit (or, with a `template`, the mapping) on the prepared model in memory:
    no second read of the model, no welded copy. Returns what `fit_polynomial_paths` does."""
    start = time.perf_counter()
    with clock("sample"):
        cols = fit_columns(model, state)
        rotational = {c for c, u in coordinate_units(model).items() if u == "rad"}
        sampled, ranges = _sample_around(model, cols, rotational, motions, settings)
    out_file = out_dir / f"{model.getName()}_FunctionBasedPathSet.xml"
    common = {"frames": len(sampled), "coordinates": cols, "welded_for_fit": [],
              "ranges": ranges, "fitter": settings.path_fitter}
    if template is not None:
        from musclekit.pipelines.simulate.dynamics.kernel.path_map import map_paths

        fit = map_paths(model, state, cols, sampled, Path(template), settings.path_fit_max_order,
                        out_file, clock, per_frame=settings.path_fit_samples_per_frame)
    else:
        fit = fit_paths(model, cols, sampled, settings.path_fit_max_order, out_file,
                        state=state, clock=clock)
    muscles = fit["muscles"]
    errors = {k: max(m[k] for m in muscles.values()) for k in
              ("length_rms_m", "length_max_m", "moment_arm_rms_m", "moment_arm_max_m")}
    extra = {k: fit[k] for k in ("mapping",) if k in fit}
    return {"file": str(out_file), "seconds": time.perf_counter() - start, **common,
            "errors": errors, "muscles": muscles, **extra}


def fit_polynomial_paths(
    model_path: Path, motion_paths: list[Path], out_dir: Path, settings: PrepSettings
) -> dict:
    """Fit polynomial muscle-tendon lengths / moment arms around the poses of the motions
    (`path_fit_max_frames` poses of each, sampled +-`path_fit_range_deg` around them) with
    `settings.path_fitter`: "numpy" (kernel/path_fit.py: OpenSim's fit from path lengths, in
    seconds) or "opensim" (OpenSim's PolynomialPathFitter, minutes); returns {"file",
    "seconds", "frames", "coordinates", "ranges" (per rotational coordinate, the span the fit
    covers, rad), "fitter"} and, from the numpy fitter, "errors" (the worst muscle's RMS and
    max length / moment-arm error on the samples, m) and "muscles" (each one's)."""
    start = time.perf_counter()
    model, state, weld, cols, rotational, sampled, ranges = _fit_inputs(
        model_path, motion_paths, settings)
    common = {"frames": len(sampled), "coordinates": cols, "welded_for_fit": weld,
              "ranges": ranges, "fitter": settings.path_fitter}
    if settings.path_fitter == "numpy":
        out_file = out_dir / f"{model.getName()}_FunctionBasedPathSet.xml"
        fit = fit_paths(model, cols, sampled, settings.path_fit_max_order, out_file)
        muscles = fit["muscles"]
        errors = {k: max(m[k] for m in muscles.values()) for k in
                  ("length_rms_m", "length_max_m", "moment_arm_rms_m", "moment_arm_max_m")}
        return {"file": str(out_file), "seconds": time.perf_counter() - start, **common,
                "errors": errors, "muscles": muscles}
    if settings.path_fitter != "opensim":
        raise InputError(f"unknown path fitter {settings.path_fitter!r}: numpy or opensim")
    return _fit_with_opensim(model, state, cols, sampled, out_dir, settings, common, start)


def _fit_with_opensim(model, state, cols, sampled, out_dir, settings, common, start) -> dict:
    """The fit by OpenSim's PolynomialPathFitter (the reference the numpy fit reproduces)."""
    import opensim as osim

    cset = model.getCoordinateSet()
    table = osim.TimeSeriesTable()
    labels = osim.StdVectorString()
    for n in cols:
        labels.append(cset.get(n).getAbsolutePathString() + "/value")
    table.setColumnLabels(labels)
    table.addTableMetaDataString("inDegrees", "no")
    # The fitter wants increasing times; the poses' own times do not matter to it.
    for i, pose in enumerate(sampled):
        table.appendRow(float(i), osim.RowVector.createFromMat(pose))
    out_dir.mkdir(parents=True, exist_ok=True)
    fitter = osim.PolynomialPathFitter()
    fitter.setModel(osim.ModelProcessor(model))
    fitter.setCoordinateValues(osim.TableProcessor(table))
    fitter.setOutputDirectory(str(out_dir))
    fitter.setMaximumPolynomialOrder(settings.path_fit_max_order)
    # The samples are ours (seeded): the fitter takes each row as it is. Its own Latin
    # hypercube cannot be seeded (std::random_device) and still runs, once per row, inside
    # bounds so narrow that it moves no coordinate by a representable amount.
    fitter.setNumSamplesPerFrame(1)
    fitter.setGlobalCoordinateSamplingBounds(osim.Vec2(-_NO_SPREAD_DEG, _NO_SPREAD_DEG))
    fitter.run()
    files = sorted(out_dir.glob("*_FunctionBasedPathSet.xml"))
    if not files:
        raise InputError(f"polynomial path fitting wrote no path set into {out_dir}")
    return {"file": str(files[0]), "seconds": time.perf_counter() - start, **common}
