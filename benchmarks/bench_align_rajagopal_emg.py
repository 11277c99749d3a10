"""Real raw EMG through musclekit's shared chain: the Rajagopal et al. (2016) walking trial.

Reads `shared/data/rajagopal2016/ExpData/emg_walk_raw.anc` (Cortex analog ASCII, 2000 Hz,
10 right-leg muscles) with align's reader, computes each muscle's linear envelope with
`musclekit.emg` (offset, 20-450 Hz band-pass, rectification, 6 Hz zero-lag low-pass),
normalises it to its peak in the trial, and prints when in the right gait cycle (heel strike
0.248 s to 1.3925 s, from the reference pipeline) each muscle peaks, with the time the
chain took. With --plot it draws docs/img/align-rajagopal-walk-emg.png.

    python benchmarks/bench_align_rajagopal_emg.py [--data ../shared/data/rajagopal2016] [--plot PNG]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from musclekit import emg
from musclekit.pipelines.align.emg_csv import EmgCsvOptions
from musclekit.pipelines.align.emg_files import read_recording

HEEL_STRIKES_S = (0.248, 1.3925)
NAMES = {"SOL": "soleus", "GAS": "gastrocnemius", "TA": "tibialis anterior", "MH": "medial hamstrings",
         "BF": "biceps femoris", "VL": "vastus lateralis", "VM": "vastus medialis",
         "RF": "rectus femoris", "GMAX": "gluteus maximus", "GMED": "gluteus medius"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = Path(__file__).resolve().parents[2]
    parser.add_argument("--data", type=Path, default=here / "shared" / "data" / "rajagopal2016")
    parser.add_argument("--plot", type=Path, default=None)
    args = parser.parse_args()
    anc = args.data / "ExpData" / "emg_walk_raw.anc"
    t0 = time.perf_counter()
    # The file counts time from the trial start; any time zero does for a plot of one trial.
    rec = read_recording(anc, EmgCsvOptions(start="2016-01-01T00:00:00Z"))
    t_read = time.perf_counter() - t0
    x = np.column_stack([ch.values for ch in rec.channels])
    rate = 1.0 / rec.sample_period_s
    t0 = time.perf_counter()
    env = emg.envelope(x, rate)
    t_env = time.perf_counter() - t0
    norm = emg.normalise_peak(env)
    t = (rec.channels[0].time_ns - rec.channels[0].time_ns[0]) / 1e9
    hs0, hs1 = HEEL_STRIKES_S
    inside = (t >= hs0) & (t <= hs1)
    pct = (t[inside] - hs0) / (hs1 - hs0) * 100
    print(f"{anc.name}: {x.shape[1]} muscles x {x.shape[0]} samples at {rate:g} Hz; read {t_read:.2f} s, "
          f"envelopes {t_env * 1e3:.0f} ms")
    print("muscle  peak (% gait cycle)  mean envelope 0-15 % | 40-60 % | 85-100 % (1 = trial peak)")
    for j, name in enumerate(rec.channel_names):
        e = norm[inside, j]
        parts = [e[(pct >= lo) & (pct < hi)].mean() for lo, hi in ((0, 15), (40, 60), (85, 101))]
        print(f"{name:6s}  {pct[np.argmax(e)]:5.0f}                {parts[0]:.2f} | {parts[1]:.2f} | {parts[2]:.2f}")
    if args.plot:
        plot(args.plot, t, x, norm, rec.channel_names)
        print(f"wrote {args.plot}")


def plot(path: Path, t: np.ndarray, raw: np.ndarray, env: np.ndarray, names: list[str]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    fig, axes = plt.subplots(5, 2, figsize=(11, 9), sharex=True, dpi=90)
    for j, (ax, name) in enumerate(zip(axes.T.ravel(), names, strict=False)):
        centred = raw[:, j] - raw[:, j].mean()
        ax.plot(t, np.abs(centred) / np.abs(centred).max(), color="0.75", lw=0.4)
        ax.plot(t, env[:, j], color="tab:blue", lw=1.4)
        for hs in HEEL_STRIKES_S:
            ax.axvline(hs, color="k", ls="--", lw=0.8)
        ax.set_title(f"{name} ({NAMES.get(name, name)})", fontsize=9, pad=2)
        ax.set_ylim(0, 1.05)
        ax.tick_params(labelsize=7)
    for ax in axes[-1]:
        ax.set_xlabel("time in the trial (s)", fontsize=8)
    handles = [Line2D([], [], color="0.75", label="rectified raw EMG (scaled to its peak)"),
               Line2D([], [], color="tab:blue", lw=1.4, label="envelope, 20-450 Hz + 6 Hz zero-lag (1 = trial peak)"),
               Line2D([], [], color="k", ls="--", label="right heel strike")]
    fig.legend(handles=handles, loc="upper center", ncol=3, fontsize=8, frameon=False, bbox_to_anchor=(0.5, 0.975))
    fig.suptitle("Rajagopal et al. 2016 walking trial, raw EMG (Cortex .anc, 2000 Hz) through musclekit.emg",
                 fontsize=10, y=0.995)
    fig.subplots_adjust(left=0.05, right=0.98, bottom=0.06, top=0.91, hspace=0.45, wspace=0.12)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":
    main()
