"""Entry point of the `musclekit` command.

Stage commands live in their own modules (`cli/<stage>.py`), each exposing
`register(app)`. Errors meant for the user are `MusclekitError`s: they are printed as one
clear message and mapped to the exit codes documented in docs/cli.md.

Global options: `--quiet`/`-q` (errors and warnings only) and `--verbose`/`-v` (details,
and the traceback behind an error). They may be given before or after the command name
(`musclekit -q simulate ...` or `musclekit simulate ... --quiet`).
"""

from __future__ import annotations

import errno
import importlib
import sys

import typer
from rich.markup import escape

from musclekit._version import __version__
from musclekit.errors import ExitCode, MusclekitError
from musclekit.progress import NORMAL, QUIET, VERBOSE, err_console, set_verbosity, verbosity

app = typer.Typer(
    name="musclekit",
    help="Turn human-motion recordings into muscle-activation datasets and train models on "
         "them. align, simulate and keypoints write one default dataset folder "
         "(./musclekit-data; `musclekit config show`) that train reads, so commands chain "
         "without --out or DATASET.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # click's plain help: wraps at the terminal width and never cuts option names
    # (rich's tables cut them at 80 columns).
    rich_markup_mode=None,
)


try:  # typer >= 0.24 carries its own copy of click
    from typer._click import _textwrap as _help_textwrap
except ImportError:  # pragma: no cover - older typer on click
    from click import _textwrap as _help_textwrap


