"""Model commands: train, evaluate, predict, edit (lightweight PyTorch on dataset shards)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from musclekit.progress import console


def default_run_folder(dataset: Path, task: str, model: str) -> Path:
    """train's run folder when --out is not given: <runs>/<dataset name>-<task>-<model>
    (the same command resumes it)."""
    from musclekit.config import default_runs

    name = Path(dataset).resolve().name or "dataset"
    return default_runs() / f"{name}-{task}-{model}"


def _warn_dataset_quality(dataset: Path) -> None:
    """What the dataset says about its own quality (stand-in body, flagged frames ...),
    from its metadata: a model trained on it inherits it."""
    from musclekit.dataset.layout import INFO_PATH
    from musclekit.progress import warn
    from musclekit.quality import dataset_quality

    if (Path(dataset) / INFO_PATH).is_file():
        for item in dataset_quality(dataset, read_values=False):
            warn(f"training data: {item.message}")


def _dataset_or_default(dataset: Path | None) -> Path:
    from musclekit.config import dataset_argument

    return dataset_argument(dataset)


def register(app: typer.Typer) -> None:
    app.command("train")(train)
    app.command("evaluate")(evaluate)
    app.command("predict")(predict)
    app.command("edit")(edit)


def _print_overall(overall: dict[str, dict], title: str) -> None:
    table = Table(title=title)
    for col in ("model", "RMSE", "PCC", "SMAPE (%)", "windows"):
        table.add_column(col)
    for name, m in overall.items():
        table.add_row(name, f"{m['rmse']:.4g}", f"{m['pcc']:.3f}", f"{m['smape']:.1f}",
                      str(m["n_windows"]))
    console.print(table)


def train(
    datasets: list[Path] = typer.Argument(None, help="Dataset folder(s) with an input and a "
                                          "target stream (default: the default dataset "
                                          "folder, ./musclekit-data; see `musclekit config "
                                          "show`). Several: trained together, evaluated per "
                                          "source (each dataset's folder name)."),
    out: Path = typer.Option(None, "--out", help="Run folder (rerun the same command to "
                             "resume; default: musclekit-runs/<dataset>-<task>-<model>)."),
    task: str = typer.Option("motion-to-muscle", help="motion-to-muscle or muscle-to-motion."),
    model: str = typer.Option("mia", help="mia, mint or lstm."),
    input_stream: str = typer.Option(None, "--input", help="Input stream (default: chosen by family)."),
    target_stream: str = typer.Option(None, "--target", help="Target stream (default: chosen by family)."),
    window: int = typer.Option(30, help="Window length in frames (MIA 30 at 10 Hz, MinT 28 at 20 Hz)."),
    rate: float = typer.Option(None, help="Frame rate in Hz (default: the target stream's rate)."),
    stride: int = typer.Option(1, help="Stride between training windows in frames."),
    split: str = typer.Option("random", help="random | clips | leave-exercise-out:LABEL | "
                              "leave-subject-out:SUBJECT | leave-source-out:SOURCE | "
                              "file:PATH"),
    test_fraction: float = typer.Option(0.2, help="Test share of the random split."),
    val_fraction: float = typer.Option(0.1, help="Validation share of the training blocks."),
    condition_on_subject: bool = typer.Option(False, help="MIA's subject-conditional variant."),
    keep_flagged: bool = typer.Option(False, help="Use frames flagged by quality checks."),
    loss: str = typer.Option("mse", help="mse, l1 or smooth_l1."),
    lr: float = typer.Option(1e-3, help="Learning rate (AdamW)."),
    batch_size: int = typer.Option(64, help="Windows per batch."),
    max_steps: int = typer.Option(2000, help="Optimiser steps."),
    time_budget: float = typer.Option(None, help="Stop after this many seconds of training."),
    eval_every: int = typer.Option(100, help="Validate every N steps."),
    patience: int = typer.Option(10, help="Stop after N validations without improvement."),
    seed: int = typer.Option(0, help="Seed of splits, initialisation and shuffling."),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    amp: bool = typer.Option(True, help="Mixed precision on CUDA."),
    threads: int = typer.Option(None, help="CPU threads for torch (default: half the cores, <= 4)."),
    width: int = typer.Option(None, help="Model width (default per model)."),
    layers: int = typer.Option(None, help="Transformer / LSTM layers."),
    heads: int = typer.Option(None, help="Attention heads."),
    kernel: int = typer.Option(None, help="Convolution kernel in frames."),
    dropout: float = typer.Option(0.1, help="Dropout."),
    evaluate_after: bool = typer.Option(True, "--evaluate/--no-evaluate",
                                        help="Evaluate on the test split when done."),
) -> None:
    """Train a model mapping motion to muscles (or back) on a dataset's windows."""
    from musclekit.config import check_writable
    from musclekit.pipelines.train.config import TrainConfig
    from musclekit.pipelines.train.evaluate import evaluate_run
    from musclekit.pipelines.train.training import train as run_training

    dataset = _dataset_or_default(datasets[0] if datasets else None)
    extra = [_dataset_or_default(d) for d in (datasets or [])[1:]]
    _check_threads(threads)
    out = out if out is not None else default_run_folder(
        Path("+".join([dataset.resolve().name, *[d.resolve().name for d in extra]])),
        task, model)
    config = TrainConfig.checked(
        dataset=str(dataset.resolve()), extra_datasets=[str(d.resolve()) for d in extra],
        task=task, input_stream=input_stream,
        target_stream=target_stream, model=model, width=width, layers=layers, heads=heads,
        kernel_frames=kernel, dropout=dropout, window_frames=window, rate_hz=rate,
        train_stride_frames=stride, split=split, test_fraction=test_fraction,
        val_fraction=val_fraction, condition_on_subject=condition_on_subject,
        keep_flagged=keep_flagged, loss=loss, lr=lr, batch_size=batch_size,
        max_steps=max_steps, time_budget_s=time_budget, eval_every_steps=eval_every,
        patience_evals=patience, seed=seed, device=device, amp=amp,
        cpu_threads=threads)
    check_writable(out)
    console.print(f"dataset: {', '.join(str(d) for d in [dataset, *extra])}; run folder: {out}")
    for path in [dataset, *extra]:
        _warn_dataset_quality(path)
    result = run_training(config, out, require_test=evaluate_after)
    console.print(f"windows: {result.n_train_windows} train, {result.n_val_windows} val, "
                  f"{result.n_test_windows} test")
    if evaluate_after and result.n_test_windows:
        ev = evaluate_run(out)
        _print_overall(ev.overall(), f"test split ({ev.report_dir / 'report.md'})")
    console.print(f"run: {out} ({result.loss_line()}); next: musclekit evaluate {out}, "
                  f"musclekit predict {out}")


