"""Demo: train a tiny model for a few seconds on whatever motion and muscle streams a dataset
has, and compare it with the constant and retrieval baselines on the held-out split."""

from __future__ import annotations

import math
from pathlib import Path

from musclekit.dataset import open_dataset
from musclekit.pipelines.train.config import TrainConfig
from musclekit.pipelines.train.evaluate import evaluate_run
from musclekit.pipelines.train.sources import choose_streams, load_frame_table
from musclekit.pipelines.train.synthetic import SyntheticSpec, write_synthetic_dataset
from musclekit.pipelines.train.training import train
from musclekit.pipelines.train.windows import longest_run
from musclekit.progress import console

DEMO_WINDOW_FRAMES = 30  # MIA's 3 s at 10 fps; shortened when the data has shorter stretches


def _window_for(dataset: Path, rate_hz: float | None) -> tuple[int, str, str, float]:
    ds = open_dataset(dataset)
    inputs, targets = choose_streams(ds, None, None, "motion-to-muscle")
    table = load_frame_table(ds, inputs, targets, rate_hz)
    # a window must fit several times into the longest gap-free stretch so that the random
    # split has blocks for training, validation and test
    longest = longest_run(table.valid, table.sequence_index)
    window = max(4, min(DEMO_WINDOW_FRAMES, longest // 10))
    return window, inputs.stream, targets.stream, table.rate_hz


def run_demo(dataset_path: str | Path | None, workdir: str | Path, seconds: float = 8.0,
             model: str = "mint") -> dict:
    """Train `model` (tiny) for about `seconds` on `dataset_path` (a synthetic dataset is
    generated when None) and evaluate it; returns paths and overall metrics per predictor."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    if dataset_path is None:
        dataset_path = write_synthetic_dataset(workdir / "synthetic-dataset", SyntheticSpec(
            n_subjects=2, seconds=40.0, target_rate_hz=10.0, input_rate_hz=30.0))
    dataset_path = Path(dataset_path)
    window, input_stream, target_stream, rate = _window_for(dataset_path, None)
    config = TrainConfig(
        dataset=str(dataset_path.resolve()), model=model, width=32, layers=1, heads=4,
        input_stream=input_stream, target_stream=target_stream, window_frames=window,
        lr=3e-3, batch_size=32, max_steps=2000, eval_every_steps=10,
        time_budget_s=seconds, device="cpu")
    run_dir = workdir / f"train-{model}"
    result = train(config, run_dir)
    ev = evaluate_run(run_dir)
    overall = ev.overall()
    best_baseline = min((m["rmse"] for name, m in overall.items() if name != model),
                        default=float("inf"))
    console.print(f"train demo: {model} RMSE {overall[model]['rmse']:.4g} vs best baseline "
                  f"{best_baseline:.4g} on {overall[model]['n_windows']} test windows")
    # NaN (e.g. the PCC of a constant prediction) becomes None so the result is valid JSON
    metrics = {name: {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                      for k, v in m.items()} for name, m in overall.items()}
    return {
        "dataset": str(dataset_path), "run": str(run_dir), "report": str(ev.report_dir / "report.md"),
        "input_stream": input_stream, "target_stream": target_stream, "rate_hz": rate,
        "window_frames": window, "steps": result.steps, "metrics": metrics,
        "beats_baselines": overall[model]["rmse"] < best_baseline,
    }
