"""Command-line options declared once: a declaration says the option's parameter name, its
flags, type, default and help, the stage it belongs to, and (for options that set a typed
config) how its value goes into that config. `cli/options.py` turns declarations into the
command's parameters; the stage code builds its config from the same declarations, so an
option's name, help, refusal and effect cannot drift apart."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from musclekit.errors import InputError


@dataclass(frozen=True)
class Option:
    """name: the Python parameter. flags: as typed (the first is the option's name in
    messages). default: None means "not given" (the config's own default then holds).
    stage: the part of the command it applies to ("" = every part). apply(config, value):
    sets a given value on the stage's config. panel: its group in --help. multiple: may be
    repeated (a list)."""

    name: str
    flags: tuple[str, ...]
    type: Any
    help: str
    default: Any = None
    stage: str = ""
    apply: Callable[[Any, Any], None] | None = None
    panel: str | None = None
    multiple: bool = False
    metavar: str | None = None

    @property
    def flag(self) -> str:
        return self.flags[0].split("/")[0]

    def typed(self, value: Any) -> str:
        """The flag as the user typed it: `--no-refine` for a switched-off `--refine/--no-refine`."""
        on, _, off = self.flags[0].partition("/")
        return off if (off and value is False) else on

    def given(self, value: Any) -> bool:
        """Did the user set it? (a flag left at its default was not set)"""
        if self.multiple:
            return bool(value)
        return value is not None and value != self.default


def given_options(options: Iterable[Option], values: dict[str, Any], stage: str) -> list[str]:
    """The flags of `stage` the user set in `values`, as typed."""
    return [o.typed(values.get(o.name)) for o in options
            if o.stage == stage and o.given(values.get(o.name))]


def apply_options(config: Any, options: Iterable[Option], values: dict[str, Any]) -> Any:
    """Set every given option with an `apply` on `config`; a value for a name no option
    declares is an InputError (a typo in a script must not be ignored)."""
    declared = {o.name: o for o in options}
    unknown = sorted(set(values) - set(declared))
    if unknown:
        raise InputError(f"unknown options: {unknown}; known: {sorted(declared)}")
    for option in declared.values():  # in declaration order: a method before its settings
        value = values.get(option.name)
        if option.apply is not None and option.given(value):
            option.apply(config, value)
    return config
