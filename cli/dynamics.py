"""`musclekit dynamics`: the dynamics stage (simulate part 2) alone, on a dataset that has its
kinematics; `musclekit status` and `musclekit plot`: inspect a dynamics run.

`dynamics` takes simulate's dynamics and compute options (declared once: dynamics/stage/
options.py, cli/simulate.py) and runs `run_dynamics`: one graph of units on one cluster,
its inputs checked before any work as `simulate` checks them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer
from rich.table import Table

from musclekit.progress import console


def register(app: typer.Typer) -> None:
    app.command("dynamics")(dynamics_command())
    app.command("status")(status)
    app.command("plot")(plot)
    app.command("compare-emg")(compare_emg)


DYNAMICS_DOC = ("Muscle-driven dynamics of every sequence of DATASET that has kinematics "
                "(simulate part 2 alone, e.g. after `musclekit simulate --until ik`); resumable.")


def dynamics_command():
    """The `dynamics` command: a DATASET argument, then simulate's dynamics and compute
    options (the same declarations, so the same flags, refusals and config)."""
    import inspect

    from musclekit.cli.options import command
    from musclekit.cli.simulate import COMPUTE_OPTIONS
    from musclekit.pipelines.simulate.dynamics.stage.options import OPTIONS

    invoke = command(run_dynamics_command, COMPUTE_OPTIONS + OPTIONS, DYNAMICS_DOC)
    dataset = inspect.Parameter(
        "dataset", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Path | None,
        default=typer.Argument(None, metavar="DATASET", help="Dataset folder with kinematics "
                               "(default: the default dataset folder, ./musclekit-data)."))
    params = list(invoke.__signature__.parameters.values())
    invoke.__signature__ = invoke.__signature__.replace(parameters=[dataset, *params])
    return invoke


def run_dynamics_command(values: dict) -> int:
    """Check every input before any work (the cache, the filter against each sequence's
    rate, the models), then solve, write and refresh the dataset card."""
    from musclekit.cli.simulate import (
        COMPUTE_OPTIONS,
        compute_config,
        dynamics_config,
        values_of,
    )
    from musclekit.config import dataset_argument
    from musclekit.dataset.card import refresh_card
    from musclekit.pipelines.simulate.dynamics.stage.options import OPTIONS
    from musclekit.pipelines.simulate.dynamics.stage.run import run_dynamics

    dataset = dataset_argument(values.get("dataset"))
    compute = compute_config(values_of(COMPUTE_OPTIONS, values))
    report = run_dynamics(dataset, dynamics_config(compute, values_of(OPTIONS, values)))
    refresh_card(dataset)
    console.print(f"dataset: {dataset}; next: musclekit status {dataset}")
    return int(report.exit_code())


def status(
    dataset: Path = typer.Argument(None, help="Dataset folder of a running or finished "
                                   "`musclekit simulate` run (default: the default dataset "
                                   "folder, ./musclekit-data)."),
    logs: bool = typer.Option(False, "--logs", help="Print the last lines of each failed "
                              "chunk's solver log and OpenSim log."),
) -> int:
    """Chunks converged / failed / running per sequence, solve times, failures with reasons."""
    from musclekit.config import dataset_argument
    from musclekit.pipelines.simulate.dynamics.stage.status import run_status

    dataset = dataset_argument(dataset)
    rows = run_status(dataset)
    if not rows:
        console.print(f"{dataset}: no dynamics chunks yet (nothing started)")
        return 0
    print_status(dataset, rows)
    for r in rows:
        for f in r.failures:
            console.print(f"[yellow]failed[/] {r.sequence_id}/{f['chunk']}: "
                          f"{f['reason'].splitlines()[0] if f['reason'] else ''} (log: {f['log']}; "
                          f"OpenSim's log: {f['opensim_log']})", soft_wrap=True)
            for key in ("log", "opensim_log") if logs else ():
                if Path(f[key]).is_file():
                    tail = Path(f[key]).read_text(errors="replace").splitlines()[-15:]
                    console.print(f"  {Path(f[key]).name}:", soft_wrap=True)
                    console.print("\n".join("    " + line for line in tail), soft_wrap=True)
    return 0


def print_status(dataset: Path, rows: list) -> None:
    """A table when the terminal is wide enough; otherwise one line per sequence, its id
    first and whole (the id is what the user types next: plot, --sequence)."""
    cells = []
    for r in rows:
        t = r.solve_times_s
        med, p90 = (f"{v:.1f}" for v in np.percentile(t, [50, 90])) if t else ("-", "-")
        cells.append((r.sequence_id, r.method, str(r.converged), str(r.failed), str(r.running),
                      med, p90, "yes" if r.written else "no",
                      "-" if r.analysed_s is None else f"{r.analysed_s:.2f}",
                      "-" if r.gap_s is None else f"{r.gap_s:.2f}"))
    cols = ("sequence", "method", "converged", "failed", "running", "median s", "p90 s",
            "written", "analysed s", "gap s")
    width = sum(max(len(c), *(len(row[i]) for row in cells)) + 3 for i, c in enumerate(cols))
    if width <= console.width:
        table = Table(title=f"dynamics: {dataset}")
        for col in cols:
            table.add_column(col, no_wrap=col == "sequence")
        for row in cells:
            table.add_row(*row)
        console.print(table)
        return
    console.print(f"dynamics: {dataset}")
    for row in cells:
        console.print(row[0], soft_wrap=True)
        console.print(f"  {row[1]}: {row[2]} converged, {row[3]} failed, {row[4]} running; "
                      f"solve median {row[5]} s, p90 {row[6]} s; written {row[7]}; analysed "
                      f"{row[8]} s, gaps {row[9]} s", overflow="fold")


def plot(
    dataset: Path = typer.Argument(..., help="Dataset folder with simulated activations."),
    sequence: str = typer.Argument(..., help="Sequence id."),
    out: Path = typer.Option(None, "--out", help="PNG to write (default <sequence>.png)."),
) -> int:
    """Activation curves per muscle group (seams dotted, gaps grey) and ground forces."""
    from musclekit.pipelines.simulate.dynamics.stage.plot import plot_sequence

    path = plot_sequence(dataset, sequence, out or Path(f"{sequence}.png"))
    console.print(f"wrote {path}")
    return 0


def compare_emg(
    dataset: Path = typer.Argument(..., help="Dataset folder with simulated activations."),
    sequence: str = typer.Argument(..., help="Sequence id."),
    emg: Path = typer.Option(..., "--emg", help="Raw sEMG recording of the same trial (.anc, "
                             ".csv/.txt exports, .edf/.bdf)."),
    channels: str = typer.Option(None, "--channels", help="Comma-separated EMG channels to "
                                 "compare (default: every EMG channel of the file)."),
    mapping: Path = typer.Option(None, "--map", help="TOML table: EMG channel = [model muscle "
                                 "stems], replacing the built-in electrode table."),
    side: str = typer.Option("r", "--side", help="Side of the electrodes: r or l."),
    window: tuple[float, float] | None = typer.Option(None, "--window", help="Start and end "
                                                      "(s, motion clock) to compare, e.g. a "
                                                      "gait cycle."),
    emg_offset_s: float = typer.Option(0.0, "--emg-offset-s", help="Motion time of the EMG "
                                       "file's first sample."),
    max_delay_ms: float = typer.Option(100.0, "--max-delay-ms", help="Electromechanical delay "
                                       "allowed between EMG and activation."),
    emg_as: str = typer.Option("activation", "--emg-as", help="What of the EMG is compared "
                               "with the activations: 'activation' (the envelope through the "
                               "activation dynamics: EMG records excitation) or 'envelope'."),
    out: Path = typer.Option(None, "--out", help="PNG to write (default "
                             "<sequence>-emg.png)."),
    json_out: Path = typer.Option(None, "--json", help="Also write the numbers as JSON."),
    model: Path = typer.Option(None, "--model", help="OpenSim model whose muscles' activation "
                               "dynamics turn the EMG into activations (default: the "
                               "sequence's scaled model in the dataset, as the solve used it)."),
) -> int:
    """Simulated activations against measured EMG: PCC and on/offset timing per muscle."""
    import json
    from dataclasses import asdict

    from musclekit.dataset import open_dataset
    from musclekit.errors import InputError
    from musclekit.pipelines.simulate.dynamics.stage.emg_compare import compare, plot_comparison

    if side not in ("r", "l"):
        raise InputError(f"--side must be r or l, got {side!r}")
    if emg_as not in ("activation", "envelope"):
        raise InputError(f"--emg-as must be activation or envelope, got {emg_as!r}")
    table = read_muscle_map(mapping) if mapping is not None else None
    ds = open_dataset(dataset)
    if "activations" not in ds.info.streams:
        raise InputError(f"{dataset} has no activations stream: run `musclekit simulate` first")
    if sequence not in ds.sequence_ids("activations"):
        known = ds.sequence_ids("activations")
        raise InputError(f"sequence {sequence!r} has no simulated activations in {dataset}; "
                         f"sequences that have: {', '.join(known[:10]) or 'none'}"
                         + (f" (and {len(known) - 10} more)" if len(known) > 10 else ""))
    act = ds.sequence_array("activations", sequence)
    t, env, wanted = emg_envelopes(emg, channels, emg_offset_s)
    finite = np.isfinite(act.values).all(axis=1)
    if window:
        lo, hi = window
    else:
        lo = max(float(act.time_s[finite][0]), float(t[0]))
        hi = min(float(act.time_s[finite][-1]), float(t[-1]))
    dynamics = (emg_dynamics(ds, sequence, model, list(act.channels))
                if emg_as == "activation" else None)
    res = compare(act.time_s, np.asarray(act.values, dtype=float), list(act.channels), t, env,
                  wanted, (lo, hi), side=side, mapping=table, max_delay_s=max_delay_ms / 1000,
                  dynamics=dynamics)
    print_comparison(res, f"activations vs EMG: {sequence}, {lo:.3f}-{hi:.3f} s")
    png = plot_comparison(out or Path(f"{sequence}-emg.png"), act.time_s, (lo, hi),
                          {"simulated": (act.time_s, np.asarray(act.values, dtype=float),
                                         list(act.channels))}, t, env, wanted,
                          {"simulated": res}, f"{sequence}: activations vs EMG envelopes",
                          dynamics=dynamics)
    console.print(f"wrote {png}")
    if json_out:
        json_out.write_text(json.dumps([asdict(r) for r in res], indent=1))
    return 0


def emg_dynamics(ds, sequence: str, model: Path | None, muscles: list[str]):
    """The activation dynamics the EMG goes through: each muscle's, as the solve had them, from
    `--model` or the sequence's own scaled model; De Groote's defaults when neither exists."""
    from musclekit.emg import ActivationDynamics
    from musclekit.pipelines.simulate.dynamics.stage.emg_compare import muscle_dynamics

    if model is None:
        files = (ds.sequences[sequence].extra or {}).get("opensim") or {}
        own = Path(ds.root) / files["scaled_model"] if files.get("scaled_model") else None
        if own is None or not own.is_file():
            d = ActivationDynamics()
            console.print(f"EMG activation dynamics: no model with the dataset, De Groote's "
                          f"{d.activation_time_constant_s * 1e3:.0f} / "
                          f"{d.deactivation_time_constant_s * 1e3:.0f} ms (pass --model)")
            return d
        model = own
    dynamics = muscle_dynamics(model)
    if not set(muscles) & set(dynamics):
        from musclekit.errors import InputError

        raise InputError(f"--model {model} has none of the muscles the activations of "
                         f"{sequence!r} name ({', '.join(muscles[:4])}, ...): pass the model "
                         "the sequence was simulated with")
    taus = sorted({(round(d.activation_time_constant_s * 1e3), round(
        d.deactivation_time_constant_s * 1e3)) for d in dynamics.values()})
    console.print(f"EMG activation dynamics: each muscle's, from {model} "
                  f"({', '.join(f'{a} / {b} ms' for a, b in taus[:3])})")
    return dynamics


def read_muscle_map(mapping: Path) -> dict[str, list[str]]:
    """--map: a TOML table `EMG channel = [model muscle stems]`."""
    import tomllib

    from musclekit.errors import InputError

    if not mapping.is_file():
        raise InputError(f"--map file not found: {mapping}")
    try:
        return {k: list(v) if isinstance(v, list) else [v]
                for k, v in tomllib.loads(mapping.read_text()).items()}
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"{mapping}: not valid TOML ({err})") from None


def emg_envelopes(emg: Path, channels: str | None, emg_offset_s: float
                  ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The EMG file's chosen channels as envelopes by the shared chain (musclekit/emg.py), on
    the motion's clock: (time s, envelopes (T, C), channel names)."""
    from musclekit.emg import EmgProcessing, envelope
    from musclekit.errors import InputError
    from musclekit.pipelines.align.emg_csv import EmgCsvOptions
    from musclekit.pipelines.align.emg_files import read_recording

    if not emg.is_file():
        raise InputError(f"EMG file not found: {emg} (relative paths start from {Path.cwd()}); "
                         "check the path given to --emg")
    # A file that counts time from its start needs no wall clock here: only offsets matter.
    try:
        rec = read_recording(emg, EmgCsvOptions(start="2000-01-01T00:00:00+00:00"))
    except InputError as err:
        # The readers speak align's flags; here the file's clock is set by --emg-offset-s.
        raise InputError(str(err).replace("--emg-start", "--emg-offset-s")) from None
    by_name = {ch.name: ch for ch in rec.channels if ch.kind == "emg"}
    wanted = [c.strip() for c in channels.split(",")] if channels else list(by_name)
    unknown = [c for c in wanted if c not in by_name]
    if unknown:
        raise InputError(f"{emg} has no EMG channel {unknown}; its EMG channels are "
                         f"{list(by_name)}")
    chans = [by_name[c] for c in wanted]
    t0_ns = min(int(ch.time_ns[0]) for ch in chans)
    t = (chans[0].time_ns - t0_ns) / 1e9 + emg_offset_s
    rate = 1.0 / float(np.median(np.diff(t)))
    env = envelope(np.column_stack([np.interp(t, (ch.time_ns - t0_ns) / 1e9 + emg_offset_s,
                                              ch.values) for ch in chans]), rate, EmgProcessing())
    return t, env, wanted


def print_comparison(res: list, title: str) -> None:
    rt = Table(title=title)
    for col in ("EMG", "model muscles", "PCC at 0 ms", "best PCC", "delay ms", "onset err %",
                "offset err %"):
        rt.add_column(col)
    for r in res:
        rt.add_row(r.channel, ", ".join(r.muscles), f"{r.pcc_no_delay:.2f}", f"{r.pcc:.2f}",
                   f"{1000 * r.delay_s:.0f}",
                   " ".join(f"{e:+.0f}" for e in r.onset_error_pct) or "-",
                   " ".join(f"{e:+.0f}" for e in r.offset_error_pct) or "-")
    console.print(rt)
    console.print(f"median PCC {np.nanmedian([r.pcc_no_delay for r in res]):.2f} at zero delay, "
                  f"{np.nanmedian([r.pcc for r in res]):.2f} at the best delay, over {len(res)} "
                  "muscles")
