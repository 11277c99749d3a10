"""Dataset format throughput: write/read vs raw pyarrow, and a filtered polars scan.

    python benchmarks/bench_format.py [--hours-scan 10] [--workdir /tmp/mk-bench-format]

1. One hour of 402 muscle activations at 50 fps plus 18 GRF channels (180,000 frames),
   written and read through the format and through raw pyarrow (same table, same
   compression). Prints MB/s and the ratio (goal: format write >= 0.8 of raw pyarrow).
2. A dataset of `--hours-scan` hours; a polars lazy scan that reads one muscle of one
   subject (goal: < 0.5 s).
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from musclekit.dataset import DatasetWriter, Provenance, SequenceInfo, StreamSpec, open_dataset
from musclekit.dataset.synthetic import GRF_CHANNELS, GRF_UNITS
from musclekit.dataset.writer import COMPRESSION, COMPRESSION_LEVEL

RATE_HZ = 50.0
MUSCLES = [f"LU_{i:03d}" for i in range(80)] + [f"TL_{i:03d}" for i in range(322)]


def specs() -> list[StreamSpec]:
    return [StreamSpec(name="activations", family="activations", rate_hz=RATE_HZ, channels=MUSCLES),
            StreamSpec(name="grf", family="grf", rate_hz=RATE_HZ, channels=GRF_CHANNELS,
                       units=GRF_UNITS)]


def signals(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    # Smooth-ish signals compress like real ones; pure noise would understate the codec.
    base = np.cumsum(rng.normal(0, 0.01, (n, len(MUSCLES))).astype(np.float32), axis=0)
    act = (0.5 + 0.5 * np.sin(base)).astype(np.float32)
    grf = rng.normal(0, 100, (n, len(GRF_CHANNELS))).astype(np.float32)
    return act, grf


def write_format(root: Path, n: int, act: np.ndarray, grf: np.ndarray, unit: str,
                 subject: str = "S01", sequences: int = 1) -> None:
    writer = DatasetWriter.create_or_open(root, name="bench", streams=specs())
    per = n // sequences
    with writer.unit(unit, Provenance.for_stage("bench")) as u:
        for q in range(sequences):
            sl = slice(q * per, (q + 1) * per)
            seq = SequenceInfo(id=f"{subject}_seq{q:03d}", subject_id=subject)
            t = np.arange(per) / RATE_HZ
            u.write_sequence("activations", seq, t, act[sl])
            u.write_sequence("grf", seq, t, grf[sl])


def write_raw(path: Path, n: int, act: np.ndarray, grf: np.ndarray) -> None:
    cols = {"time_s": pa.array(np.arange(n) / RATE_HZ)}
    for j, name in enumerate(MUSCLES):
        cols[name] = pa.array(act[:, j])
    for j, name in enumerate(GRF_CHANNELS):
        cols[name] = pa.array(grf[:, j])
    pq.write_table(pa.table(cols), path, compression=COMPRESSION,
                   compression_level=COMPRESSION_LEVEL)


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hours-scan", type=float, default=10.0)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/mk-bench-format"))
    args = parser.parse_args()
    work = args.workdir
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)

    n = int(3600 * RATE_HZ)
    act, grf = signals(n, 0)
    mb = (act.nbytes + grf.nbytes) / 1e6
    raw_path = work / "raw.parquet"
    t_raw_w = min(timed(lambda: write_raw(raw_path, n, act, grf)) for _ in range(2))
    t_fmt_w = []
    for i in range(2):
        shutil.rmtree(work / f"fmt{i}", ignore_errors=True)
        t_fmt_w.append(timed(lambda i=i: write_format(work / f"fmt{i}", n, act, grf, "u0")))
    t_fmt_w = min(t_fmt_w)
    t_raw_r = min(timed(lambda: pq.read_table(raw_path).to_pandas()) for _ in range(2))
    ds = open_dataset(work / "fmt0")

    def read_fmt():
        ds.sequence_array("activations", "S01_seq000")
        ds.sequence_array("grf", "S01_seq000")

    t_fmt_r = min(timed(read_fmt) for _ in range(2))
    print(f"one hour, 402 activations + 18 GRF at 50 fps ({n} frames, {mb:.0f} MB float32)")
    print(f"  write: format {mb / t_fmt_w:7.1f} MB/s ({t_fmt_w:.2f} s), raw pyarrow "
          f"{mb / t_raw_w:7.1f} MB/s ({t_raw_w:.2f} s), ratio {t_raw_w / t_fmt_w:.2f} (goal >= 0.8)")
    print(f"  read:  format {mb / t_fmt_r:7.1f} MB/s ({t_fmt_r:.2f} s, numpy arrays), raw pyarrow "
          f"{mb / t_raw_r:7.1f} MB/s ({t_raw_r:.2f} s, pandas), ratio {t_raw_r / t_fmt_r:.2f}")

    if args.hours_scan <= 0:
        shutil.rmtree(work, ignore_errors=True)
        return
    # A many-subject dataset: 30-minute sequences, one unit per subject.
    scan_root = work / "scan"
    seq_frames = int(1800 * RATE_HZ)
    n_seq = int(round(args.hours_scan * 2))
    act_seq, grf_seq = signals(seq_frames, 1)
    t_build = time.perf_counter()
    for k in range(n_seq):
        write_format(scan_root, seq_frames, act_seq, grf_seq, f"subject{k:03d}",
                     subject=f"S{k:03d}")
    t_build = time.perf_counter() - t_build
    size_gb = sum(f.stat().st_size for f in scan_root.rglob("*.parquet")) / 1e9

    def scan():
        ds = open_dataset(scan_root)
        return (ds.scan("activations").filter(pl.col("subject_id") == f"S{n_seq // 2:03d}")
                .select("time_s", "LU_042").collect())

    scan()  # warm the page cache: we time the query, not the disk
    times = sorted(timed(scan) for _ in range(5))
    rows = scan().height
    print(f"{args.hours_scan:g} h dataset ({n_seq} subjects x 30 min, {size_gb:.2f} GB on disk, "
          f"written in {t_build:.0f} s)")
    print(f"  polars scan of one muscle of one subject: median {times[2]:.3f} s for {rows} rows "
          f"(goal < 0.5 s), ratio to goal {times[2] / 0.5:.2f}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
