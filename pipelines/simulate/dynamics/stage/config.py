"""Typed settings of the dynamics stage (`musclekit simulate` after inverse kinematics)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from musclekit.compute import ComputeConfig
from musclekit.errors import InputError
from musclekit.options import apply_options
from musclekit.pipelines.simulate.dynamics.kernel.chunks import ChunkPlan
from musclekit.pipelines.simulate.dynamics.kernel.prep import PrepSettings
from musclekit.pipelines.simulate.dynamics.kernel.settings import SolveSettings
from musclekit.pipelines.simulate.dynamics.methods import get_method, method_names
from musclekit.pipelines.simulate.dynamics.methods.inverse.settings import InverseSettings
from musclekit.pipelines.simulate.dynamics.stage.options import OPTIONS
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
    cache_dir: where prepared models live (default: the user's cache shared by every run
        and dataset, kernel/model_cache.py `default_cache_dir`).
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


def config_from_cli(compute: ComputeConfig | None = None, retry_failed: bool = False,
                    **values: object) -> DynamicsConfig:
    """A validated DynamicsConfig from command-line option values (None = default), by the
    declarations in OPTIONS; an unknown name is an InputError."""
    cfg = DynamicsConfig(compute=compute or ComputeConfig())
    apply_options(cfg, OPTIONS, {"retry_failed": retry_failed, **values})
    cfg.validate()
    return cfg
