"""Motion editing through muscles (MIA section 4.2): predict muscles m = E(x) from motion,
scale one muscle by s, decode a recommended motion x' = D(m') with a muscle -> motion run.

Both the edited muscles and the recommended motion are written into the dataset as new
streams; the summary says how much the motion moved compared with decoding the unedited
muscles, D(m).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from musclekit.dataset import DatasetWriter, Provenance, StreamSpec, open_dataset
from musclekit.errors import InputError
from musclekit.pipelines.train.predict import predict_frames
from musclekit.pipelines.train.run import RunFolder
from musclekit.pipelines.train.sources import load_frame_table, match_stream
from musclekit.progress import console


@dataclass
class EditResult:
    dataset: Path
    muscle_stream: str
    motion_stream: str
    muscle: str
    scale: float
    mean_abs_motion_change: float  # mean |D(m') - D(m)| over frames and features, motion units


def edit_motion(encoder_path: str | Path, decoder_path: str | Path, dataset_path: str | Path,
                muscle: str, scale: float, suffix: str = "edited") -> EditResult:
    encoder, decoder = RunFolder.open(encoder_path), RunFolder.open(decoder_path)
    if encoder.config.task != "motion-to-muscle":
        raise InputError(f"run {encoder.path} is {encoder.config.task}; editing needs a "
                         "motion-to-muscle run as RUN")
    if decoder.config.task != "muscle-to-motion":
        raise InputError(f"decoder run {decoder.path} is {decoder.config.task}; train one with "
                         "`musclekit train DATASET --task muscle-to-motion`")
    e, d = encoder.data, decoder.data
    if d.inputs.features != e.targets.features:
        raise InputError(f"the decoder reads muscles {d.inputs.features[:6]}..., the encoder "
                         f"predicts {e.targets.features[:6]}...; train both on the same streams")
    if abs(d.rate_hz - e.rate_hz) > 1e-9:
        raise InputError(f"encoder runs at {e.rate_hz:g} Hz, decoder at {d.rate_hz:g} Hz; "
                         "train both with the same --rate")
    if muscle not in e.targets.features:
        raise InputError(f"muscle {muscle!r} is not a channel of the encoder's output; it has "
                         + ", ".join(e.targets.features))
    if not np.isfinite(scale) or scale < 0:
        raise InputError(f"--scale must be a non-negative number, got {scale}")
    if not re.fullmatch(r"[a-z0-9_]+", suffix):
        raise InputError(f"suffix {suffix!r} must be lower-case letters, digits and '_'")
    ds = open_dataset(dataset_path)
    table = load_frame_table(ds, match_stream(ds, e.inputs, "input"), None, e.rate_hz,
                             encoder.config.keep_flagged)
    muscles, covered = predict_frames(encoder, table)
    edited = muscles.copy()
    k = e.targets.features.index(muscle)
    edited[:, k] *= scale
    if e.bounded_output:
        np.clip(edited, 0.0, 1.0, out=edited)
    decode_in = dataclasses.replace(table, valid=covered)
    motion_before, ok_before = predict_frames(decoder, dataclasses.replace(decode_in,
                                                                          inputs=muscles))
    motion_after, ok_after = predict_frames(decoder, dataclasses.replace(decode_in,
                                                                         inputs=edited))
    both = ok_before & ok_after
    change = float(np.mean(np.abs(motion_after[both] - motion_before[both]))) if both.any() \
        else float("nan")

    muscle_name = f"{e.targets.stream}_{suffix}"
    motion_name = f"{d.targets.stream}_{suffix}"
    src = ds.streams[e.inputs.stream] if e.inputs.stream in ds.streams else None
    clock = src.clock if src else "default"
    specs = [
        StreamSpec(name=muscle_name, family=e.targets.family, rate_hz=e.rate_hz,
                   channels=e.targets.channels, units=e.targets.units, clock=clock,
                   description=f"predicted muscles with {muscle} scaled by {scale:g}"),
        StreamSpec(name=motion_name, family=d.targets.family, rate_hz=d.rate_hz,
                   channels=d.targets.channels, units=d.targets.units, clock=clock,
                   description=f"motion decoded from muscles with {muscle} scaled by {scale:g}"),
    ]
    writer = DatasetWriter.create_or_open(dataset_path, streams=specs)
    unit_id = f"edit-{suffix}"
    if writer.is_done(unit_id):
        raise InputError(f"{dataset_path} already holds an edit with suffix {suffix!r}; "
                         "pass --suffix NEW to write another")
    provenance = Provenance.for_stage(
        "edit", config={"encoder": str(encoder.path.resolve()),
                        "decoder": str(decoder.path.resolve()), "muscle": muscle,
                        "scale": scale})
    comps = specs[1].components
    with writer.unit(unit_id, provenance=provenance) as u:
        for i, seq_id in enumerate(table.sequence_ids):
            sl = table.sequence_slice(i)
            info = ds.sequences[seq_id]
            u.write_sequence(muscle_name, info, time_s=table.time_s[sl], values=edited[sl],
                             flags=(~covered[sl]).astype(np.uint8))
            values = motion_after[sl]
            if comps:
                full = np.full((values.shape[0], len(d.targets.channels), len(comps)), np.nan,
                               np.float32)
                full[:, :, [comps.index(c) for c in d.targets.components]] = values.reshape(
                    values.shape[0], len(d.targets.channels), -1)
                values = full
            u.write_sequence(motion_name, info, time_s=table.time_s[sl], values=values,
                             flags=(~ok_after[sl]).astype(np.uint8))
    console.print(f"edited {muscle} x{scale:g}: wrote {muscle_name!r} and {motion_name!r}; "
                  f"mean motion change {change:.4g} ({d.targets.family} units)")
    return EditResult(Path(dataset_path), muscle_name, motion_name, muscle, scale, change)
