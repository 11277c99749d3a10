"""The registry of dynamics methods: one package per method, the worker dispatches by name.

A method is a package `methods/<name>/` with
- `settings.py`: a dataclass extending `kernel.settings.SolveSettings` (its own options);
- `setup.py`: the OpenSim side (evaluate the model along the motion into a problem);
- its NLP in `nlp/<name>.py` (never imports opensim) and, where one exists, its Moco variant
  in `moco.py`;
- `solve.py` with `solve_chunk(prep_folder, motion_path, chunk, settings, work) ->
  (ChunkReport, ChunkOutput | None)` (kernel/solution.py has what every method does around
  its solve);
- `__init__.py` defining `METHOD = Method(...)`.
Adding a method = adding its package and its name to `BUILTIN` below; no other method and
no kernel module changes. The registry itself imports no opensim and no casadi: the solver
module is imported by the worker, in the chunk's own process.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module

from musclekit.errors import InputError
from musclekit.pipelines.simulate.dynamics.kernel.settings import SolveSettings

BUILTIN = ("inverse", "track")


@dataclass(frozen=True)
class Method:
    """name: as typed after --method. settings: its settings class. solver_module: the
    module (full import path) whose `solve_chunk` solves one chunk. contact: it solves
    with the model's foot contact spheres (models are prepared keeping them) instead of
    estimated ground forces. summary: one line for --help and docs. model_edit: see below."""

    name: str
    settings: type[SolveSettings]
    solver_module: str
    contact: bool
    summary: str
    # "module:function" adding what the method needs to a model without it (track: foot
    # contact spheres); called on the loaded opensim.Model during model preparation.
    model_edit: str | None = None
    # Another method whose results of the same chunk start this one (track: inverse's
    # activations); the stage passes their folder as the settings' `warm_start_dir`.
    warm_start_from: str | None = None

    def edit_model(self, model) -> object:
        if self.model_edit is None:
            raise InputError(f"method {self.name!r} has no model edit (nothing to add to a model)")
        module, _, function = self.model_edit.partition(":")
        return getattr(import_module(module), function)(model)

    def solve_chunk(self, prep_folder, motion_path, chunk, settings, work):
        """Import the method's solver (OpenSim side) and solve one chunk."""
        solver = import_module(self.solver_module)
        return solver.solve_chunk(prep_folder, motion_path, chunk, settings, work)

    def make_settings(self, values: dict | None = None) -> SolveSettings:
        """Its settings from a payload's plain values; unknown names are an InputError."""
        values = dict(values or {})
        known = set(self.settings.__dataclass_fields__)
        unknown = sorted(set(values) - known)
        if unknown:
            raise InputError(f"method {self.name!r} has no settings {unknown}; it knows "
                             f"{sorted(known)}")
        return self.settings(**values)


_REGISTRY: dict[str, Method] = {}


def register(method: Method) -> Method:
    if method.name in _REGISTRY and _REGISTRY[method.name] is not method:
        raise ValueError(f"a dynamics method named {method.name!r} is registered already")
    _REGISTRY[method.name] = method
    return method


def _load_builtin() -> None:
    for name in BUILTIN:
        if name not in _REGISTRY:
            register(import_module(f"{__name__}.{name}").METHOD)


def method_names() -> tuple[str, ...]:
    _load_builtin()
    return tuple(_REGISTRY)


def get_method(name: str) -> Method:
    """The registered method `name`; InputError naming the choices otherwise."""
    _load_builtin()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise InputError(f"unknown method {name!r}; choose one of "
                         f"{', '.join(_REGISTRY)}") from None
