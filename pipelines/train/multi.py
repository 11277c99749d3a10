"""Multi-source training (HDyS's point): several datasets as one FrameTable.

The streams are chosen on the first dataset (as for one dataset); every other dataset
must hold a stream of the same name (else the one stream of the same family) and the
model sees the channels all of them share, in the first dataset's order. Sequences,
subjects and the source of each sequence are named `<dataset folder>:<id>` / the folder
name, so ids never collide and `--split leave-source-out:NAME` holds one dataset out.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from musclekit.dataset import Dataset, open_dataset
from musclekit.errors import InputError
from musclekit.pipelines.train.sources import (
    StreamChoice,
    choose_streams,
    load_frame_table,
    match_stream,
)
from musclekit.pipelines.train.table import FrameTable
from musclekit.progress import console


def dataset_paths(dataset: str, extra: list[str]) -> list[Path]:
    paths = [Path(dataset), *[Path(p) for p in extra]]
    names = [p.resolve().name for p in paths]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InputError(f"datasets to train together must have distinct folder names (the "
                         f"name is each sequence's source): {', '.join(dupes)} appears twice")
    return paths


def _stream_in(ds: Dataset, want: StreamChoice, role: str) -> str:
    if want.stream in ds.streams and ds.streams[want.stream].family == want.family:
        return want.stream
    same = [n for n, s in ds.streams.items() if s.family == want.family and ds.sequence_ids(n)]
    if len(same) != 1:
        raise InputError(f"dataset {ds.root} has no stream {want.stream!r} and "
                         f"{'several' if same else 'no'} {want.family} streams for the {role} "
                         f"({', '.join(same) or 'none'}); datasets trained together need "
                         "the same streams")
    return same[0]


def _common(datasets: list[Dataset], want: StreamChoice, role: str) -> list[StreamChoice]:
    """`want` restricted to the channels every dataset has, as each dataset names it."""
    names = [_stream_in(ds, want, role) for ds in datasets]
    shared = [c for c in want.channels
              if all(c in ds.streams[n].channels for ds, n in zip(datasets, names, strict=True))]
    if not shared:
        raise InputError(f"the datasets share no {role} channel of {want.family} "
                         f"({', '.join(str(ds.root) for ds in datasets)})")
    dropped = [c for c in want.channels if c not in shared]
    if dropped:
        console.print(f"{role}: {len(dropped)} channel(s) not in every dataset left out: "
                      f"{', '.join(dropped[:8])}{' ...' if len(dropped) > 8 else ''}")
    units = [want.units[want.channels.index(c)] for c in shared] if want.units else None
    return [match_stream(ds, StreamChoice(n, want.family, shared, want.components, units), role)
            for ds, n in zip(datasets, names, strict=True)]


def load_sources(paths: list[Path], inputs: StreamChoice | None, targets: StreamChoice | None,
                 input_wanted: str | None, target_wanted: str | None, task: str,
                 rate_hz: float | None, keep_flagged: bool
                 ) -> tuple[FrameTable, StreamChoice, StreamChoice]:
    """Every dataset's frames stacked into one table, with the streams chosen on the first
    (or given) restricted to the shared channels; returns (table, inputs, targets)."""
    datasets = [open_dataset(p) for p in paths]
    if inputs is None or targets is None:
        inputs, targets = choose_streams(datasets[0], input_wanted, target_wanted, task)
    ins, outs = _common(datasets, inputs, "input"), _common(datasets, targets, "target")
    tables = []
    rate = rate_hz
    for ds, i, o in zip(datasets, ins, outs, strict=True):
        table = load_frame_table(ds, i, o, rate, keep_flagged)
        rate = table.rate_hz  # every dataset on the first one's grid rate
        name = ds.root.resolve().name
        table.sequence_ids = [f"{name}:{s}" for s in table.sequence_ids]
        table.subject_ids = [f"{name}:{s}" for s in table.subject_ids]
        table.sources = [name] * len(table.sequence_ids)
        tables.append(table)
    return concat(tables), ins[0], outs[0]


def concat(tables: list[FrameTable]) -> FrameTable:
    first = tables[0]
    lengths = np.concatenate([np.diff(t.offsets) for t in tables])
    seq_base = np.cumsum([0] + [len(t.sequence_ids) for t in tables[:-1]])
    return FrameTable(
        inputs=np.concatenate([t.inputs for t in tables]),
        targets=np.concatenate([t.targets for t in tables]) if first.targets is not None
        else None,
        valid=np.concatenate([t.valid for t in tables]),
        sequence_index=np.concatenate([t.sequence_index + b for t, b in
                                       zip(tables, seq_base, strict=True)]).astype(np.int32),
        time_s=np.concatenate([t.time_s for t in tables]),
        offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        rate_hz=first.rate_hz, input_features=first.input_features,
        target_features=first.target_features,
        sequence_ids=[s for t in tables for s in t.sequence_ids],
        subject_ids=[s for t in tables for s in t.subject_ids],
        labels=[s for t in tables for s in t.labels],
        clips=[c for t in tables for c in t.clips],
        sources=[s for t in tables for s in t.sources])
