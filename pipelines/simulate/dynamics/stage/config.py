"""Typed settings of the dynamics stage (`musclekit simulate` after inverse kinematics)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from musclekit.compute import ComputeConfig
from musclekit.errors import InputError
from musclekit.options import Option, apply_options
from musclekit.pipelines.simulate.dynamics.kernel.chunks import ChunkPlan
from musclekit.pipelines.simulate.dynamics.kernel.prep import PrepSettings
from musclekit.pipelines.simulate.dynamics.kernel.settings import SolveSettings
from musclekit.pipelines.simulate.dynamics.methods import get_method, method_names
from musclekit.pipelines.simulate.dynamics.methods.inverse.settings import InverseSettings
from musclekit.pipelines.simulate.dynamics.upper import UpperSettings

METHODS = method_names()
SOLVERS = ("casadi", "moco")


@dataclass
class DynamicsConfig:
    """Everything `run_dynamics` needs.

    method: "inverse" (estimated ground forces + the muscle redundancy problem; default)
        or "track" (muscle-driven tracking with foot contact spheres, as MinT / OpenCap).
    output_rate_hz: rate of every output stream (MinT: 50 fps).
    chunk_time_limit_s: wall-clock limit of one chunk's solve; past it the chunk is a gap.
    retry_failed: re-solve chunks that failed in an earlier run (otherwise they are kept).
    sequences: only these sequence ids (all with kinematics when None).
    cache_dir: where prepared models live (default `<dataset>/opensim/_dynamics_models`).
    upper_model: an .osim with muscles beyond the lower-body model (e.g. a thoracolumbar
        model), solved by static optimisation with the lower-body solution's ground forces
        after each sequence is written (streams `activations_upper`, `muscle_forces_upper`).
    upper: static optimisation settings of the upper body.
    """

    method: str = "inverse"
    chunk: ChunkPlan = field(default_factory=ChunkPlan)
    # The method's own settings (its class in the registry; InverseSettings, TrackSettings).
    solve: SolveSettings = field(default_factory=InverseSettings)
    prep: PrepSettings = field(default_factory=PrepSettings)
    compute: ComputeConfig = field(default_factory=ComputeConfig)
    output_rate_hz: float = 50.0
    chunk_time_limit_s: float = 3600.0
    retry_failed: bool = False
    sequences: list[str] | None = None
    cache_dir: str | None = None
    upper_model: str | None = None
    upper: UpperSettings = field(default_factory=UpperSettings)

    def validate(self) -> None:
        method = get_method(self.method)
        if not isinstance(self.solve, method.settings):
            # Settings of another method (or the shared base): keep the shared values.
            shared = {k: getattr(self.solve, k) for k in SolveSettings.__dataclass_fields__}
            self.solve = method.settings(**shared)
        if self.prep.method != self.method:
            self.prep.method = self.method
            self.prep.contact = method.contact
        self.chunk.validate()
        if self.output_rate_hz <= 0:
            raise InputError(f"output rate must be positive, got {self.output_rate_hz} Hz")
        if self.solve.solver not in SOLVERS:
            raise InputError(f"unknown solver {self.solve.solver!r}; choose one of "
                             f"{', '.join(SOLVERS)}")
        if not self.solve.filter_hz > 0:
            raise InputError(f"--filter-hz must be positive, got {self.solve.filter_hz} Hz")
        if self.solve.mesh_per_s <= 0 or self.solve.max_iterations <= 0:
            raise InputError("mesh points per second and max iterations must be positive")
        if self.upper_model is not None and not Path(self.upper_model).is_file():
            raise InputError(f"upper-body model file not found: {self.upper_model}; pass an "
                             "existing .osim to --upper-model")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["compute"] = {"workers": self.compute.workers, "scheduler": self.compute.scheduler}
        return d


# -- command-line options (declared once: `musclekit simulate` builds its parameters, its
# `--until ik` refusal and this config from these declarations) -----------------------------

PANEL = "Dynamics (part 2: muscle-driven optimisation; refused with --until ik)"


def _set_method(cfg: DynamicsConfig, name: str) -> None:
    cfg.method = name
    cfg.solve = get_method(name).settings()


def _set_buffer(cfg: DynamicsConfig, buffer_s: float) -> None:
    cfg.chunk.buffer_s = buffer_s
    cfg.chunk.blend_s = min(cfg.chunk.blend_s, buffer_s)  # a seam blends inside the buffers


def _set_feet(side: str) -> Callable[[DynamicsConfig, str], None]:
    def apply(cfg: DynamicsConfig, bodies: str) -> None:
        cfg.prep.feet[side] = tuple(b.strip() for b in bodies.split(",") if b.strip())
    return apply


def _set_foot_contact(cfg: DynamicsConfig, add: bool) -> None:
    if not get_method(cfg.method).contact:
        raise InputError(f"--add-foot-contact is for --method track (the {cfg.method} method "
                         "estimates the ground forces without contact spheres)")
    cfg.prep.add_foot_contact = True


def _setter(*path: str) -> Callable[[DynamicsConfig, object], None]:
    def apply(cfg: DynamicsConfig, value: object) -> None:
        target = cfg
        for attr in path[:-1]:
            target = getattr(target, attr)
        setattr(target, path[-1], value)
    return apply


def _dyn(name: str, flags: str | tuple[str, ...], type_: object, help_: str,
         apply: Callable[[DynamicsConfig, object], None], **kw: object) -> Option:
    flags = (flags,) if isinstance(flags, str) else flags
    return Option(name=name, flags=flags, type=type_, help=help_, stage="dynamics",
                  apply=apply, panel=PANEL, **kw)


OPTIONS: tuple[Option, ...] = (
    _dyn("method", "--method", str, "inverse (estimated ground forces; fast, default) or track "
         "(tracking with foot contact spheres; needs a model with them).", _set_method),
    _dyn("retry_failed", "--retry-failed", bool, "Re-solve chunks that failed before.",
         _setter("retry_failed"), default=False),
    _dyn("chunk_s", "--chunk-s", float, "Chunk length in s (default 1.4).",
         _setter("chunk", "chunk_s")),
    _dyn("buffer_s", "--buffer-s", float, "Buffer on each side of a chunk in s (default 0.14).",
         _set_buffer),
    _dyn("mesh_per_s", "--mesh-per-s", float, "Collocation points per second (default 50).",
         _setter("solve", "mesh_per_s")),
    _dyn("max_iterations", "--max-iterations", int, "IPOPT iteration limit (default 2500).",
         _setter("solve", "max_iterations")),
    _dyn("tolerance", "--tolerance", float, "Convergence tolerance (default 1e-3).",
         _setter("solve", "tolerance")),
    _dyn("chunk_time_limit_s", "--chunk-time-limit-s", float, "Wall-clock limit per chunk; past "
         "it the chunk is a gap.", _setter("chunk_time_limit_s")),
    _dyn("polynomial_paths", "--polynomial-paths/--no-polynomial-paths", bool, "Fit polynomial "
         "muscle paths once per model (default on).", _setter("prep", "polynomial_paths")),
    _dyn("filter_hz", "--filter-hz", float, "Low-pass cut-off of the IK coordinates (default "
         "6 Hz).", _setter("solve", "filter_hz")),
    _dyn("foot_bodies_right", "--foot-bodies-right", str, "Comma-separated right foot bodies.",
         _set_feet("right")),
    _dyn("foot_bodies_left", "--foot-bodies-left", str, "Comma-separated left foot bodies.",
         _set_feet("left")),
    _dyn("sequences", "--sequence", str, "Only these sequence ids (repeatable).",
         lambda cfg, ids: setattr(cfg, "sequences", list(ids)), multiple=True),
    _dyn("solver", ("--solver", "--inverse-solver"), str, "casadi (problems stated from "
         "OpenSim, exact derivatives; default) or moco (MocoInverse / MocoTrack).",
         _setter("solve", "solver")),
    _dyn("add_foot_contact", "--add-foot-contact", bool, "Method track: add OpenCap's 12 foot "
         "contact spheres to a model without them (e.g. Rajagopal2015).", _set_foot_contact,
         default=False),
    _dyn("upper_model", "--upper-model", str, "A whole-body .osim with muscles beyond the "
         "lower-body model (e.g. thoracolumbar), solved by static optimisation with the "
         "lower-body ground forces.", lambda cfg, path: setattr(cfg, "upper_model", str(path))),
)


def config_from_cli(compute: ComputeConfig | None = None, retry_failed: bool = False,
                    **values: object) -> DynamicsConfig:
    """A validated DynamicsConfig from command-line option values (None = default), by the
    declarations in OPTIONS; an unknown name is an InputError."""
    cfg = DynamicsConfig(compute=compute or ComputeConfig())
    apply_options(cfg, OPTIONS, {"retry_failed": retry_failed, **values})
    cfg.validate()
    return cfg
