"""A LaiUhlrich2022 model whose legs fit OpenCap's released kinematics (benchmark data prep).

OpenCap's example motions (../shared/data/opencap, Apache-2.0) were solved on a model scaled
to their subject, and that scaled model is not released: only the generic LaiUhlrich2022 is.
Driving the generic model with the subject's joint angles makes the feet rise and slide by
~9 cm during a squat (the subject's legs are longer), so no ground reaction force can be both
under the feet and consistent with the motion. Since the feet stay planted during a squat, the
subject's leg proportions can be recovered from the motion itself: this script finds uniform
scale factors for the pelvis, thighs and shanks that minimise the feet's movement over the
trial, and writes the generic model scaled by them (muscle fibre and tendon lengths follow
OpenSim's scaling). The benchmarks use that model; the pipeline itself scales from markers.

    python benchmarks/opencap_planted_feet.py [--motion squats] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "opencap"
SEGMENTS = {  # fitted factor -> bodies scaled by it (patellae ride on the femurs)
    "pelvis": ("pelvis",),
    "thigh": ("femur_r", "femur_l", "patella_r", "patella_l"),
    "shank": ("tibia_r", "tibia_l"),
}


def scaled_model(model_path: Path, factors: dict[str, float]):
    """The model with each segment group scaled uniformly (mass distribution kept)."""
    import opensim as osim

    model = osim.Model(str(model_path))
    state = model.initSystem()
    scales = osim.ScaleSet()
    for group, bodies in SEGMENTS.items():
        for body in bodies:
            s = osim.Scale()
            s.setSegmentName(body)
            s.setScaleFactors(osim.Vec3(float(factors[group])))
            s.setApply(True)
            scales.cloneAndAppend(s)
    model.scale(state, scales, True)
    return model


def foot_drift_m(model, motion, frames: np.ndarray) -> tuple[float, float]:
    """RMS movement of both heels over the frames (m), and the lowest heel height (m)."""
    state = model.initSystem()
    cset = model.getCoordinateSet()
    heels = []
    for k in frames:
        for i, name in enumerate(motion.names):
            if cset.contains(name):
                cset.get(name).setValue(state, float(motion.values[k, i]), False)
        model.assemble(state)
        model.realizePosition(state)
        heels.append([model.getBodySet().get(b).getPositionInGround(state).to_numpy()
                      for b in ("calcn_r", "calcn_l")])
    p = np.asarray(heels)
    return float(np.sqrt((p.std(axis=0) ** 2).sum(-1).mean())), float(p[:, :, 1].min())


def fit(model_path: Path, motion_path: Path, frames: int = 40) -> dict:
    import opensim as osim
    from scipy.optimize import minimize

    from musclekit.pipelines.simulate.opensim.files import read_mot

    generic = osim.Model(str(model_path))
    generic.initSystem()
    cset = generic.getCoordinateSet()
    rotational = {cset.get(i).getName() for i in range(cset.getSize())
                  if cset.get(i).getMotionType() == 1}
    motion = read_mot(motion_path, rotational=rotational)
    idx = np.unique(np.linspace(0, len(motion.time_s) - 1, frames).round().astype(int))
    groups = list(SEGMENTS)

    def cost(x: np.ndarray) -> float:
        return foot_drift_m(scaled_model(model_path, dict(zip(groups, x, strict=True))), motion, idx)[0]

    before = foot_drift_m(osim.Model(str(model_path)), motion, idx)
    res = minimize(cost, np.ones(len(groups)), method="Nelder-Mead",
                   options={"maxfev": 120, "xatol": 0.005, "fatol": 1e-5,
                            "initial_simplex": np.vstack([np.ones(3), np.eye(3) * 0.2 + 1])})
    factors = dict(zip(groups, (float(v) for v in res.x), strict=True))
    after = foot_drift_m(scaled_model(model_path, factors), motion, idx)
    return {"factors": factors, "drift_before_m": before[0], "drift_after_m": after[0],
            "lowest_heel_after_m": after[1], "evaluations": int(res.nfev)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--motion", default="squats", choices=["squats", "walking"])
    ap.add_argument("--out", default="/tmp/musclekit-opencap-model")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model_path = DATA / "LaiUhlrich2022.osim"
    result = fit(model_path, DATA / f"{args.motion}1_videoAndMocap.mot")
    model = scaled_model(model_path, result["factors"])
    model.setName("LaiUhlrich2022_planted")
    model.printToXML(str(out / "LaiUhlrich2022_planted.osim"))
    (out / "planted_feet.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
