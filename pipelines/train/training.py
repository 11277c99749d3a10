"""Training: from a config to a run folder with the best checkpoint.

Steps: choose streams, load the frames once, split, normalise with training statistics,
build the model, then optimise with seeded shuffling, periodic validation, early stopping,
checkpoints (resume by rerunning the same command) and a progress bar with the loss.
"""

from __future__ import annotations

import csv
import math
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from musclekit.dataset import open_dataset
from musclekit.errors import InputError
from musclekit.pipelines.train.config import TrainConfig
from musclekit.pipelines.train.loader import WindowDataset
from musclekit.pipelines.train.models import ModelShape, build_model
from musclekit.pipelines.train.normalization import Normalizer
from musclekit.pipelines.train.run import (
    BEST_CHECKPOINT,
    HISTORY_FILE,
    LAST_CHECKPOINT,
    RUN_FILE,
    DataDescription,
    RunFolder,
)
from musclekit.pipelines.train.sources import StreamChoice, choose_streams, load_frame_table
from musclekit.pipelines.train.splits import TEST, TRAIN, VAL, SplitSpec, assign_splits
from musclekit.pipelines.train.table import FrameTable
from musclekit.pipelines.train.windows import longest_run, non_overlapping, valid_window_starts
from musclekit.progress import console, make_progress, warn

BOUNDED_FAMILIES = ("activations",)
# A validation loss must beat the best one by this relative margin to count as progress
# (early stopping should not be reset by numerical noise).
MIN_IMPROVEMENT = 1e-4
LOSSES = {"mse": nn.MSELoss, "l1": nn.L1Loss, "smooth_l1": nn.SmoothL1Loss}


@dataclass
class PreparedData:
    """Frames, splits and statistics of one training dataset."""

    table: FrameTable
    codes: np.ndarray
    data: DataDescription
    input_norm: Normalizer
    target_norm: Normalizer
    subject_index: np.ndarray  # (N,) int64 per frame; -1 for subjects unseen in training
    _normalised: tuple[np.ndarray, np.ndarray] | None = None

    def starts(self, code: int, stride: int | None = None) -> np.ndarray:
        """Window starts in split `code`; stride None: non-overlapping (evaluation)."""
        usable = self.table.valid & (self.codes == code)
        s = valid_window_starts(usable, self.table.sequence_index, self.data.window_frames)
        if stride is None:
            return non_overlapping(s, self.data.window_frames)
        from musclekit.pipelines.train.windows import with_stride

        return with_stride(s, stride)

    def window_dataset(self, starts: np.ndarray) -> WindowDataset:
        """Windows at `starts`; the normalised frames are computed once and shared."""
        t = self.table
        assert t.targets is not None
        if self._normalised is None:
            self._normalised = (np.nan_to_num(self.input_norm.apply(t.inputs)),
                                np.nan_to_num(self.target_norm.apply(t.targets)))
        x, y = self._normalised
        return WindowDataset(x, y, np.maximum(self.subject_index, 0), starts,
                             self.data.window_frames)


