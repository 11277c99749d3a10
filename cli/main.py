"""Entry point of the `musclekit` command.

Stage commands live in their own modules (`cli/<stage>.py`), each exposing
`register(app)`. Errors meant for the user are `MusclekitError`s: they are printed as one
clear message and mapped to the exit codes documented in docs/cli.md.
"""

from __future__ import annotations

import importlib
import sys

import typer
from rich.markup import escape

from musclekit._version import __version__
from musclekit.errors import ExitCode, MusclekitError
from musclekit.progress import console

app = typer.Typer(
    name="musclekit",
    help="Turn human-motion recordings into muscle-activation datasets and train models on them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Each module registers its own commands; one line per stage.
_STAGE_MODULES: tuple[str, ...] = (
    "musclekit.cli.dataset",
    "musclekit.cli.demo",
    "musclekit.cli.align",
    "musclekit.cli.keypoints",
    "musclekit.cli.train",
    "musclekit.cli.simulate",
    "musclekit.cli.dynamics",
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"musclekit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Print the version."
    ),
) -> None:
    """musclekit: raw human-motion recordings to muscle-activation datasets."""


for _module in _STAGE_MODULES:
    importlib.import_module(_module).register(app)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the process exit code (see musclekit.errors.ExitCode)."""
    try:
        returned = app(args=argv, standalone_mode=False)
    except MusclekitError as err:
        console.print(f"[bold red]error:[/] {escape(str(err))}", soft_wrap=True)
        return int(err.exit_code)
    except typer.Exit as done:
        return int(done.exit_code or 0)
    except typer.Abort:
        console.print("aborted")
        return int(ExitCode.ERROR)
    except KeyboardInterrupt:
        console.print("interrupted: rerun the same command to resume")
        return 130
    except Exception as err:
        # Usage errors of the (vendored) click carry their own message and exit code 2.
        if callable(getattr(err, "show", None)) and isinstance(getattr(err, "exit_code", None), int):
            err.show()
            return int(err.exit_code)
        raise
    # In non-standalone mode click returns the code of a `typer.Exit`, else the command's value.
    return returned if isinstance(returned, int) else int(ExitCode.OK)


if __name__ == "__main__":
    sys.exit(main())
