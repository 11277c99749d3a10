"""Variants of the `inverse` ground-force rule on the corpus trials with plates, without
rerunning the command: each dataset of an earlier `python benchmarks/corpus.py --estimate
--out DIR` run gives its prepared model, its IK and its plates; the whole-body wrench and the
feet's points are computed once per trial (`grf.body_wrench`, as the command does), then each
variant of `ContactRule` splits it (`grf.split_body_wrench`) and is compared with the plates
by corpus.py's comparison (`compare_feet` over `plate_window`).

Unlike corpus.py's table (the dataset's `grf` stream at 50 fps, stitched from chunks) the
comparison is at the estimate's own rate (the motion's frames), so its numbers differ from
that table's by a few tenths of % BW, and its swing-foot maxima are taken on more frames.

    python benchmarks/corpus_grf_variants.py --out DIR [--only NAME ...] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import DATA, G, _dataset_dir, compare_feet, plate_window, trial_mass, trials  # noqa: E402

# name -> ContactRule fields; "rule" is the default (the command's)
VARIANTS = {
    "rule": {},
    "before (statics share, standing-pose levels)": {"handover": "statics", "own_levels": False},
    "standing-pose levels": {"own_levels": False},
    "statics share only": {"handover": "statics"},
    "linear ramp only": {"handover": "ramp"},
    "touch-down below 0.4 m/s": {"speed_on_m_s": 0.4},
    "touch-down below 0.3 m/s": {"speed_on_m_s": 0.3},
}


def trial_inputs(ds: Path, cache: Path):
    """The trial's BodyWrench (computed once, kept in `cache`) and its plates."""
    from musclekit.pipelines.simulate.dynamics.kernel.prep import PreparedModel
    from musclekit.pipelines.simulate.dynamics.kernel.solution import (
        _filtered_motion,
        _model_facts,
    )
    from musclekit.pipelines.simulate.dynamics.methods.inverse.grf import body_wrench
    from musclekit.pipelines.simulate.opensim.external_loads import read_measured_grf

    seq = next(p for p in (ds / "opensim").iterdir() if p.is_dir())
    payload = json.loads((seq / "dynamics" / "inverse" / "chunk0000.payload.json").read_text())
    if cache.is_file():
        bw = pickle.loads(cache.read_bytes())
    else:
        folder = Path(payload["prep_folder"])
        prep = PreparedModel.load(folder)
        model_file = str(folder / prep.model_path)
        _, rotational = _model_facts(model_file)
        motion = _filtered_motion(payload["motion_path"], rotational,
                                  payload["settings"]["filter_hz"])
        bw = body_wrench(model_file, motion, {s: tuple(b) for s, b in prep.feet.items()})
        cache.write_bytes(pickle.dumps(bw))
    setup = seq / "plates_external_loads.xml"
    plates = read_measured_grf(seq / "plates.mot", setup if setup.exists() else None)
    return bw, plates


def compare(est, plates, mass_kg: float) -> dict:
    from musclekit.pipelines.simulate.opensim.external_loads import GRF_CHANNELS

    measured = np.nan_to_num(plates.resample(est.time_s, 6.0))
    raw = np.nan_to_num(plates.resample(est.time_s, None))
    vy = {s: raw[:, GRF_CHANNELS.index(f"ground_force_{s}_vy")] for s in ("right", "left")}
    w, _ = plate_window(est.time_s, vy)
    return compare_feet(est.time_s, est.values, measured, raw, w, mass_kg * G, est.contact)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True, help="corpus.py --estimate's --out")
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--only", nargs="*", default=None)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    import opensim as osim

    from musclekit.pipelines.simulate.dynamics.methods.inverse.contact_phases import ContactRule
    from musclekit.pipelines.simulate.dynamics.methods.inverse.grf import split_body_wrench

    osim.Logger.setLevelString("error")
    rows = []
    for trial in trials():
        if not trial.estimate or (args.only and not any(trial.name.startswith(o)
                                                        for o in args.only)):
            continue
        ds = _dataset_dir(args.out, trial.name + " estimate")
        if not (ds / "opensim").is_dir():
            print(f"{trial.name}: no dataset under {args.out}", file=sys.stderr)
            continue
        bw, plates = trial_inputs(ds, ds / "body_wrench.pkl")
        mass = trial_mass(trial, args.data)
        for name, fields in VARIANTS.items():
            t = time.process_time()
            est = split_body_wrench(bw, rule=ContactRule(**fields))
            out = compare(est, plates, mass)
            rows.append({"trial": trial.name, "variant": name, "cpu_s": time.process_time() - t,
                         **{s: out[s] for s in ("right", "left")}})
    print("| trial | variant | vertical RMSE % BW (right / left) | swing foot's max % BW | "
          "heel strike lag ms | toe-off lag ms |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        R, L = r["right"], r["left"]
        print(f"| {r['trial']} | {r['variant']} | {R['vy_rmse_bw_pct']:.1f} / "
              f"{L['vy_rmse_bw_pct']:.1f} | {R['swing_max_bw_pct']:.1f} / "
              f"{L['swing_max_bw_pct']:.1f} | {R['heel_strike_lag_ms']} / "
              f"{L['heel_strike_lag_ms']} | {R['toe_off_lag_ms']} / {L['toe_off_lag_ms']} |")
    if args.json:
        args.json.write_text(json.dumps(rows, default=float, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
