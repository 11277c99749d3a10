"""The dynamics stage's command-line options, declared once (musclekit/options.py):
`musclekit simulate` builds its parameters and its `--until ik` refusal from them and
`config.config_from_cli` its DynamicsConfig. Light on purpose: the command line imports this
module at start-up, so what the options set is imported when they are applied."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from musclekit.errors import InputError
from musclekit.options import Option

# The config the options set: stage/config.py's DynamicsConfig, which imports this module
# (named here without importing it back).
DynamicsConfig = Any

PANEL = "Dynamics (part 2: muscle-driven optimisation; refused with --until ik)"


def _set_method(cfg: DynamicsConfig, name: str) -> None:
    from musclekit.pipelines.simulate.dynamics.methods import get_method

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
    from musclekit.pipelines.simulate.dynamics.methods import get_method

    if not get_method(cfg.method).contact:
        raise InputError(f"--add-foot-contact is for --method track (the {cfg.method} method "
                         "estimates the ground forces without contact spheres)")
    cfg.prep.add_foot_contact = True


TRACK_GRF = ("none", "measured", "estimated")


def _set_track_grf(cfg: DynamicsConfig, mode: str) -> None:
    if mode not in TRACK_GRF:
        raise InputError(f"--track-grf {mode!r}: choose one of {', '.join(TRACK_GRF)}")
    if cfg.method != "track":
        raise InputError(f"--track-grf is for --method track (the {cfg.method} method has no "
                         "contact forces to track)")
    cfg.solve.track_grf = mode


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
    _dyn("track_grf", "--track-grf", str, "Method track: ground forces to track, none "
         "(default), measured (the plates: --grf/--c3d) or estimated (inverse's per-foot "
         "estimate); weight 1e4 on each foot's squared force error in body weights (1e2 "
         "in the first round).",
         _set_track_grf),
    _dyn("upper_model", "--upper-model", str, "A whole-body .osim with muscles beyond the "
         "lower-body model (e.g. thoracolumbar), solved by static optimisation with the "
         "lower-body ground forces.", lambda cfg, path: setattr(cfg, "upper_model", str(path))),
)


