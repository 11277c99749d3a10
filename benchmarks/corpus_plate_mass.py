"""The mass the plates weigh against the mass a run uses, on every corpus trial with plates and
the Rajagopal walk and run, through the command itself: `musclekit simulate ... --until ik`
as a lab would type it (its static trial, typed or stored mass, or `--mass plates`), then the
sequence's `plate_mass` record (pipelines/simulate/kinematics/plate_mass.py, checked where the
kinematics stage reads the plates) and whether the command warned.

    nice -n 5 python benchmarks/corpus_plate_mass.py [--only NAME...] [--json FILE]

Prints a Markdown table (docs/validation.md, "The mass the plates weigh")."""

from __future__ import annotations

import argparse
import json
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"

C, RAJ = "corpus", "rajagopal2016"


def _rajagopal(trial: str, mass: str) -> list[str]:
    """The lab's own trial with its scale, IK and plate setups, `mass` typed."""
    scale = "scale_setup_walk_scaleOnly.xml" if trial == "walk" else "scale_setup_run.xml"
    static = "static_walk_1.trc" if trial == "walk" else "static_run.trc"
    return ["--trc", f"{RAJ}/ExpData/motion_capture_{trial}.trc",
            "--static", f"{RAJ}/ExpData/{static}", "--mass", mass,
            "--model", f"{RAJ}/Rajagopal2016.osim", "--scale-setup", f"{RAJ}/Scale/{scale}",
            "--ik-setup", f"{RAJ}/IK/ik_setup_{trial}.xml",
            "--grf", f"{RAJ}/ExpData/grf_{trial}.mot", "--grf-setup", f"{RAJ}/ID/grf_{trial}.xml"]


TRIALS: list[tuple[str, str, list[str]]] = [
    # (name, the subject's mass as the lab gives it, the command line after `simulate`)
    ("uw_lenhart_walk, preset uw-lenhart", "62 (lab's scale settings)", [
        "--trc", f"{C}/uw_lenhart_walk/overground_17.trc", "--mass", "62",
        "--marker-set", "uw-lenhart", "--static", f"{C}/uw_lenhart_walk/static1.trc",
        "--grf", f"{C}/uw_lenhart_walk/overground_17_grf.mot",
        "--grf-setup", f"{C}/uw_lenhart_walk/overground_17_ext_loads.xml"]),
    ("btk_pig, preset plug-in-gait", "74 (stored in the C3D)", [
        "--c3d", f"{C}/btk_pig/walk.c3d", "--marker-set", "plug-in-gait",
        "--static", f"{C}/btk_pig/static.c3d"]),
    ("btk_functional, preset plug-in-gait", "60 (stored in the C3D)", [
        "--c3d", f"{C}/btk_functional/walk.c3d", "--marker-set", "plug-in-gait",
        "--static", f"{C}/btk_functional/static.c3d"]),
    ("btk_helenhayes, preset helen-hayes, --mass plates", "none", [
        "--c3d", f"{C}/btk_helenhayes/gait.c3d", "--marker-set", "helen-hayes",
        "--static", "auto", "--mass", "plates"]),
    ("vicon_treadmill, Rajagopal2016, 75 kg assumed", "none", [
        "--c3d", f"{C}/vicon_treadmill/walking2.c3d", "--model", f"{RAJ}/Rajagopal2016.osim",
        "--static", "auto", "--mass", "75"]),
    ("vicon_treadmill, Rajagopal2016, --mass plates", "none", [
        "--c3d", f"{C}/vicon_treadmill/walking2.c3d", "--model", f"{RAJ}/Rajagopal2016.osim",
        "--static", "auto", "--mass", "plates"]),
    ("rajagopal2016 walk, lab's setups", "85.07 (lab's scale setup)",
     _rajagopal("walk", "85.07")),
    ("rajagopal2016 run, lab's setups", "72.84 (lab's scale setup)",
     _rajagopal("run", "72.84")),
    ("rajagopal2016 walk, the run's mass typed (a wrong file)", "85.07 (lab's scale setup)",
     _rajagopal("walk", "72.84")),
]


def resolve(args: list[str], data: Path) -> list[str]:
    """Data-relative paths made absolute; everything else (`--mass plates` too) as typed."""
    return [str(data / a) if "/" in a and (data / a).exists() else a for a in args]


def children_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run(name: str, args: list[str], data: Path, work: Path, timeout_s: float) -> dict:
    row: dict = {"trial": name}
    missing = [a for a in args if "/" in a and not (data / a).exists()]
    if missing:
        return {**row, "error": f"skipped: {missing[0]} absent"}
    ds = work / re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_")
    shutil.rmtree(ds, ignore_errors=True)
    cmd = ["musclekit", "simulate", *resolve(args, data), "--workers", "0", "--out", str(ds),
           "--until", "ik"]
    cpu0, t0 = children_cpu_s(), time.time()
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s,
                              env={**__import__("os").environ, "COLUMNS": "400"})
    except subprocess.TimeoutExpired:
        return {**row, "error": f"timed out after {timeout_s:.0f} s"}
    row.update(s=round(time.time() - t0), cpu_s=round(children_cpu_s() - cpu0))
    said = " ".join((done.stdout + done.stderr).split())
    row["warned"] = "the plates weigh the subject at" in said
    from musclekit.dataset import open_dataset

    try:
        (seq,) = open_dataset(ds).sequences.values()
    except Exception as err:  # noqa: BLE001 - a row says what went wrong
        return {**row, "error": f"exit {done.returncode}: {err}; {said[-300:]}"}
    row.update(seq.extra.get("kinematics", {}).get("plate_mass") or {"error": "no plate_mass"})
    return row


def table(rows: list[dict], given: dict[str, str]) -> str:
    lines = ["| trial | the subject's mass (lab) | mass the run uses kg (from) | the plates "
             "weigh kg (rule) | difference | warned | s (CPU s) |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['trial']} | {given[r['trial']]} | {r['error']} | | | | |")
            continue
        p = r.get("plates") or {}
        rule = (f"{p['steps']} steps of {p['step_s']:.2f} s" if p.get("method") == "steps"
                else p.get("method", "-"))
        diff = f"{100 * r['difference']:+.1f} %" if r.get("difference") is not None else "-"
        lines.append(f"| {r['trial']} | {given[r['trial']]} | {r['mass_kg']:g} "
                     f"({r['mass_from']}) | {r['plates_kg']} ({rule}) | {diff} | "
                     f"{'yes' if r['warned'] else 'no'} | {r['s']} ({r['cpu_s']}) |")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--out", type=Path, default=Path("/tmp/musclekit-plate-mass"))
    p.add_argument("--only", nargs="*", default=None, help="trial names (prefixes)")
    p.add_argument("--timeout-s", type=float, default=1200.0)
    p.add_argument("--json", type=Path, default=None)
    a = p.parse_args()
    rows, given = [], {n: g for n, g, _ in TRIALS}
    for name, _, args in TRIALS:
        if a.only and not any(name.startswith(o) for o in a.only):
            continue
        rows.append(run(name, args, a.data, a.out, a.timeout_s))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    commit = subprocess.run(["git", "-C", str(ROOT), "log", "-1", "--format=%h %cI"],
                            capture_output=True, text=True).stdout.strip()
    print(f"at {commit}\n\n{table(rows, given)}")
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
