"""Automatic scaling on every corpus trial with a static trial and a mass (issue 26).

Runs `musclekit simulate --until ik` per trial, with a static trial and with `--static auto`,
and prints per run: static RMS, factor range, IK RMS, against the goals (IK <= 20 mm, factors
0.7-1.4, static <= 20 mm; `--static auto` IK <= 25 mm). Needs ../shared/data.

    python benchmarks/autoscale_corpus.py [--only NAME] [--json results.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
C = DATA / "corpus"
R = DATA / "rajagopal2016"

TRIALS = {
    "uw_lenhart_walk/model": ["--trc", C / "uw_lenhart_walk/overground_17.trc", "--static",
                              C / "uw_lenhart_walk/static1.trc", "--mass", "62", "--model",
                              C / "uw_lenhart_walk/generic_dotnames_model.osim"],
    "uw_lenhart_walk/preset": ["--trc", C / "uw_lenhart_walk/overground_17.trc", "--static",
                               C / "uw_lenhart_walk/static1.trc", "--mass", "62",
                               "--marker-set", "uw-lenhart"],
    "btk_pig/preset": ["--c3d", C / "btk_pig/walk.c3d", "--static", C / "btk_pig/static.c3d",
                       "--mass", "74", "--height", "1.76", "--marker-set", "plug-in-gait"],
    "btk_functional/preset": ["--c3d", C / "btk_functional/walk.c3d", "--static",
                              C / "btk_functional/static.c3d", "--mass", "60", "--height",
                              "1.68", "--marker-set", "plug-in-gait"],
    "rajagopal2016/lab-markers": ["--trc", R / "ExpData/motion_capture_walk.trc", "--static",
                                  R / "ExpData/static_walk_1.trc", "--mass", "85.07",
                                  "--height", "1.829", "--model", R / "Rajagopal2016.osim",
                                  "--marker-set", R / "Scale/markerset_walk_preScale.xml"],
    "rajagopal2016/preset": ["--trc", R / "ExpData/motion_capture_walk.trc", "--static",
                             R / "ExpData/static_walk_1.trc", "--mass", "85.07", "--height",
                             "1.829", "--marker-set", "uw-lenhart"],
}


def auto(args: list) -> list:
    out = list(args)
    i = out.index("--static")
    out[i + 1] = "auto"
    return out


def run(name: str, args: list, out: Path) -> dict:
    cmd = ["musclekit", "simulate", *map(str, args), "--until", "ik", "--workers", "0",
           "--out", str(out)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    row = {"run": name, "seconds": round(time.perf_counter() - t0, 1), "rc": proc.returncode,
           "command": " ".join(cmd)}
    reports = sorted(out.glob("opensim/*/scale/autoscale.json"))
    if reports:
        rep = json.loads(reports[0].read_text())
        f = list(rep["factors"].values())
        row.update(static_rms_mm=round(1000 * rep["static_rms_m"], 1),
                   factor_min=round(min(f), 3), factor_max=round(max(f), 3))
    errors = sorted(out.glob("opensim/*/ik_ik_marker_errors.sto"))
    if errors:  # OpenSim's own per-frame marker RMS of the IK run
        lines = errors[0].read_text().splitlines()
        start = next(i for i, t in enumerate(lines) if t.strip() == "endheader") + 2
        rms = np.array([float(t.split()[2]) for t in lines[start:] if t.strip()])
        row["ik_rms_mm"] = round(1000 * float(np.sqrt(np.mean(rms ** 2))), 1)
        row["ik_rms_median_mm"] = round(1000 * float(np.median(rms)), 1)
    if proc.returncode != 0:
        row["tail"] = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
    return row


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="")
    ap.add_argument("--out", default="/tmp/musclekit-autoscale-corpus")
    ap.add_argument("--json")
    ap.add_argument("--no-auto", action="store_true")
    a = ap.parse_args()
    if not C.is_dir():
        print(f"no corpus at {C}", file=sys.stderr)
        return 1
    rows = []
    for name, args in TRIALS.items():
        if a.only and a.only not in name:
            continue
        variants = [(name, args)] + ([] if a.no_auto else [(name + "/auto", auto(args))])
        for label, argv in variants:
            row = run(label, argv, Path(a.out) / label.replace("/", "_"))
            rows.append(row)
            print(json.dumps({k: v for k, v in row.items() if k != "command"}), flush=True)
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=1))
    ik = [r.get("ik_rms_mm", np.nan) for r in rows]
    print("median IK RMS mm", np.nanmedian(ik) if rows else "-")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
