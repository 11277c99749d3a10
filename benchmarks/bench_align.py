"""Benchmark `musclekit align` against its bound: a plain sequential PyAV decode of the file.

Generates (once, cached) 60 s 720p and 1080p H.264 captures at 29.97 fps with a textured,
panning background (every block changes, as in a hand-held phone clip) and a matching sEMG
CSV, then times, best of --repeat runs each:
  bound        `for frame in container.decode(video=0): pass` with PyAV's default threading
  bound AUTO   the same with stream.thread_type = "AUTO" (what align uses)
  align        align_capture() with QC PNG/JSON and dataset writing (imports warmed up)
  align no-QC  the same without the QC report
and prints each time and the ratio align / bound (goal <= 1.3).

    python benchmarks/bench_align.py [--duration 60] [--repeat 2] [--workdir /tmp/musclekit-bench-align]
"""

from __future__ import annotations

import argparse
import platform
import resource
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import av

from musclekit.pipelines.align.config import AlignConfig, Capture
from musclekit.pipelines.align.run import align_capture
from musclekit.pipelines.align.synthetic import make_capture

SIZES = {"720p": (1280, 720), "1080p": (1920, 1080)}


def cpu_s() -> float:
    """CPU seconds of this process, all threads: fairer than wall time on a shared machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def plain_decode_s(path: Path, thread_type: str | None) -> tuple[float, float, int]:
    start, cpu = time.perf_counter(), cpu_s()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if thread_type:
            stream.thread_type = thread_type
        n = sum(1 for _ in container.decode(stream))
    return time.perf_counter() - start, cpu_s() - cpu, n


def align_s(capture: Capture, cfg: AlignConfig) -> tuple[float, float]:
    out = Path(tempfile.mkdtemp(prefix="bench-align-ds-"))
    shutil.rmtree(out)
    start, cpu = time.perf_counter(), cpu_s()
    align_capture(capture, cfg, out)
    seconds, cpu_seconds = time.perf_counter() - start, cpu_s() - cpu
    shutil.rmtree(out, ignore_errors=True)
    return seconds, cpu_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--sizes", default="720p,1080p")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "musclekit-bench-align")
    args = parser.parse_args()

    args.workdir.mkdir(parents=True, exist_ok=True)
    print(f"machine: {platform.machine()}, {platform.python_version()}, PyAV {av.__version__}")
    # Warm up imports (matplotlib, pandas, pyarrow) on a tiny capture: a one-off cost per process.
    tiny = make_capture(args.workdir / "warmup", duration_s=10.0)
    align_s(Capture(tiny.emg_path, tiny.video_path), AlignConfig())

    rows = []
    for size in args.sizes.split(","):
        width, height = SIZES[size]
        name = f"bench_{size}_{int(args.duration)}s"
        video = args.workdir / f"{name}.mov"
        if not video.exists():
            print(f"generating {video} ...", flush=True)
            start = time.perf_counter()
            make_capture(args.workdir, name=name, duration_s=args.duration, width=width, height=height,
                         texture=True, creation="whole", dropout_s=(20.0, 23.0), seed=11)
            print(f"  {time.perf_counter() - start:.0f} s", flush=True)
        capture = Capture(args.workdir / f"{name}_emg.csv", video)
        cfg = AlignConfig()
        keys = ("bound", "bound_auto", "align", "align_noqc")
        wall = {key: float("inf") for key in keys}
        cpu = {key: float("inf") for key in keys}
        n_frames = 0
        for _ in range(args.repeat):
            runs = {
                "bound": (plain_decode_s, (video, None)),
                "bound_auto": (plain_decode_s, (video, "AUTO")),
                "align": (align_s, (capture, cfg)),
                "align_noqc": (align_s, (capture, replace(cfg, qc=False))),
            }
            for key, (fn, fn_args) in runs.items():
                result = fn(*fn_args)
                w, c = result[:2]
                wall[key], cpu[key] = min(wall[key], w), min(cpu[key], c)
                if key == "bound":
                    n_frames = result[2]
        rows.append((size, n_frames, wall, cpu, video.stat().st_size * 8 / 1e6 / args.duration))

    for label, pick in (("wall-clock seconds", 2), ("CPU seconds (all threads)", 3)):
        print(f"\n{label}, best of {args.repeat}:")
        print(f"{'clip':<8}{'frames':>7}{'Mbit/s':>7}{'bound':>8}{'AUTO':>8}{'align':>8}{'no-QC':>8}"
              f"{'grid fps':>9}{'ratio':>7}{'vs AUTO':>8}{'no-QC ratio':>12}")
        for row in rows:
            size, n, t, mbps = row[0], row[1], row[pick], row[4]
            print(f"{size:<8}{n:>7}{mbps:>7.1f}{t['bound']:>8.2f}{t['bound_auto']:>8.2f}{t['align']:>8.2f}"
                  f"{t['align_noqc']:>8.2f}{args.duration * 10 / t['align']:>9.1f}"
                  f"{t['align'] / t['bound']:>7.2f}{t['align'] / t['bound_auto']:>8.2f}"
                  f"{t['align_noqc'] / t['bound']:>12.2f}")
    print("\nratio = align / plain sequential decode (goal <= 1.3); grid fps = 10 fps output rows per second")


if __name__ == "__main__":
    main()
