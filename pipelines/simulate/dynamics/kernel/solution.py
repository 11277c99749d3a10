"""What every method does around its solve: open the chunk (prepared model, filtered motion,
a report that stays `failed` until a solve converges), return the chunk's streams in one
shape, and measure the solution's quality the same way for every method."""

from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from musclekit.pipelines.simulate.dynamics.kernel.chunks import Chunk
from musclekit.pipelines.simulate.dynamics.kernel.filtering import lowpass
from musclekit.pipelines.simulate.dynamics.kernel.prep import PreparedModel
from musclekit.pipelines.simulate.dynamics.kernel.result import ChunkOutput, ChunkReport
from musclekit.pipelines.simulate.dynamics.kernel.settings import SolveSettings
from musclekit.pipelines.simulate.opensim.evaluate import GRAVITY_M_S2
from musclekit.pipelines.simulate.opensim.external_loads import GRF_CHANNELS, GRF_UNITS
from musclekit.pipelines.simulate.opensim.files import Motion, read_mot, rotational_coordinates
from musclekit.pipelines.simulate.opensim.model import coordinate_units

# A muscle whose activation reaches this is at its limit: the motion asks more of it than
# it has (or the model's muscle is too weak), and the optimiser cannot share the load.
SATURATED_ACTIVATION = 0.99


@dataclass
class ChunkContext:
    """One chunk as a method starts it."""

    prep: PreparedModel
    model_file: str
    report: ChunkReport
    motion: Motion  # the whole sequence, filtered, SI units
    units: dict[str, str]  # "m" or "rad" per coordinate of the prepared model
    chunk: Chunk
    work: Path

    def window(self, margin_samples: int = 5) -> Motion:
        """The motion over the chunk's solve window and a few samples either side, so that
        splines and differences are well defined at the window's ends."""
        dt = float(np.median(np.diff(self.motion.time_s)))
        return self.motion.window(self.chunk.solve_start_s - margin_samples * dt,
                                  self.chunk.solve_end_s + margin_samples * dt)

    @property
    def body_weight_n(self) -> float:
        return self.prep.mass_kg * GRAVITY_M_S2


def measured_on_times(ctx: ChunkContext, grf_file: str | Path | None,
                      grf_setup: str | Path | None, time_s: np.ndarray, filter_hz: float
                      ) -> np.ndarray:
    """The lab's plates (`--grf`/`--grf-setup`, or a C3D's) at `time_s`, low-passed like the
    kinematics: (N, len(GRF_CHANNELS)). Every method that uses measured forces reads them
    here, so the feet's assignment and the clock check are the same for all."""
    import opensim as osim

    from musclekit.errors import InputError
    from musclekit.pipelines.simulate.opensim.external_loads import read_measured_grf

    model = osim.Model(ctx.model_file)
    bodies = {model.getBodySet().get(i).getName() for i in range(model.getBodySet().getSize())}
    plates = read_measured_grf(grf_file, grf_setup,
                               feet={s: list(b) for s, b in ctx.prep.feet.items()},
                               model_bodies=bodies)
    if plates.time_s[0] > time_s[0] + 1e-6 or plates.time_s[-1] < time_s[-1] - 1e-6:
        raise InputError(f"the measured forces ({plates.time_s[0]:.3f}-{plates.time_s[-1]:.3f} "
                         f"s) do not cover this chunk ({time_s[0]:.3f}-{time_s[-1]:.3f} s): "
                         "forces and markers must share one clock")
    return plates.resample(time_s, filter_hz)


def _file_key(path: str | Path) -> tuple:
    """A file's identity for the caches of a chunk process: path, change time, size."""
    stat = os.stat(path)
    return (os.path.abspath(path), stat.st_mtime_ns, stat.st_size)


# What a chunk process reads again for every chunk of a sequence, kept for the next one (a
# chunk process solves many: stage/worker.py). Keyed by the files' identity, a few entries.
_MODEL_FACTS: OrderedDict[tuple, tuple[dict[str, str], set[str]]] = OrderedDict()
_MOTIONS: OrderedDict[tuple, Motion] = OrderedDict()
_CACHE_SIZE = 4


def _remember(cache: OrderedDict, key: tuple, make):
    if key in cache:
        cache.move_to_end(key)
        return cache[key]
    cache[key] = value = make()
    while len(cache) > _CACHE_SIZE:
        cache.popitem(last=False)
    return value


def _model_facts(model_file: str) -> tuple[dict[str, str], set[str]]:
    """The coordinates' units and the rotational coordinates of a model file."""
    import opensim as osim

    def read():
        model = osim.Model(model_file)
        return coordinate_units(model), rotational_coordinates(model)

    return _remember(_MODEL_FACTS, _file_key(model_file), read)


def _filtered_motion(motion_path: str | Path, rotational: set[str], filter_hz: float) -> Motion:
    # Degrees are converted by OpenSim's own rule (what its tools wrote in degrees).
    key = (*_file_key(motion_path), tuple(sorted(rotational)), float(filter_hz))
    motion = _remember(_MOTIONS, key, lambda: lowpass(
        read_mot(motion_path, rotational=rotational), filter_hz))
    return Motion(motion.time_s.copy(), list(motion.names), motion.values.copy())


