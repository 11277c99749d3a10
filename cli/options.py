"""Typer parameters from option declarations (musclekit/options.py): a command whose options
are declared once gets its signature built here, so `--help`, parsing, refusals and the
stage's config all come from the same declaration."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any

import typer

from musclekit.options import Option


def group(panel: str | None, stage: str = "") -> Callable[..., Option]:
    """A declaration maker for one group of options (its --help panel and stage)."""
    def declare(name: str, flags: str, type_: Any, help_: str, **kw: Any) -> Option:
        return Option(name=name, flags=(flags,), type=type_, help=help_, panel=panel,
                      stage=stage, **kw)
    return declare


def parameter(option: Option) -> inspect.Parameter:
    annotation = list[option.type] if option.multiple else (
        option.type if option.type is bool and option.default is not None
        else option.type | None)
    default = [] if option.multiple else option.default
    info = typer.Option(default, *option.flags, help=option.help, rich_help_panel=option.panel,
                        metavar=option.metavar, show_default=option.default is not None)
    return inspect.Parameter(option.name, inspect.Parameter.KEYWORD_ONLY, default=info,
                             annotation=annotation)


def command(run: Callable[[dict[str, Any]], int], options: Iterable[Option],
            doc: str) -> Callable[..., int]:
    """A typer command taking every declared option; `run` gets their values by name."""
    options = list(options)

    def invoke(**values: Any) -> int:
        return run(values)

    invoke.__signature__ = inspect.Signature([parameter(o) for o in options])
    invoke.__annotations__ = {}
    invoke.__doc__ = doc
    invoke.__name__ = invoke.__qualname__ = run.__name__
    return invoke