class _WholeWordWrapper(_help_textwrap.TextWrapper):
    """click's help wrapper, never breaking at a hyphen: option names in the prose
    (--job-memory, dask-jobqueue) stay whole, so a user can copy them."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("break_on_hyphens", False)
        super().__init__(*args, **kwargs)


_help_textwrap.TextWrapper = _WholeWordWrapper

# Each module registers its own commands; one line per stage.
_STAGE_MODULES: tuple[str, ...] = (
    "musclekit.cli.dataset",
    "musclekit.cli.demo",
    "musclekit.cli.config",
    "musclekit.cli.align",
    "musclekit.cli.keypoints",
    "musclekit.cli.train",
    "musclekit.cli.simulate",
    "musclekit.cli.dynamics",
    "musclekit.cli.imports",
    "musclekit.cli.remove",
    "musclekit.cli.score",
    "musclekit.cli.view",
)
GLOBAL_FLAGS = {"--quiet": QUIET, "-q": QUIET, "--verbose": VERBOSE, "-v": VERBOSE}
# Commands that write the default dataset when --out is not given (see musclekit.config).
_DEFAULT_OUT_COMMANDS = ("align", "import")


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"musclekit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Print the version."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only errors and warnings "
                               "(also accepted after the command name)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Print details, and the "
                                 "traceback behind an error (also after the command name)."),
) -> None:
    """musclekit: raw human-motion recordings to muscle-activation datasets.

    Commands chain on one default dataset folder (./musclekit-data, or `musclekit config
    set dataset DIR`): align, simulate and keypoints write it, train reads it.
    """
    if quiet and verbose:
        from musclekit.errors import InputError

        raise InputError("--quiet and --verbose contradict each other: give one")
    set_verbosity(QUIET if quiet else VERBOSE if verbose else NORMAL)
    if ctx.invoked_subcommand in _DEFAULT_OUT_COMMANDS:
        from musclekit.config import default_dataset

        # A stage command whose --out is required in its own module gets the default
        # dataset folder as its default.
        ctx.default_map = {**(ctx.default_map or {}),
                           ctx.invoked_subcommand: {"out": str(default_dataset())}}
        command = ctx.command.get_command(ctx, ctx.invoked_subcommand)
        for param in getattr(command, "params", []):
            if param.name == "out":
                param.required = False  # it has a default now; help must not say required


for _module in _STAGE_MODULES:
    importlib.import_module(_module).register(app)

GLOBAL_EPILOG = ("Also: -q/--quiet (errors and warnings only), -v/--verbose (details and "
                 "tracebacks), anywhere on the line.")
for _info in app.registered_commands:
    _info.epilog = _info.epilog or GLOBAL_EPILOG


def hoist_global_flags(argv: list[str]) -> list[str]:
    """Move --quiet/--verbose given after the command name in front of it (before a `--`)."""
    try:
        end = argv.index("--")
    except ValueError:
        end = len(argv)
    flags = [a for a in argv[:end] if a in GLOBAL_FLAGS]
    rest = [a for a in argv[:end] if a not in GLOBAL_FLAGS]
    return flags + rest + argv[end:]


def _has_out_option(argv: list[str]) -> bool:
    """Whether the command on this line takes --out (only then may a message suggest it)."""
    words = [a for a in argv if not a.startswith("-")]
    if not words:
        return False
    try:
        command = typer.main.get_command(app).commands.get(words[0])  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - only decides the wording of a message
        return False
    return any(getattr(p, "name", None) == "out" for p in getattr(command, "params", []))


def _os_error_message(err: OSError, has_out: bool = True) -> str | None:
    """A user-facing message for file-system errors users cause (permissions, full disk)."""
    where = err.filename or "a file"
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        fix = ("choose a folder you can write, e.g. with --out DIR" if has_out else
               "make it writable (chmod u+w, or remount read-write) or copy the folder "
               "somewhere you can write and run the command there")
        return f"cannot write {where}: permission denied (read-only folder or file system); {fix}"
    if err.errno == errno.ENOSPC:
        return f"no space left on the device while writing {where}; free space and rerun"
    if err.errno == errno.ENOENT:
        return f"{where} does not exist; check the path"
    if err.errno in (errno.EISDIR, errno.ENOTDIR):
        kind = "is a folder" if err.errno == errno.EISDIR else "has a file where a folder is expected"
        return f"{where} {kind}; check the path"
    return None


def _error(message: str) -> None:
    err_console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)


def _out_of(argv: list[str]) -> str | None:
    for i, a in enumerate(argv):
        if a == "--out" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--out="):
            return a.split("=", 1)[1]
    return None


def _after_stage(argv: list[str]) -> None:
    """After align and import (whose modules know neither the default dataset folder nor
    the card): refresh the dataset card and say where the data went."""
    words = [a for a in argv if not a.startswith("-")]
    if not words or words[0] not in _DEFAULT_OUT_COMMANDS or "--help" in argv:
        return
    from musclekit.config import default_dataset
    from musclekit.dataset.card import refresh_card
    from musclekit.progress import console

    out = _out_of(argv)
    refresh_card(out or default_dataset())
    if out is None:
        console.print(f"dataset: {default_dataset()} (the default dataset folder; "
                      "`musclekit simulate` and `musclekit train` use it without arguments)")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the process exit code (see musclekit.errors.ExitCode)."""
    argv = hoist_global_flags(list(sys.argv[1:] if argv is None else argv))
    try:
        return _run(argv)
    finally:
        set_verbosity(NORMAL)


def _run(argv: list[str]) -> int:
    try:
        returned = app(args=argv, standalone_mode=False, prog_name="musclekit")
    except MusclekitError as err:
        if verbosity() >= VERBOSE and err.__cause__ is not None:
            err_console.print_exception()
        _error(str(err))
        return int(err.exit_code)
    except typer.Exit as done:
        return int(done.exit_code or 0)
    except typer.Abort:
        err_console.print("aborted")
        return int(ExitCode.ERROR)
    except KeyboardInterrupt:
        err_console.print("interrupted: rerun the same command to resume")
        return 130
    except OSError as err:
        message = _os_error_message(err, _has_out_option(argv))
        if message is None:
            raise
        if verbosity() >= VERBOSE:
            err_console.print_exception()
        _error(message)
        return int(ExitCode.ERROR)
    except Exception as err:
        # Usage errors of click carry their own message and exit code 2.
        if callable(getattr(err, "show", None)) and isinstance(getattr(err, "exit_code", None), int):
            err.show()
            return int(err.exit_code)
        raise
    # In non-standalone mode click returns the code of a `typer.Exit`, else the command's value.
    code = returned if isinstance(returned, int) else int(ExitCode.OK)
    if code == ExitCode.OK:
        _after_stage(argv)
    return code


if __name__ == "__main__":
    sys.exit(main())
