"""Loading a FrameTable from a musclekit dataset: choose streams, read each sequence once,
resample onto a common grid, stack.

This is the only module of the trainer that touches the dataset API; everything after it
works on the stacked numpy arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from musclekit.dataset import Dataset, Flag
from musclekit.errors import InputError
from musclekit.pipelines.train.table import Clip, FrameTable
from musclekit.pipelines.train.windows import common_grid, resample_to_grid
from musclekit.progress import console

MOTION_FAMILIES = ("keypoints3d", "markers", "joint_angles", "smpl", "keypoints2d")
MUSCLE_FAMILIES = ("activations", "semg", "muscle_forces")
TASKS = {"motion-to-muscle": (MOTION_FAMILIES, MUSCLE_FAMILIES),
         "muscle-to-motion": (MUSCLE_FAMILIES, MOTION_FAMILIES)}
# Components that describe a value's quality rather than the motion itself.
SKIPPED_COMPONENTS = ("confidence",)
UNLABELLED = "unlabelled"


@dataclass(frozen=True)
class StreamChoice:
    """One stream as the model sees it: which channels and components, in which order."""

    stream: str
    family: str
    channels: list[str]
    components: list[str]  # [] for scalar families
    units: list[str] | None = None  # per channel, as the dataset declares them

    @property
    def features(self) -> list[str]:
        if not self.components:
            return list(self.channels)
        return [f"{c}.{k}" for c in self.channels for k in self.components]

    def to_dict(self) -> dict:
        return {"stream": self.stream, "family": self.family, "channels": self.channels,
                "components": self.components, "units": self.units}

    @classmethod
    def from_dict(cls, d: dict) -> StreamChoice:
        return cls(d["stream"], d["family"], list(d["channels"]), list(d["components"]),
                   d.get("units"))


def observed_channels(ds: Dataset, stream: str) -> list[str]:
    """Channels of `stream` with at least one value anywhere in the dataset.

    A backend may declare joints it never detects (MediaPipe has no small toes in BODY_25);
    such a channel is NaN in every frame and would otherwise invalidate every window."""
    spec = ds.streams[stream]
    if not spec.channels:
        return []
    try:
        present = ds.scan(stream).select(
            [pl.col(c).is_not_null().any().alias(c) for c in spec.value_columns()]).collect()
    except (pl.exceptions.PolarsError, OSError) as err:
        raise ds.check_readable(stream, err) from err
    row = present.row(0, named=True) if present.height else {}
    if not spec.components:
        return [c for c in spec.channels if row.get(c)]
    return [c for c in spec.channels if any(row.get(f"{c}.{k}") for k in spec.components)]


def _choice(ds: Dataset, stream: str) -> StreamChoice:
    spec = ds.streams[stream]
    comps = [c for c in spec.components if c not in SKIPPED_COMPONENTS]
    channels = observed_channels(ds, stream)
    dropped = [c for c in spec.channels if c not in channels]
    if dropped:
        console.print(f"stream {stream!r}: leaving out {len(dropped)} channel(s) without any "
                      f"value in the dataset: {', '.join(dropped[:8])}")
    if not channels:
        raise InputError(f"stream {stream!r} of {ds.root} holds no values at all "
                         "(every frame is missing)")
    units = [spec.units[spec.channels.index(c)] for c in channels]
    return StreamChoice(stream, spec.family, channels, comps, units)


def choose_stream(ds: Dataset, wanted: str | None, families: tuple[str, ...], role: str,
                  avoid: str | None = None) -> StreamChoice:
    """The stream named `wanted`, or the first stream whose family comes first in `families`.

    Derived streams (e.g. `keypoints3d_norm`) are preferred over raw ones of the same family
    only when named explicitly; among equals the declaration order decides.
    """
    if wanted is not None:
        if wanted not in ds.streams:
            raise InputError(f"dataset {ds.root} has no stream {wanted!r} for the {role}; "
                             f"it has: {', '.join(sorted(ds.streams)) or 'none'}")
        return _choice(ds, wanted)
    for family in families:
        names = [n for n, s in ds.streams.items()
                 if s.family == family and n != avoid and ds.sequence_ids(n)]
        if names:
            return _choice(ds, names[0])
    have = ", ".join(f"{n} ({s.family})" for n, s in sorted(ds.streams.items())) or "none"
    raise InputError(f"dataset {ds.root} has no {role} stream: the task needs one of the "
                     f"families {', '.join(families)}; it has {have}. Pick streams with "
                     f"--input/--target or use the other --task")


def choose_streams(ds: Dataset, input_wanted: str | None, target_wanted: str | None,
                   task: str) -> tuple[StreamChoice, StreamChoice]:
    """The input and target streams of `task`: the ones named, else the first pair (in family
    order) that shares sequences. A dataset that several stages wrote (align's sEMG and
    keypoints on captures, simulate's markers and activations on AMASS sequences) holds
    streams that never meet in one sequence; a pair that does not is no training data."""
    in_families, out_families = TASKS[task]
    if input_wanted is not None or target_wanted is not None:
        if input_wanted is not None:
            inputs = choose_stream(ds, input_wanted, in_families, "input")
            targets = _partner(ds, target_wanted, out_families, "target", inputs.stream)
        else:
            targets = choose_stream(ds, target_wanted, out_families, "target")
            inputs = _partner(ds, None, in_families, "input", targets.stream)
        return inputs, targets
    # the target's family order first: after align + simulate into one dataset, motion ->
    # muscle means the simulated activations rather than the captured sEMG
    for out_name in _candidates(ds, out_families):
        seqs = set(ds.sequence_ids(out_name))
        for in_name in _candidates(ds, in_families):
            if out_name != in_name and seqs & set(ds.sequence_ids(in_name)):
                return _choice(ds, in_name), _choice(ds, out_name)
    inputs = choose_stream(ds, None, in_families, "input")
    targets = choose_stream(ds, None, out_families, "target", avoid=inputs.stream)
    return inputs, targets


def _candidates(ds: Dataset, families: tuple[str, ...]) -> list[str]:
    return [n for family in families for n, spec in ds.streams.items()
            if spec.family == family and ds.sequence_ids(n)]


def _partner(ds: Dataset, wanted: str | None, families: tuple[str, ...], role: str,
             other: str) -> StreamChoice:
    """The stream named `wanted`, else the first of `families` sharing sequences with
    `other` (else the first of `families`, and the caller's loader says none is shared)."""
    if wanted is not None:
        return choose_stream(ds, wanted, families, role, avoid=other)
    seqs = set(ds.sequence_ids(other))
    for name in _candidates(ds, families):
        if name != other and seqs & set(ds.sequence_ids(name)):
            return _choice(ds, name)
    return choose_stream(ds, None, families, role, avoid=other)


def match_stream(ds: Dataset, want: StreamChoice, role: str) -> StreamChoice:
    """The stream of `ds` that holds what a trained model expects (same family and every
    channel), checked channel by channel."""
    name = want.stream
    if name not in ds.streams:
        same = [n for n, s in ds.streams.items() if s.family == want.family
                and set(want.channels) <= set(s.channels)]
        if len(same) != 1:
            raise InputError(
                f"dataset {ds.root} has no stream {name!r} ({want.family}) that the model's "
                f"{role} needs; streams: {', '.join(sorted(ds.streams)) or 'none'}")
        name = same[0]
    spec = ds.streams[name]
    if spec.family != want.family:
        raise InputError(f"stream {name!r} of {ds.root} is family {spec.family!r}; the model "
                         f"was trained on {want.family!r} for its {role}")
    missing = [c for c in want.channels if c not in spec.channels]
    if missing:
        raise InputError(
            f"the model's {role} channels do not match stream {name!r} of {ds.root}: "
            f"{len(missing)} of {len(want.channels)} are missing ({', '.join(missing[:8])}"
            f"{' ...' if len(missing) > 8 else ''}); use a dataset with the same channels "
            "or retrain on this one")
    missing_comps = [k for k in want.components if k not in spec.components]
    if missing_comps:
        raise InputError(f"stream {name!r} lacks components {missing_comps} the model uses")
    return StreamChoice(name, want.family, list(want.channels), list(want.components),
                        want.units)


def _frames(ds: Dataset, choice: StreamChoice, seq: str, keep_flagged: bool
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(time_s (T,), features (T, F) float32, valid (T,) bool) of one sequence."""
    spec = ds.streams[choice.stream]
    arr = ds.sequence_array(choice.stream, seq, channels=choice.channels)
    values = arr.values
    if spec.components:
        keep = [spec.components.index(k) for k in choice.components]
        values = values[:, :, keep]
    feats = np.ascontiguousarray(values.reshape(values.shape[0], -1), dtype=np.float32)
    bad_bits = np.uint8(Flag.MISSING) | (np.uint8(0) if keep_flagged else np.uint8(Flag.FLAGGED))
    valid = ((arr.flags & bad_bits) == 0) & np.isfinite(feats).all(axis=1)
    return arr.time_s, feats, valid


def _nominal_step(spec_rate: float | None, time_s: np.ndarray) -> float:
    if spec_rate:
        return 1.0 / spec_rate
    if time_s.size < 2:
        return 1.0
    return float(np.median(np.diff(time_s)))


def _clips(extra: dict, time_s: np.ndarray, seq: str) -> list[Clip]:
    out = []
    for i, clip in enumerate(extra.get("clips") or []):
        try:
            start, n, split = int(clip["start_frame"]), int(clip["n_frames"]), str(clip["split"])
        except (KeyError, TypeError, ValueError) as err:
            raise InputError(f"sequence {seq!r}: extra['clips'][{i}] is malformed ({clip!r}); "
                             "expected start_frame, n_frames and split") from err
        if split not in ("train", "val", "test") or n < 1:
            raise InputError(f"sequence {seq!r}: extra['clips'][{i}] has split {split!r} / "
                             f"n_frames {n}; split must be train, val or test")
        if start < 0 or start + n > time_s.size:
            raise InputError(f"sequence {seq!r}: extra['clips'][{i}] spans frames {start}.."
                             f"{start + n - 1}, beyond the {time_s.size} frames of the stream")
        out.append(Clip(float(time_s[start]), float(time_s[start + n - 1]), split))
    return out


def load_frame_table(ds: Dataset, inputs: StreamChoice, targets: StreamChoice | None,
                     rate_hz: float | None, keep_flagged: bool = False,
                     sequences: list[str] | None = None) -> FrameTable:
    """Read every sequence that has both streams once, resample onto a common grid at
    `rate_hz` (default: the target stream's rate, else the input's) and stack."""
    streams = [inputs] + ([targets] if targets is not None else [])
    ids = set(ds.sequence_ids(inputs.stream))
    if targets is not None:
        ids &= set(ds.sequence_ids(targets.stream))
    if sequences is not None:
        ids &= set(sequences)
    seq_ids = sorted(ids)
    if not seq_ids:
        both = " and ".join(repr(s.stream) for s in streams)
        raise InputError(f"dataset {ds.root}: no sequence has both streams {both}")
    ref = streams[-1]
    rate = rate_hz or ds.streams[ref.stream].rate_hz or ds.streams[inputs.stream].rate_hz
    parts: dict[str, list[np.ndarray]] = {"x": [], "y": [], "valid": [], "time": []}
    kept, subjects, labels, clips, origins = [], [], [], [], []
    for seq in seq_ids:
        loaded = [_frames(ds, s, seq, keep_flagged) for s in streams]
        if rate is None:  # irregular streams: use the observed step of the reference stream
            rate = 1.0 / _nominal_step(None, loaded[-1][0])
        grid = common_grid([float(t[0]) for t, _, _ in loaded if t.size],
                           [float(t[-1]) for t, _, _ in loaded if t.size], rate) \
            if all(t.size for t, _, _ in loaded) else np.zeros(0)
        if grid.size == 0:
            continue
        resampled = []
        for s, (t, feats, valid) in zip(streams, loaded, strict=True):
            if t.shape == grid.shape and np.allclose(t, grid, atol=1e-6 / rate):
                resampled.append((feats, valid))  # already on the grid: no interpolation
            else:
                step = _nominal_step(ds.streams[s.stream].rate_hz, t)
                resampled.append(resample_to_grid(t, feats, valid, grid, 1.5 * step))
        info = ds.sequences.get(seq)
        parts["x"].append(resampled[0][0])
        if targets is not None:
            parts["y"].append(resampled[1][0])
        valid = resampled[0][1] & (resampled[1][1] if targets is not None else True)
        parts["valid"].append(valid)
        parts["time"].append(grid)
        kept.append(seq)
        subjects.append(info.subject_id if info else "unknown")
        labels.append(info.label if info and info.label else UNLABELLED)
        clips.append(_clips(info.extra if info else {}, loaded[-1][0], seq))
        origins.append(info.source if info and info.source else ds.root.name)
    if not kept:
        raise InputError(f"dataset {ds.root}: the streams of {len(seq_ids)} sequences share "
                         "no time range")
    lengths = [len(t) for t in parts["time"]]
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return FrameTable(
        inputs=np.concatenate(parts["x"]),
        targets=np.concatenate(parts["y"]) if targets is not None else None,
        valid=np.concatenate(parts["valid"]),
        sequence_index=np.repeat(np.arange(len(kept), dtype=np.int32), lengths),
        time_s=np.concatenate(parts["time"]),
        offsets=offsets,
        rate_hz=float(rate),
        input_features=inputs.features,
        target_features=targets.features if targets is not None else [],
        sequence_ids=kept, subject_ids=subjects, labels=labels, clips=clips, sources=origins,
    )
