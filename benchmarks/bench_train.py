"""Benchmark of the train stage.

1. Loader: windows per second served by WindowDataset on a 10-hour synthetic dataset
   (10 subjects x 15 exercises x 4 min at 10 fps, 75 input features as 25 keypoints x 3,
   8 muscles), 30-frame windows, batch 256, shuffled. Bound: >= 50,000 windows/s.
2. Training steps per second for each model at its default size (batch 64, 30 frames),
   on CPU, and on CUDA (mixed precision) when a GPU is present.

Run: python benchmarks/bench_train.py [--workdir DIR] [--steps N]
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from musclekit.dataset import open_dataset
from musclekit.pipelines.train.loader import WindowDataset
from musclekit.pipelines.train.models import MODELS, ModelOptions, ModelShape, build_model
from musclekit.pipelines.train.sources import choose_stream, load_frame_table
from musclekit.pipelines.train.synthetic import SyntheticSpec, write_synthetic_dataset
from musclekit.pipelines.train.training import cpu_threads
from musclekit.pipelines.train.windows import valid_window_starts

LOADER_BOUND_WINDOWS_PER_S = 50_000
TEN_HOURS = SyntheticSpec(
    n_subjects=10,
    labels=("ElbowPunch", "FrontKick", "FrontPunch", "HighKick", "HookPunch", "JumpingJack",
            "KneeKick", "LegBack", "LegCross", "RonddeJambe", "Running", "Shuffle",
            "SideLunges", "SlowSkater", "Squat"),
    seconds=240.0, input_rate_hz=10.0, target_rate_hz=10.0, n_joints=75, n_muscles=8,
    gaps_per_sequence=2, gap_seconds=1.0)


def bench_loader(dataset: Path, window: int = 30, batch: int = 256, seconds: float = 5.0) -> dict:
    t0 = time.perf_counter()
    ds = open_dataset(dataset)
    table = load_frame_table(ds, choose_stream(ds, "joint_angles", (), "input"),
                             choose_stream(ds, "activations", (), "target"), None)
    load_s = time.perf_counter() - t0
    starts = valid_window_starts(table.valid, table.sequence_index, window)
    data = WindowDataset(table.inputs, table.targets, np.zeros(table.n_frames, np.int64),
                         starts, window)
    gen = torch.Generator().manual_seed(0)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for x, _, _ in data.batches(batch, shuffle=True, generator=gen):
            n += x.shape[0]
            if time.perf_counter() - t0 >= seconds:
                break
    rate = n / (time.perf_counter() - t0)
    hours = table.n_frames / table.rate_hz / 3600
    return {"hours": hours, "frames": table.n_frames, "windows": len(data),
            "load_s": load_s, "windows_per_s": rate}


def bench_steps(name: str, device: torch.device, steps: int, n_inputs: int = 75,
                n_outputs: int = 8, window: int = 30, batch: int = 64) -> float:
    torch.manual_seed(0)
    model = build_model(name, ModelShape(n_inputs, n_outputs, window, bounded_output=True),
                        ModelOptions()).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = torch.randn(batch, window, n_inputs, device=device)
    y = torch.rand(batch, window, n_outputs, device=device)
    use_amp = device.type == "cuda"

    def step() -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
            pred = model(x)
        loss = torch.nn.functional.mse_loss(pred.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=None,
                        help="Keep the 10-hour dataset here (reused when present).")
    parser.add_argument("--steps", type=int, default=20, help="Timed steps per model.")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: the trainer's rule, half the cores, <= 4).")
    args = parser.parse_args()
    with cpu_threads(args.threads):
        run(args)


def run(args: argparse.Namespace) -> None:
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-train-"))
    dataset = workdir / "ten-hours"
    t0 = time.perf_counter()
    write_synthetic_dataset(dataset, TEN_HOURS)
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} torch threads, "
          f"torch {torch.__version__}, cuda: {torch.cuda.is_available()}")
    print(f"dataset ready in {time.perf_counter() - t0:.1f} s: {dataset}")
    r = bench_loader(dataset)
    print(f"loader: {r['hours']:.2f} h, {r['frames']} frames, {r['windows']} windows; "
          f"loaded and resampled in {r['load_s']:.1f} s; {r['windows_per_s']:,.0f} windows/s "
          f"(batch 256, 30 frames) = {r['windows_per_s'] / LOADER_BOUND_WINDOWS_PER_S:.1f}x "
          f"the {LOADER_BOUND_WINDOWS_PER_S:,} windows/s bound")
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    for device in devices:
        for name in sorted(MODELS):
            rate = bench_steps(name, device, args.steps if device.type == "cpu" else 200)
            print(f"train steps/s {device.type:4s} {name:5s} (default size, batch 64, "
                  f"30 frames, 75 -> 8): {rate:8.1f} steps/s = {rate * 64:,.0f} windows/s")


if __name__ == "__main__":
    main()
