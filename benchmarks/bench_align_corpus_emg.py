"""Every real EMG export of the corpus through the `musclekit align` command, no flags.

For each file in `shared/data/corpus/emg/` (and the Rajagopal 2016 `.anc`), a phone-like clip
is generated whose motion follows the recording's own sEMG envelope (a square moving at a
speed given by the summed envelope, 50 ms after it, like a limb after its muscles), starting
`LAG_S` after the recording's first sample. Its creation time is that instant on the sEMG
clock when the file has one (OpenBCI); files with relative times only get an arbitrary
creation time, and align assumes their first sample at the video's first frame (it says so).
Then, in a fresh folder, exactly

    musclekit align --emg FILE --video clip.mov

runs (the dataset goes to the default ./musclekit-data), and the table below is printed from
the dataset it wrote: the reader, the rate read per channel group, the channels and units,
the verdict and the warnings.

    python benchmarks/bench_align_corpus_emg.py [--corpus ../shared/data/corpus/emg] [--markdown]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

from musclekit import emg as emgproc
from musclekit import open_dataset
from musclekit.pipelines.align.emg_files import read_recording
from musclekit.pipelines.align.synthetic import write_video

LAG_S = 0.3  # the clip starts this long after the first sEMG sample
VIDEO_START_NS = 1_795_000_000_000_000_000  # creation time for files without a wall clock


def clip_for(emg_path: Path, video: Path) -> dict:
    """A clip whose motion follows the file's summed sEMG envelope; returns what was assumed."""
    rec = read_recording(emg_path)
    ch = rec.channels
    live = [c for c in ch if np.ptp(c.values[np.isfinite(c.values)]) > 0] or ch
    rate = 1.0 / float(np.nanmedian([c.sample_period_s for c in live]))
    t0 = min(int(c.time_ns[0]) for c in live)
    duration = min(60.0, max(int(c.time_ns[-1]) for c in live) / 1e9 - t0 / 1e9 - LAG_S)
    total = np.zeros(0)
    grid = t0 / 1e9 + np.arange(0.0, duration + LAG_S, 0.01)
    for c in live:
        cfg = emgproc.EmgProcessing(band_hz=(20.0, min(450.0, 0.45 * rate)), notch_hz=None)
        env = emgproc.envelope(c.values[:, None] - np.median(c.values), rate, cfg)[:, 0]
        env = np.interp(grid, c.time_ns / 1e9, env)
        env = env / (np.percentile(env, 99) or 1.0)
        total = env if total.size == 0 else total + env
    total /= total.max() or 1.0
    # Bursts where the envelope peaks: the square moves 50 ms after the muscles fire.
    from scipy.signal import find_peaks

    peaks, props = find_peaks(total, height=0.2, distance=30)
    rel = grid[peaks] - t0 / 1e9 - LAG_S + 0.05
    bursts = np.column_stack([rel, np.full(rel.size, 0.12), props["peak_heights"]])
    creation = (t0 + int(LAG_S * 1e9)) if not rec.relative_time else VIDEO_START_NS
    write_video(video, duration_s=duration, bursts=bursts, creation_ns=creation)
    # The offset that would be exactly right: 0 when the creation time is on the sEMG clock;
    # LAG_S when align has to assume the first sample at the video's first frame.
    return {"duration_s": duration, "relative": rec.relative_time, "bursts": int(rel.size),
            "true_offset_s": LAG_S if rec.relative_time else 0.0}


def run_one(emg_path: Path, work: Path) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    video = work / "clip.mov"
    made = clip_for(emg_path, video)
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "musclekit.cli.main", "align", "--emg", str(emg_path),
                           "--video", str(video)], cwd=work, capture_output=True, text=True)
    wall = time.perf_counter() - t
    row = {"file": emg_path.name, "exit": proc.returncode, "wall_s": wall, "stdout": proc.stdout.strip(),
           "stderr": proc.stderr.strip()[-800:], **made}
    if proc.returncode != 0:
        return row
    ds = open_dataset(work / "musclekit-data")
    qc = json.loads(next((work / "musclekit-data" / "qc" / "align").glob("*.json")).read_text())
    emg = qc["emg"]
    groups: dict[str, Counter] = {}
    units: dict[str, set] = {}
    for d in [*emg["channel_details"], *emg["other_channels"]]:
        kind = d["kind"]
        rate = d.get("declared_rate_hz") or d.get("measured_rate_hz")
        groups.setdefault(kind, Counter())[f"{rate:.6g} Hz" if rate else "?"] += 1
        units.setdefault(kind, set()).add(f"{d.get('unit_in_file') or 'none'} -> {d.get('unit') or 'as in file'}")
    row.update(
        reader=emg["layout"], device=emg["device"], time_unit=emg["time_unit"], kind=emg["kind"],
        groups={k: dict(v) for k, v in groups.items()}, units={k: sorted(v) for k, v in units.items()},
        streams=sorted(ds.streams), verdict=qc["quality"]["verdict"],
        warnings=qc["quality"].get("emg_warnings", []), offset_s=qc["alignment"]["offset_s"],
        offset_source=qc["alignment"]["offset_source"],
        refinement=qc["alignment"]["refinement"]["reason"])
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = Path(__file__).resolve().parents[2]
    parser.add_argument("--corpus", type=Path, default=here / "shared" / "data" / "corpus" / "emg")
    parser.add_argument("--rajagopal", type=Path, default=here / "shared" / "data" / "rajagopal2016"
                        / "ExpData" / "emg_walk_raw.anc")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows as JSON")
    args = parser.parse_args()
    files = sorted(p for p in args.corpus.iterdir() if p.is_file() and p.name != "README.md")
    if args.rajagopal.is_file():
        files.append(args.rajagopal)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for path in files:
            row = run_one(path, Path(tmp) / path.stem)
            rows.append(row)
            print(json.dumps(row, indent=1, default=str), flush=True)
    print("\n| file | exit | reader (device) | rates read per group (channels) | units (file -> stored) | streams | verdict | offset (true) | warnings |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        if r["exit"] != 0:
            print(f"| {r['file']} | {r['exit']} | | | | | | | {r['stderr'][-200:]} |")
            continue
        groups = "; ".join(f"{k}: " + ", ".join(f"{n} x {rate}" for rate, n in v.items())
                           for k, v in r["groups"].items())
        units = "; ".join(f"{k}: {', '.join(v)}" for k, v in r["units"].items())
        warn = " / ".join(w[:90] + ("..." if len(w) > 90 else "") for w in r["warnings"]) or "none"
        print(f"| {r['file']} | {r['exit']} | {r['reader']} ({r['device']}) | {groups} | {units} | "
              f"{', '.join(r['streams'])} | {r['verdict']} | {r['offset_s']:+.3f} s ({r['true_offset_s']:+.3f} s); "
              f"{r['offset_source']}; refinement {r['refinement']} | {warn} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1, default=str))


if __name__ == "__main__":
    main()