def start_chunk(prep_folder: Path, motion_path: str | Path, chunk: Chunk,
                settings: SolveSettings, work: Path, method: str) -> ChunkContext:
    """What every method starts from: the prepared model's description and file, a report
    that stays `failed` until a solve converges, and the filtered motion."""
    prep = PreparedModel.load(prep_folder)
    report = ChunkReport(
        sequence_id=chunk.sequence_id, chunk=chunk.index, method=method, status="failed",
        core_start_s=chunk.core_start_s, core_end_s=chunk.core_end_s,
        solve_start_s=chunk.solve_start_s, solve_end_s=chunk.solve_end_s,
    )
    model_file = str(prep_folder / prep.model_path)
    units, rotational = _model_facts(model_file)
    motion = _filtered_motion(motion_path, rotational, settings.filter_hz)
    work.mkdir(parents=True, exist_ok=True)
    return ChunkContext(prep, model_file, report, motion, dict(units), chunk, work)


def residual_units(ctx: ChunkContext) -> list[str]:
    """Units of the residual and reserve actuators' loads, in `prep.residuals` then
    `prep.reserves` order: N on a translational coordinate, N m on a rotational one."""
    coords = list(ctx.prep.root_coordinates) + list(ctx.prep.reserves.values())
    return ["N" if ctx.units[c] == "m" else "N m" for c in coords]


def assess(report: ChunkReport, ctx: ChunkContext, activations: np.ndarray,
           residuals: np.ndarray, residual_names: list[str], units: list[str]) -> None:
    """Record what can go wrong in a solution, the same way for every method:
    largest residual force (N) and moment (N m) at the root, largest reserve load, muscles
    at full activation, and activations outside [0, 1] (a solver that broke its bounds)."""
    prep = ctx.prep
    is_res = np.array([n in prep.residuals for n in residual_names], dtype=bool)
    unit = np.asarray(units)

    def peak(mask: np.ndarray) -> float:
        return float(np.nanmax(np.abs(residuals[:, mask]))) if mask.any() else float("nan")

    report.max_residual_force_n = peak(is_res & (unit == "N"))
    report.max_residual_moment_nm = peak(is_res & (unit == "N m"))
    report.max_residual_force_bw = report.max_residual_force_n / ctx.body_weight_n
    report.max_reserve_nm = peak(~is_res & (unit == "N m"))
    report.max_reserve_n = peak(~is_res & (unit == "N"))
    act = np.asarray(activations, dtype=float)
    muscles = list(prep.muscles)
    report.saturated_muscles = [m for m, hi in zip(muscles, np.nanmax(act, axis=0), strict=True)
                                if hi >= SATURATED_ACTIVATION]
    report.activation_out_of_range = float(max(0.0, -np.nanmin(act), np.nanmax(act) - 1.0))


def unloaded_cop_to_nan(grf: np.ndarray, min_force_n: float = 1e-6) -> np.ndarray:
    """A copy of (N, 18) ground forces whose centre of pressure is NaN wherever that foot
    carries no vertical force: an unloaded foot has no centre of pressure, and a stored
    (0, 0, 0) would be blended into real ones at a seam."""
    out = np.array(grf, dtype=float, copy=True)
    idx = {c: i for i, c in enumerate(GRF_CHANNELS)}
    for side in ("right", "left"):
        unloaded = ~(out[:, idx[f"ground_force_{side}_vy"]] > min_force_n)
        for a in "xyz":
            out[unloaded, idx[f"ground_force_{side}_p{a}"]] = np.nan
    return out


def chunk_output(prep: PreparedModel, time_s: np.ndarray, activations: np.ndarray,
                 forces: np.ndarray, grf: np.ndarray, angles: tuple, residuals: tuple,
                 moments: tuple | None = None) -> ChunkOutput:
    """One chunk's streams as every method returns them; angles, residuals and (where the
    method has them) joint moments are (values, channel names, units)."""
    q, coord_names, q_units = angles
    res, res_names, res_units = residuals
    muscles = list(prep.muscles)
    grf = unloaded_cop_to_nan(grf)
    out = ChunkOutput(
        time_s=time_s,
        values={"activations": activations, "muscle_forces": forces, "grf": grf,
                "joint_angles_solved": q, "residuals": res},
        channels={"activations": muscles, "muscle_forces": muscles, "grf": list(GRF_CHANNELS),
                  "joint_angles_solved": coord_names, "residuals": res_names},
        units={"activations": [""] * len(muscles), "muscle_forces": ["N"] * len(muscles),
               "grf": list(GRF_UNITS), "joint_angles_solved": q_units, "residuals": res_units},
    )
    if moments is not None:
        values, names, units = moments
        out.values["joint_moments"] = values
        out.channels["joint_moments"] = list(names)
        out.units["joint_moments"] = list(units)
    return out
