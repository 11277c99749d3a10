"""Benchmark align's raw sEMG path against its bound: a plain scipy filter + resample.

One hour of raw sEMG at 2 kHz on 16 channels (115 M samples; band-limited noise whose
amplitude follows slow bursts, with integer-ns timestamps as the readers produce them) goes
through exactly what `align_capture` runs on a raw recording after reading it:
  align   `rawemg.raw_envelopes` (per channel: a line through the timestamps, offset removal,
          band-pass, rectification, decimation, zero-lag envelope low-pass) and
          `RawEnvelopes.on_grid` (anti-aliased resampling onto a 10 Hz grid)
  bound   per channel: `scipy.signal.sosfiltfilt` with the same band-pass, then
          `scipy.signal.resample_poly(x, 1, 200)` to 10 Hz
Both run channel by channel on contiguous arrays (scipy's fastest layout). Prints wall and
CPU seconds (best of --repeat), throughput in samples/s and the ratio align / bound
(goal <= 1.5).

    python benchmarks/bench_align_raw.py [--minutes 60] [--channels 16] [--repeat 2]
"""

from __future__ import annotations

import argparse
import platform
import resource
import time

import numpy as np
from scipy import signal

from musclekit.emg import EmgProcessing
from musclekit.pipelines.align.emg_csv import EmgChannel, EmgRecording
from musclekit.pipelines.align.grid import ClockMap
from musclekit.pipelines.align.rawemg import raw_envelopes

RATE_HZ = 2000.0
GRID_HZ = 10.0


def cpu_s() -> float:
    """CPU seconds of this process, all threads: fairer than wall time on a shared machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def make_recording(minutes: float, channels: int, seed: int = 0) -> EmgRecording:
    rng = np.random.default_rng(seed)
    n = int(minutes * 60 * RATE_HZ)
    start_ns = 1_795_338_000_000_000_000
    t_ns = start_ns + np.round(np.arange(n) * (1e9 / RATE_HZ)).astype(np.int64)
    sos = signal.butter(2, [30, 300], btype="bandpass", fs=RATE_HZ, output="sos")
    slow = 0.2 + np.abs(np.sin(2 * np.pi * 0.4 * np.arange(n) / RATE_HZ))
    chans = []
    for j in range(channels):
        x = signal.sosfilt(sos, rng.standard_normal(n)) * slow * 1e-3 + 2e-4
        chans.append(EmgChannel(name=f"ch{j:02d}", time_ns=t_ns, values=x, lines=np.zeros(1, np.int64),
                                sample_period_s=1.0 / RATE_HZ, unit="V"))
    from pathlib import Path

    return EmgRecording(path=Path("bench.csv"), channels=chans, layout="wide", time_unit="ns",
                        assumed_tz=None, header_line=1)


def run_align(rec: EmgRecording, grid_s: np.ndarray) -> np.ndarray:
    env = raw_envelopes(rec, EmgProcessing())
    clock = ClockMap(video_start_ns=rec.start_ns, offset_s=0.0)
    values, _ = env.on_grid(clock.to_video_s, grid_s)
    return values


def run_bound(rec: EmgRecording) -> list[np.ndarray]:
    sos = signal.butter(4, [20.0, 450.0], btype="bandpass", fs=RATE_HZ, output="sos")
    return [signal.resample_poly(signal.sosfiltfilt(sos, ch.values), 1, int(RATE_HZ / GRID_HZ))
            for ch in rec.channels]


def best(fn, repeat: int) -> tuple[float, float]:
    walls, cpus = [], []
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), cpu_s()
        fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(cpu_s() - c0)
    return min(walls), min(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    t0 = time.perf_counter()
    rec = make_recording(args.minutes, args.channels)
    n = rec.channels[0].values.size * len(rec.channels)
    print(f"{platform.processor() or platform.machine()}, python {platform.python_version()}; "
          f"{args.minutes:g} min x {args.channels} channels at {RATE_HZ:g} Hz = {n / 1e6:.1f} M samples "
          f"(generated in {time.perf_counter() - t0:.1f} s)")
    grid_s = np.arange(0.0, args.minutes * 60 - 1.0, 1.0 / GRID_HZ)
    run_align(make_recording(0.2, 2), np.arange(0.0, 10.0, 0.1))  # warm imports and caches
    bound_wall, bound_cpu = best(lambda: run_bound(rec), args.repeat)
    align_wall, align_cpu = best(lambda: run_align(rec, grid_s), args.repeat)
    for name, wall, cpu in (("bound (sosfiltfilt + resample_poly)", bound_wall, bound_cpu),
                            ("align raw path", align_wall, align_cpu)):
        print(f"{name:38s} wall {wall:7.2f} s  cpu {cpu:7.2f} s  {n / wall / 1e6:6.1f} M samples/s "
              f"({args.minutes * 60 / wall:,.0f}x real time)")
    print(f"ratio align / bound: wall {align_wall / bound_wall:.2f}, cpu {align_cpu / bound_cpu:.2f} (goal <= 1.5)")


if __name__ == "__main__":
    main()