@contextmanager
def cpu_threads(n: int | None) -> Iterator[None]:
    """Run with `n` torch CPU threads (None: half the cores, at most 4), then restore."""
    before = torch.get_num_threads()
    torch.set_num_threads(n or max(1, min(4, (os.cpu_count() or 2) // 2)))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def select_device(requested: str) -> torch.device:
    if requested == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda was asked for but torch sees no CUDA GPU; "
                         "use --device cpu or auto")
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(requested)


def window_too_long_message(table: FrameTable, window_frames: int) -> str:
    longest = longest_run(table.valid, table.sequence_index)
    return (f"a window of {window_frames} frames ({window_frames / table.rate_hz:.2f} s at "
            f"{table.rate_hz:g} Hz) is longer than every gap-free stretch of the dataset "
            f"(longest: {longest} frames in {len(table.sequence_ids)} sequences); use a "
            f"shorter --window or a lower --rate")


def prepare_data(config: TrainConfig, inputs: StreamChoice | None = None,
                 targets: StreamChoice | None = None) -> PreparedData:
    """Load, split and normalise the training dataset(s) of `config`."""
    if config.extra_datasets:
        from musclekit.pipelines.train.multi import dataset_paths, load_sources

        table, inputs, targets = load_sources(
            dataset_paths(config.dataset, config.extra_datasets), inputs, targets,
            config.input_stream, config.target_stream, config.task, config.rate_hz,
            config.keep_flagged)
        console.print(f"streams: {inputs.stream} ({inputs.family}) -> {targets.stream} "
                      f"({targets.family}) on {len(set(table.sources))} datasets: "
                      f"{', '.join(dict.fromkeys(table.sources))}")
    else:
        ds = open_dataset(config.dataset)
        if inputs is None or targets is None:
            inputs, targets = choose_streams(ds, config.input_stream, config.target_stream,
                                             config.task)
            if config.input_stream is None or config.target_stream is None:
                console.print(f"streams: {inputs.stream} ({inputs.family}) -> "
                              f"{targets.stream} ({targets.family}); others with "
                              "--input/--target")
        if inputs.stream == targets.stream:
            raise InputError(f"input and target are the same stream {inputs.stream!r}")
        table = load_frame_table(ds, inputs, targets, config.rate_hz, config.keep_flagged)
    L = config.window_frames
    if valid_window_starts(table.valid, table.sequence_index, L).size == 0:
        raise InputError(window_too_long_message(table, L))
    spec = SplitSpec.parse(config.split, test_fraction=config.test_fraction,
                           val_fraction=config.val_fraction, seed=config.seed)
    codes = assign_splits(table, spec, L)
    train_rows = table.valid & (codes == TRAIN)
    if not train_rows.any():
        raise InputError(f"split {spec.describe()} leaves no training frames")
    assert table.targets is not None
    bounded = targets.family in BOUNDED_FAMILIES
    input_norm = Normalizer.fit(table.inputs, train_rows)
    target_norm = (Normalizer.identity(table.targets.shape[1]) if bounded
                   else Normalizer.fit(table.targets, train_rows))
    train_subjects = sorted({table.subject_ids[i] for i in
                             np.unique(table.sequence_index[train_rows]).tolist()})
    lookup = {s: i for i, s in enumerate(train_subjects)}
    per_seq = np.array([lookup.get(s, -1) for s in table.subject_ids], dtype=np.int64)
    data = DataDescription(
        inputs=inputs, targets=targets, rate_hz=table.rate_hz, window_frames=L,
        subjects=train_subjects, bounded_output=bounded,
        target_mean=table.targets[train_rows].astype(np.float64).mean(axis=0).tolist())
    return PreparedData(table, codes, data, input_norm, target_norm,
                        per_seq[table.sequence_index])


def model_for(config: TrainConfig, data: DataDescription) -> nn.Module:
    shape = ModelShape(
        n_inputs=len(data.inputs.features), n_outputs=len(data.targets.features),
        window_frames=data.window_frames,
        n_subjects=len(data.subjects) if config.condition_on_subject else 0,
        bounded_output=data.bounded_output)
    return build_model(config.model, shape, config.model_options())


@dataclass
class TrainResult:
    run: Path
    steps: int
    best_step: int | None
    best_val_loss: float
    stopped: str  # "max_steps" | "early_stopping" | "time_budget" | "already_done"
    n_train_windows: int
    n_val_windows: int
    n_test_windows: int
    seconds: float
    # what chose the best checkpoint: "validation" loss, or "training" loss when the split
    # leaves no validation window
    selected_on: str = "validation"

    def loss_line(self) -> str:
        which = "validation" if self.selected_on == "validation" else "training"
        note = "" if which == "validation" else " (no validation windows: the training loss)"
        return (f"best {which} loss {self.best_val_loss:.5f} at step {self.best_step}{note}")


def _evaluate_loss(model: nn.Module, data: WindowDataset, loss_fn: nn.Module,
                   device: torch.device, conditioned: bool, batch_size: int = 512) -> float:
    if len(data) == 0:
        return float("nan")
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for x, y, s in data.batches(batch_size, shuffle=False):
            pred = model(x.to(device), s.to(device) if conditioned else None)
            total += float(loss_fn(pred.float(), y.to(device))) * len(x)
            count += len(x)
    model.train()
    return total / count


def _check_resume(run: RunFolder, config: TrainConfig) -> None:
    have = run.config.learning_keys()
    want = config.learning_keys()
    diff = sorted(k for k in want if have.get(k) != want[k])
    if diff:
        changes = ", ".join(f"{k}: {have.get(k)!r} -> {want[k]!r}" for k in diff[:5])
        raise InputError(f"{run.path} holds a run with other settings ({changes}); rerun with "
                         "the same options to resume, or choose a new --out folder")


def train(config: TrainConfig, out: str | Path, require_test: bool = False) -> TrainResult:
    """Train (or resume) the run in folder `out`; returns a summary.

    require_test: refuse before training when the split leaves no test window (the run is
    to be evaluated on it)."""
    with cpu_threads(config.cpu_threads):
        return _train(config, Path(out), require_test)


def empty_split_warnings(config: TrainConfig, n_val: int, n_test: int) -> list[str]:
    """Warnings about empty validation/test splits (printed and kept in run.json)."""
    out = []
    if n_val == 0:
        out.append(f"split {config.split!r} leaves no validation window of "
                   f"{config.window_frames} frames: early stopping and the best checkpoint "
                   "use the training loss (raise --val-fraction, or use more data)")
    if n_test == 0:
        out.append(f"split {config.split!r} leaves no test window of {config.window_frames} "
                   "frames: the run cannot be evaluated on its own data (raise "
                   "--test-fraction, choose another --split, or evaluate on another dataset)")
    return out


def _train(config: TrainConfig, out: Path, require_test: bool = False) -> TrainResult:
    out = Path(out)
    started = time.monotonic()
    torch.manual_seed(config.seed)
    resuming = (out / RUN_FILE).exists()
    if resuming:
        run = RunFolder.open(out)
        _check_resume(run, config)
        prepared = prepare_data(config, run.data.inputs, run.data.targets)
        prepared.input_norm, prepared.target_norm = run.normalizers()
        prepared._normalised = None
    else:
        prepared = prepare_data(config)
    conditioned = config.condition_on_subject
    if conditioned and (prepared.subject_index[prepared.codes == TEST] < 0).any():
        raise InputError("--condition-on-subject needs every test subject in the training "
                         f"split; split {config.split!r} holds subjects out. Drop the option "
                         "for leave-subject-out evaluation")
    train_starts = prepared.starts(TRAIN, config.train_stride_frames)
    val_starts = prepared.starts(VAL)
    n_test = int(prepared.starts(TEST).size)
    if train_starts.size == 0:
        raise InputError(f"split {config.split!r} leaves no training window of "
                         f"{config.window_frames} frames; "
                         + window_too_long_message(prepared.table, config.window_frames))
    if require_test and n_test == 0:
        raise InputError(f"split {config.split!r} leaves no test window of "
                         f"{config.window_frames} frames, so the run could not be evaluated; "
                         "raise --test-fraction, choose another --split or a shorter --window, "
                         "or train with --no-evaluate (nothing was written)")
    split_warnings = empty_split_warnings(config, int(val_starts.size), n_test)
    selected_on = "validation" if val_starts.size else "training"
    for message in split_warnings:
        warn(message)
    if not resuming:
        model_for(config, prepared.data)  # bad model options fail before the folder exists
        run = RunFolder.create(out, config, prepared.data, prepared.input_norm,
                               prepared.target_norm)
        run.save_splits(prepared.table.sequence_ids, prepared.table.offsets, prepared.codes)
    finished = run.meta.get("status") == "done" and (
        run.meta.get("stopped") == "early_stopping"
        or int(run.meta.get("steps", 0)) >= config.max_steps)
    if finished:
        console.print(f"{out}: already trained (best step {run.meta.get('best_step')}); "
                      "nothing to do")
        return TrainResult(out, 0, run.meta.get("best_step"),
                           float(run.meta.get("best_val_loss", math.nan)), "already_done",
                           len(train_starts), len(val_starts), n_test,
                           time.monotonic() - started, selected_on)

    run.meta["status"] = "training"
    run.save_meta()
    device = select_device(config.device)
    model = model_for(config, prepared.data).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr,
                                  weight_decay=config.weight_decay)
    use_amp = config.amp and device.type == "cuda"
    amp_dtype = torch.bfloat16 if use_amp and torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and amp_dtype == torch.float16)
    loss_fn = LOSSES[config.loss]()
    train_ds = prepared.window_dataset(train_starts)
    val_ds = prepared.window_dataset(val_starts)
    if device.type == "cuda":
        # the stacked frames of even a 10-hour dataset are ~100 MB: keep them on the GPU and
        # gather batches there, so the loader never waits on host-to-device copies
        train_ds.to(device)
        val_ds.to(device)

    step, best_val, best_step, bad_evals, spent_s = 0, math.inf, None, 0, 0.0
    last = out / LAST_CHECKPOINT
    if resuming and last.is_file():
        state = load_checkpoint(last, device)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step, best_val, best_step = state["step"], state["best_val"], state["best_step"]
        bad_evals, spent_s = state["bad_evals"], state["spent_s"]
        torch.set_rng_state(state["torch_rng"])  # dropout continues as if never interrupted
        console.print(f"resuming {out} at step {step}")
    _trim_history(out / HISTORY_FILE, step)

    batches_per_epoch = max(1, len(train_ds) // config.batch_size)
    stopped = "max_steps"
    t0 = time.monotonic() - spent_s  # elapsed time over all sessions of this run
    session_t0 = time.monotonic()  # --time-budget counts per invocation, so a rerun continues
    loss_sum, loss_n = 0.0, 0
    model.train()
    with make_progress() as progress:
        task = progress.add_task("training", total=config.max_steps, completed=step)
        while step < config.max_steps:
            epoch, skip = divmod(step, batches_per_epoch)
            gen = torch.Generator().manual_seed(config.seed * 100_003 + epoch)
            for i, (x, y, s) in enumerate(train_ds.batches(config.batch_size, True, gen,
                                                           drop_last=len(train_ds) >= config.batch_size)):
                if i < skip:
                    continue
                x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
                with torch.autocast(device.type, dtype=amp_dtype, enabled=use_amp):
                    pred = model(x, s.to(device) if conditioned else None)
                loss = loss_fn(pred.float(), y)
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.unscale_(optimizer)
                nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                scaler.step(optimizer)
                scaler.update()
                step += 1
                loss_sum = loss_sum + loss.detach()  # stays on the device: no sync per step
                loss_n += 1
                if step % 10 == 0:
                    progress.update(task, completed=step,
                                    description=f"training loss {float(loss_sum) / loss_n:.4f}")
                over_time = (config.time_budget_s is not None
                             and time.monotonic() - session_t0 >= config.time_budget_s)
                if step % config.eval_every_steps == 0 or step >= config.max_steps or over_time:
                    val = _evaluate_loss(model, val_ds, loss_fn, device, conditioned)
                    train_loss = float(loss_sum) / loss_n
                    score = val if math.isfinite(val) else train_loss
                    if score < best_val - MIN_IMPROVEMENT * abs(best_val if math.isfinite(best_val) else 0.0):
                        best_val, best_step, bad_evals = score, step, 0
                        _save(out / BEST_CHECKPOINT, {"model": model.state_dict(), "step": step})
                    else:
                        bad_evals += 1
                    _append_history(out / HISTORY_FILE, step, train_loss, val,
                                    time.monotonic() - t0)
                    loss_sum, loss_n = 0.0, 0
                    _save(last, {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                                 "step": step, "best_val": best_val, "best_step": best_step,
                                 "bad_evals": bad_evals, "spent_s": time.monotonic() - t0,
                                 "torch_rng": torch.get_rng_state()})
                    if bad_evals >= config.patience_evals:
                        stopped = "early_stopping"
                    elif over_time:
                        stopped = "time_budget"
                    if stopped != "max_steps":
                        break
                if step >= config.max_steps:
                    break
            if stopped != "max_steps":
                break
    run.meta.update(status="done", best_step=best_step, best_val_loss=best_val, steps=step,
                    stopped=stopped, device=str(device), selected_on=selected_on,
                    warnings=split_warnings)
    run.save_meta()
    result = TrainResult(out, step, best_step, best_val, stopped, len(train_starts),
                         len(val_starts), n_test, time.monotonic() - started, selected_on)
    console.print(f"trained {config.model} for {step} steps ({stopped}); {result.loss_line()}; "
                  f"run in {out}")
    return result


def _save(path: Path, state: dict) -> None:
    """torch.save through a temporary file, so a killed run never leaves half a checkpoint."""
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def _append_history(path: Path, step: int, train_loss: float, val_loss: float,
                     elapsed_s: float) -> None:
    new = not path.exists()
    with path.open("a", newline="") as fh:
        w = csv.writer(fh)
        if new:
            w.writerow(["step", "train_loss", "val_loss", "elapsed_s"])
        w.writerow([step, f"{train_loss:.6g}", f"{val_loss:.6g}", f"{elapsed_s:.3f}"])


def _trim_history(path: Path, step: int) -> None:
    """Drop history rows after the checkpoint we resume from (they were not kept)."""
    if not path.exists():
        return
    rows = list(csv.reader(path.open()))
    kept = [rows[0]] + [r for r in rows[1:] if int(r[0]) <= step]
    with path.open("w", newline="") as fh:
        csv.writer(fh).writerows(kept)


def load_checkpoint(file: Path, device: torch.device) -> dict:
    """A checkpoint's state; a truncated or foreign file is a user error naming the fix."""
    import pickle
    import zipfile

    try:
        state = torch.load(file, map_location=device, weights_only=False)
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError, zipfile.BadZipFile,
            ValueError) as err:
        raise InputError(
            f"checkpoint {file} is damaged ({' '.join(str(err).split()).split('. ')[0][:120]}): a truncated "
            "copy or a disk that filled while it was saved. Copy the run folder again from "
            f"where it was trained, or retrain: delete {file.parent} and rerun the same "
            "`musclekit train` command") from err
    if not isinstance(state, dict) or "model" not in state:
        raise InputError(f"{file} is not a musclekit checkpoint (no model state); copy the run "
                         f"folder again, or delete {file.parent} and retrain")
    return state


def load_model(run: RunFolder, device: torch.device | None = None) -> nn.Module:
    """The best checkpoint of `run` (last if no best was saved), in eval mode."""
    device = device or torch.device("cpu")
    model = model_for(run.config, run.data).to(device)
    file = run.file(BEST_CHECKPOINT)
    if not file.is_file():
        file = run.file(LAST_CHECKPOINT)
    if not file.is_file():
        raise InputError(f"run {run.path} has no checkpoint yet; train it first")
    state = load_checkpoint(file, device)
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as err:
        raise InputError(f"checkpoint {file} does not fit the model described in "
                         f"{run.file(RUN_FILE)} ({str(err).splitlines()[0]}); the run folder "
                         "is inconsistent: retrain") from err
    model.eval()
    return model
