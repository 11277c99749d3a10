"""Evaluation of a run on the test split (or on every window of another dataset), against
the constant, retrieval and subject-conditional retrieval baselines."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from musclekit.dataset import open_dataset
from musclekit.errors import InputError
from musclekit.pipelines.train import report
from musclekit.pipelines.train.models import ConstantBaseline, RetrievalBaseline
from musclekit.pipelines.train.normalization import Normalizer
from musclekit.pipelines.train.run import REPORT_DIR, RunFolder
from musclekit.pipelines.train.sources import load_frame_table, match_stream
from musclekit.pipelines.train.splits import TEST, TRAIN, SplitSpec, assign_splits
from musclekit.pipelines.train.table import FrameTable
from musclekit.pipelines.train.training import (
    cpu_threads,
    load_model,
    select_device,
    window_too_long_message,
)
from musclekit.pipelines.train.windows import gather_windows, non_overlapping, valid_window_starts
from musclekit.progress import console

MAX_RETRIEVAL_KEYS = 20_000


@dataclass
class EvalResult:
    report_dir: Path
    rows: list[dict]

    def overall(self) -> dict[str, dict]:
        """model name -> {"rmse", "pcc", "smape", "n_windows"} over every test window."""
        return {r["model"]: {k: r[k] for k in ("rmse", "pcc", "smape", "n_windows")}
                for r in self.rows if r["scope"] == "overall"}


def predict_windows(model: nn.Module, x: np.ndarray, subjects: np.ndarray | None,
                    target_norm: Normalizer, batch_size: int = 512) -> np.ndarray:
    """Model output for normalised input windows x (S, L, F) -> (S, L, M) in target units."""
    device = next(model.parameters()).device
    outs = []
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            xb = torch.from_numpy(np.ascontiguousarray(x[i:i + batch_size])).to(device)
            sb = None if subjects is None else torch.from_numpy(subjects[i:i + batch_size]).to(device)
            outs.append(model(xb, sb).float().cpu().numpy())
    pred = np.concatenate(outs) if outs else np.zeros((0,) + x.shape[1:2] + (0,), np.float32)
    return target_norm.invert(pred)


def _subject_lookup(table: FrameTable, subjects: list[str]) -> np.ndarray:
    index = {s: i for i, s in enumerate(subjects)}
    return np.array([index.get(s, -1) for s in table.subject_ids], dtype=np.int64)


def _codes_for(run: RunFolder, table: FrameTable, same_dataset: bool) -> np.ndarray:
    if not same_dataset:
        return np.full(table.n_frames, TEST, dtype=np.int8)
    saved = run.load_splits()
    if saved is not None and saved[0] == table.sequence_ids and np.array_equal(saved[1],
                                                                              table.offsets):
        return saved[2]
    cfg = run.config
    console.print("the dataset changed since training: recomputing the split from its seed")
    spec = SplitSpec.parse(cfg.split, test_fraction=cfg.test_fraction,
                           val_fraction=cfg.val_fraction, seed=cfg.seed)
    return assign_splits(table, spec, cfg.window_frames)


def evaluate_run(run_path: str | Path, dataset: str | Path | None = None,
                 n_plots: int = 3) -> EvalResult:
    """Metrics of `run_path` on its test split, or on every window of `dataset`; writes
    report/metrics.csv, report/report.md and report/plots/ into the run folder."""
    if n_plots < 0:
        raise InputError(f"--plots {n_plots}: give how many windows to plot, 0 (none) or more, "
                         "e.g. --plots 3")
    run = RunFolder.open(run_path)
    with cpu_threads(run.config.cpu_threads):
        return _evaluate(run, dataset, n_plots)


def _evaluate(run: RunFolder, dataset: str | Path | None, n_plots: int) -> EvalResult:
    cfg, data = run.config, run.data
    train_path = Path(cfg.dataset)
    eval_path = Path(dataset) if dataset is not None else train_path
    same = eval_path.resolve() == train_path.resolve()
    if same and cfg.extra_datasets:
        table = _multi_table(run)
    else:
        ds = open_dataset(eval_path)
        inputs = match_stream(ds, data.inputs, "input")
        targets = match_stream(ds, data.targets, "target")
        table = load_frame_table(ds, inputs, targets, data.rate_hz, cfg.keep_flagged)
    assert table.targets is not None
    L = data.window_frames
    codes = _codes_for(run, table, same)
    usable = table.valid & (codes == TEST)
    starts = non_overlapping(valid_window_starts(usable, table.sequence_index, L), L)
    if starts.size == 0:
        if valid_window_starts(table.valid, table.sequence_index, L).size == 0:
            raise InputError(window_too_long_message(table, L))
        raise InputError(f"{eval_path}: the test split holds no window of {L} frames")
    input_norm, target_norm = run.normalizers()
    x_all = input_norm.apply(table.inputs)
    x = gather_windows(x_all, starts, L)
    y = gather_windows(table.targets, starts, L)
    seq_of = table.sequence_index[starts]
    labels = np.asarray(table.labels, dtype=object)[seq_of].astype(str)
    subj_seq = _subject_lookup(table, data.subjects)
    subj = subj_seq[seq_of]
    conditioned = cfg.condition_on_subject
    if conditioned and (subj < 0).any():
        unseen = sorted({table.subject_ids[i] for i in seq_of[subj < 0].tolist()})
        raise InputError(f"the run is conditioned on subjects {data.subjects}; the evaluated "
                         f"windows include unseen subjects {unseen}")
    model = load_model(run, select_device("auto"))
    pred = predict_windows(model, x, subj if conditioned else None, target_norm)
    channels = data.targets.features
    rows = report.metric_rows(cfg.model, pred, y, labels, channels)
    sources = np.asarray(table.sources or ["dataset"] * len(table.sequence_ids),
                         dtype=object)[seq_of].astype(str)
    rows += report.source_rows(cfg.model, pred, y, sources)

    retrieval_pred = None
    baselines: list = [ConstantBaseline(np.asarray(data.target_mean))]
    train_table, train_codes = (table, codes) if same else _training_table(run)
    notes = []
    if train_table is not None:
        ts = non_overlapping(valid_window_starts(train_table.valid & (train_codes == TRAIN),
                                                 train_table.sequence_index, L), L)
        if ts.size > MAX_RETRIEVAL_KEYS:
            ts = np.sort(np.random.default_rng(0).choice(ts, MAX_RETRIEVAL_KEYS, replace=False))
        keys = gather_windows(input_norm.apply(train_table.inputs), ts, L)
        vals = gather_windows(train_table.targets, ts, L)
        key_subj = _subject_lookup(train_table, data.subjects)[train_table.sequence_index[ts]]
        baselines.append(RetrievalBaseline(keys, vals, key_subj))
        if set(subj.tolist()) <= set(key_subj.tolist()):
            baselines.append(RetrievalBaseline(keys, vals, key_subj, per_subject=True))
        else:
            notes.append("c-retrieval skipped: some test subjects have no training windows")
    else:
        notes.append(f"retrieval skipped: training dataset {train_path} is not available")
    for b in baselines:
        bp = b.predict(x, subj)
        if b.name == "retrieval":
            retrieval_pred = bp
        rows += report.metric_rows(b.name, bp, y, labels, channels)
        rows += report.source_rows(b.name, bp, y, sources)

    out = run.file(REPORT_DIR)
    out.mkdir(exist_ok=True)
    report.write_csv(out / "metrics.csv", rows)
    titles = [f"{table.sequence_ids[s]} @ {table.time_s[st]:.1f} s ({lab})"
              for s, st, lab in zip(seq_of.tolist(), starts.tolist(), labels.tolist(), strict=True)]
    plots = report.plot_windows(out / "plots", pred, y, channels, data.rate_hz, titles,
                                n_windows=n_plots, baseline=retrieval_pred)
    facts = {"run": str(run.path), "dataset": str(eval_path),
             "windows": f"{len(starts)} non-overlapping test windows of {L} frames at "
                        f"{data.rate_hz:g} Hz",
             "task": f"{data.inputs.stream} ({data.inputs.family}) -> {data.targets.stream} "
                     f"({data.targets.family})",
             "split": cfg.split if same else "every window (another dataset)",
             "metrics": "RMSE over everything; PCC per window and channel over time, averaged; "
                        "SMAPE per channel with 1e-8, averaged"}
    facts.update({f"note {i + 1}": n for i, n in enumerate(notes)})
    report.write_markdown(out / "report.md", f"Evaluation of {cfg.model}", facts, rows, plots)
    return EvalResult(out, rows)


def _training_table(run: RunFolder) -> tuple[FrameTable | None, np.ndarray]:
    """The training frames of `run` (for retrieval), if its dataset is still there."""
    cfg, data = run.config, run.data
    if not all(Path(p).exists() for p in [cfg.dataset, *cfg.extra_datasets]):
        return None, np.zeros(0, np.int8)
    if cfg.extra_datasets:
        table = _multi_table(run)
        return table, _codes_for(run, table, True)
    ds = open_dataset(cfg.dataset)
    table = load_frame_table(ds, match_stream(ds, data.inputs, "input"),
                             match_stream(ds, data.targets, "target"), data.rate_hz,
                             cfg.keep_flagged)
    return table, _codes_for(run, table, True)


def _multi_table(run: RunFolder) -> FrameTable:
    """The frames of a multi-source run's datasets, as it was trained on them."""
    from musclekit.pipelines.train.multi import dataset_paths, load_sources

    cfg, data = run.config, run.data
    table, _, _ = load_sources(dataset_paths(cfg.dataset, cfg.extra_datasets), data.inputs,
                               data.targets, None, None, cfg.task, data.rate_hz,
                               cfg.keep_flagged)
    return table