def _check_threads(threads: int | None) -> None:
    """More torch threads than cores only adds contention: --threads 1000 would spend its
    budget switching threads (one step, exit 0), so it is refused."""
    import os

    from musclekit.errors import InputError

    cores = os.cpu_count() or 1
    if threads is not None and threads > cores:
        raise InputError(f"--threads {threads}: this machine has {cores} CPU core(s); give "
                         f"--threads {cores} or fewer (default: half the cores, at most 4)")


def latest_run(run: Path | None) -> Path:
    """`run`, or the most recently trained run under the default runs folder."""
    from musclekit.config import default_runs
    from musclekit.errors import InputError

    if run is not None:
        return run
    runs = default_runs()
    found = sorted((f.stat().st_mtime, f.parent) for f in runs.glob("*/run.json"))
    if not found:
        raise InputError(f"no RUN given and no training run under {runs}; give the run folder "
                         "(`musclekit train --out RUN` wrote it) or train first")
    latest = found[-1][1]
    console.print(f"run: {latest} (the most recently trained run under {runs})")
    return latest


def evaluate(
    run: Path = typer.Argument(None, help="Run folder written by `musclekit train` (default: "
                               "the most recently trained run under musclekit-runs/)."),
    dataset: Path = typer.Argument(None, help="Another dataset (default: the run's test split)."),
    plots: int = typer.Option(3, help="Windows to plot."),
) -> None:
    """Metrics (RMSE, PCC, SMAPE) overall, per exercise, per muscle and subset, vs baselines."""
    from musclekit.pipelines.train.evaluate import evaluate_run

    ev = evaluate_run(latest_run(run), dataset, n_plots=plots)
    _print_overall(ev.overall(), str(ev.report_dir / "report.md"))


def predict(
    run: Path = typer.Argument(None, help="Run folder written by `musclekit train` (default: "
                               "the most recently trained run under musclekit-runs/)."),
    dataset: Path = typer.Argument(None, help="Dataset holding the run's input stream "
                                   "(default: the dataset the run was trained on)."),
    stream: str = typer.Option(None, help="Name of the new stream (default <target>_predicted)."),
) -> None:
    """Write the run's predictions into DATASET as a new stream, with provenance."""
    from musclekit.dataset.card import refresh_card
    from musclekit.pipelines.train.predict import predict_into
    from musclekit.pipelines.train.run import RunFolder

    run = latest_run(run)
    if dataset is None:
        dataset = Path(RunFolder.open(run).config.dataset)
    result = predict_into(run, dataset, stream)
    if not result.skipped:
        refresh_card(dataset)


def edit(
    run: Path = typer.Argument(..., help="Motion-to-muscle run (the encoder)."),
    dataset: Path = typer.Argument(..., help="Dataset holding the motion to edit."),
    decoder: Path = typer.Option(..., help="Muscle-to-motion run (the decoder)."),
    muscle: str = typer.Option(..., help="Muscle channel to scale."),
    scale: float = typer.Option(..., help="Factor for that muscle (e.g. 1.5)."),
    suffix: str = typer.Option("edited", help="Suffix of the streams written."),
) -> None:
    """MIA's motion editing: scale one predicted muscle and decode the recommended motion."""
    from musclekit.pipelines.train.edit import edit_motion

    edit_motion(run, decoder, dataset, muscle, scale, suffix)
