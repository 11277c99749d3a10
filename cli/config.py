"""`musclekit config`: user settings (licensed-asset paths, default folders), set once."""

from __future__ import annotations

import json

import typer
from rich.markup import escape

from musclekit.progress import console

config_app = typer.Typer(
    help="User settings, set once: licensed-asset paths (amass-root, body-model, vibe-root, "
         "vibe-python) and default folders (dataset, runs). A flag beats the environment "
         "variable, which beats the config file, which beats the default.",
    no_args_is_help=True, rich_markup_mode=None)


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")


@config_app.command("show")
def show(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Every setting, its value and where the value comes from."""
    from musclekit.config import SETTINGS, config_path, lookup

    rows = {}
    for key, setting in SETTINGS.items():
        value, source = lookup(key)
        rows[key] = {"value": value, "source": source, "env": setting.env,
                     "help": setting.help}
    if as_json:
        typer.echo(json.dumps({"config_file": str(config_path()), "settings": rows}, indent=2))
        return
    console.print(f"config file: {escape(str(config_path()))}", soft_wrap=True)
    for key, row in rows.items():
        value = row["value"] if row["value"] is not None else "-"
        console.print(f"  {key} = {escape(value)}  [dim]({escape(row['source'])}; "
                      f"${row['env']}; {escape(row['help'])})[/]", soft_wrap=True)


@config_app.command("set")
def set_(key: str = typer.Argument(..., help="Setting name, e.g. amass-root."),
         value: str = typer.Argument(..., help="Its value (paths are stored absolute).")) -> None:
    """Store a setting in the user config file."""
    from musclekit.config import SETTINGS, set_value

    path = set_value(key, value)
    from musclekit.config import lookup

    stored, source = lookup(key)
    console.print(f"{key} = {escape(str(stored))} (in {escape(str(path))})", soft_wrap=True)
    if not source.startswith("config file"):
        console.print(f"[yellow]note:[/] ${SETTINGS[key].env} is set and takes precedence "
                      "over the config file", soft_wrap=True)


@config_app.command("unset")
def unset(key: str = typer.Argument(..., help="Setting name.")) -> None:
    """Remove a setting from the user config file."""
    from musclekit.config import unset_value

    path = unset_value(key)
    console.print(f"{key} removed from {escape(str(path))}", soft_wrap=True)
