"""Predictions of a trained run written into a dataset as a new stream, with provenance.

Every gap-free stretch of at least one window is covered by windows (the last one aligned
to the stretch's end); frames covered twice get the mean of both predictions. Frames in
shorter stretches or gaps are written as MISSING.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from musclekit.dataset import DatasetWriter, Provenance, StreamSpec, open_dataset
from musclekit.errors import InputError
from musclekit.pipelines.train.evaluate import predict_windows
from musclekit.pipelines.train.run import BEST_CHECKPOINT, RUN_FILE, RunFolder
from musclekit.pipelines.train.sources import load_frame_table, match_stream
from musclekit.pipelines.train.table import FrameTable
from musclekit.pipelines.train.training import (
    cpu_threads,
    load_model,
    select_device,
    window_too_long_message,
)
from musclekit.pipelines.train.windows import gather_windows, valid_window_starts, with_stride
from musclekit.progress import console


@dataclass
class PredictResult:
    dataset: Path
    stream: str
    n_sequences: int
    n_frames: int
    n_predicted_frames: int
    skipped: bool = False


def covering_starts(valid: np.ndarray, sequence_index: np.ndarray, window_frames: int
                    ) -> np.ndarray:
    """Window starts covering every frame of each gap-free stretch of >= window_frames."""
    s = valid_window_starts(valid, sequence_index, window_frames)
    if s.size == 0:
        return s
    run_last = s[np.concatenate([np.diff(s) != 1, [True]])]
    return np.unique(np.concatenate([with_stride(s, window_frames), run_last]))


def predict_frames(run: RunFolder, table: FrameTable) -> tuple[np.ndarray, np.ndarray]:
    """(predictions (N, M) in target units with NaN where none, covered (N,) bool)."""
    cfg, data = run.config, run.data
    L = data.window_frames
    starts = covering_starts(table.valid, table.sequence_index, L)
    if starts.size == 0:
        raise InputError(window_too_long_message(table, L))
    input_norm, target_norm = run.normalizers()
    subjects = None
    if cfg.condition_on_subject:
        index = {s: i for i, s in enumerate(data.subjects)}
        unseen = sorted({s for s in table.subject_ids if s not in index})
        if unseen:
            raise InputError(f"the run is conditioned on subjects {data.subjects}; cannot "
                             f"predict for unseen subjects {unseen}")
        per_seq = np.array([index[s] for s in table.subject_ids], dtype=np.int64)
        subjects = per_seq[table.sequence_index[starts]]
    x = gather_windows(input_norm.apply(table.inputs), starts, L)
    pred = predict_windows(load_model(run, select_device("auto")), x, subjects, target_norm)
    m = pred.shape[2]
    total = np.zeros((table.n_frames, m), np.float64)
    count = np.zeros(table.n_frames, np.int64)
    idx = (starts[:, None] + np.arange(L)[None, :]).ravel()
    np.add.at(total, idx, pred.reshape(-1, m))
    np.add.at(count, idx, 1)
    covered = count > 0
    out = np.full((table.n_frames, m), np.nan, np.float32)
    out[covered] = (total[covered] / count[covered, None]).astype(np.float32)
    return out, covered


def _checkpoint_sha(record) -> str | None:
    for item in record.provenance.inputs:
        if item.name == Path(BEST_CHECKPOINT).name and item.sha256:
            return item.sha256
    return None


def predict_into(run_path: str | Path, dataset_path: str | Path, stream: str | None = None
                 ) -> PredictResult:
    """Predict with `run_path` from the input stream of `dataset_path` and write the result
    as stream `stream` (default `<target stream>_predicted`) into the same dataset."""
    run = RunFolder.open(run_path)
    cfg, data = run.config, run.data
    ds = open_dataset(dataset_path)
    inputs = match_stream(ds, data.inputs, "input")
    name = stream or f"{data.targets.stream}_predicted"
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise InputError(f"stream name {name!r} must be lower-case letters, digits and '_', "
                         "starting with a letter")
    if name == inputs.stream:
        raise InputError(f"--stream {name!r} is the input stream; choose another name")
    unit_id = f"predict-{name}"
    others = sorted({r.unit_id for r in ds.records if r.unit_id != unit_id
                     and any(sh.stream == name for sh in r.shards)})
    if others:
        raise InputError(
            f"stream {name!r} of {dataset_path} holds data written by {', '.join(others)}, not "
            f"by predict: predictions go into a stream of their own. Leave out --stream (the "
            f"default is {data.targets.stream}_predicted) or give a new name, e.g. --stream "
            f"{name}_predicted; nothing was written")
    spec = StreamSpec(
        name=name, family=data.targets.family, rate_hz=data.rate_hz,
        channels=data.targets.channels, units=data.targets.units,
        clock=ds.streams[inputs.stream].clock,
        description=f"predicted by musclekit train run {Path(run_path).resolve().name} "
                    f"({cfg.model}, {cfg.task}) from stream {inputs.stream!r}")
    if not any(r.unit_id == unit_id for r in ds.records):
        load_model(run)  # a damaged checkpoint fails before the stream is declared
    writer = DatasetWriter.create_or_open(dataset_path, streams=[spec])
    if writer.is_done(unit_id):
        record = next((r for r in ds.records if r.unit_id == unit_id), None)
        if record is None:  # finished after we opened the dataset
            record = next(r for r in open_dataset(dataset_path).records if r.unit_id == unit_id)
        before = record.provenance.config.get("run")
        checkpoint = _checkpoint_sha(record)
        this_run = str(Path(run_path).resolve())
        now = Provenance.for_stage("predict", inputs=[run.file(BEST_CHECKPOINT)]).inputs
        if before != this_run or (checkpoint and now and now[0].sha256 != checkpoint):
            what = (f"by another run ({before})" if before != this_run else
                    "by this run before it was retrained (another checkpoint)")
            raise InputError(
                f"stream {name!r} of {dataset_path} was predicted {what}; it is kept as it "
                f"is. Write this run's predictions under another name with --stream "
                f"{name}_2 (or any new name); nothing was written")
        console.print(f"{dataset_path}: stream {name!r} was already predicted by this run; "
                      "nothing to do (use --stream NEW_NAME to write another)")
        return PredictResult(Path(dataset_path), name, 0, 0, 0, skipped=True)
    table = load_frame_table(ds, inputs, None, data.rate_hz, cfg.keep_flagged)
    with cpu_threads(cfg.cpu_threads):
        pred, covered = predict_frames(run, table)
    comps = spec.components
    provenance = Provenance.for_stage(
        "predict",
        config={"run": str(Path(run_path).resolve()), "model": cfg.model, "task": cfg.task,
                "input_stream": inputs.stream, "rate_hz": data.rate_hz,
                "window_frames": data.window_frames, "best_step": run.meta.get("best_step")},
        inputs=[run.file(RUN_FILE), run.file(BEST_CHECKPOINT)])
    with writer.unit(unit_id, provenance=provenance) as u:
        for i, seq_id in enumerate(table.sequence_ids):
            sl = table.sequence_slice(i)
            values = pred[sl]
            if comps:
                full = np.full((values.shape[0], len(data.targets.channels), len(comps)),
                               np.nan, np.float32)
                keep = [comps.index(k) for k in data.targets.components]
                full[:, :, keep] = values.reshape(values.shape[0], len(data.targets.channels), -1)
                values = full
            info = ds.sequences[seq_id]
            if info.subject_id in ds.subjects:
                u.add_subject(ds.subjects[info.subject_id])
            u.write_sequence(name, info, time_s=table.time_s[sl], values=values,
                             flags=(~covered[sl]).astype(np.uint8))
    n_pred = int(covered.sum())
    console.print(f"wrote stream {name!r} ({data.targets.family}) into {dataset_path}: "
                  f"{len(table.sequence_ids)} sequences, {n_pred} of {table.n_frames} frames "
                  "predicted")
    return PredictResult(Path(dataset_path), name, len(table.sequence_ids), table.n_frames,
                         n_pred)
