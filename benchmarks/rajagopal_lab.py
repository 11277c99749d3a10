"""The shared Rajagopal2016 lab trials as the lab processed them: its own scaling and IK with
OpenSim's tools and setups (the reference both validation scripts compare against)."""

from __future__ import annotations

import contextlib
import shutil
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "rajagopal2016"
TRIALS = {
    # mass from the lab's scale setups; ID time ranges: where the plates carry the body
    "walk": {"mass_kg": 85.07, "scale": ["scale_setup_walk_scaleOnly.xml", "scale_setup_walk.xml"],
             "ik": "ik_setup_walk.xml", "grf_xml": "grf_walk.xml"},
    "run": {"mass_kg": 72.84, "scale": ["scale_setup_run.xml"], "ik": "ik_setup_run.xml",
            "grf_xml": "grf_run.xml"},
}
FEET = {"right": ("calcn_r", "toes_r"), "left": ("calcn_l", "toes_l")}

def _xml_value(path: Path, tag: str) -> str:
    import re

    text = re.sub(r"<!--.*?-->", "", path.read_text(), flags=re.S)
    m = re.search(rf"<{tag}>([^<]*)</{tag}>", text)
    return m.group(1).strip() if m else ""


def lab_pipeline(data: Path, work: Path, trial: str) -> dict:
    """The lab's scaling and IK with OpenSim's own tools and setups (as its README says);
    returns the scaled model, the IK motion and the analysis window."""
    import opensim as osim

    if not (work / "Scale").is_dir():
        shutil.copytree(data, work, dirs_exist_ok=True)
        for p in work.rglob("*"):
            p.chmod(0o755 if p.is_dir() else 0o644)
        shutil.copy(work / "Rajagopal2016.osim", work / "generic_unscaled.osim")
    cfg = TRIALS[trial]
    model = work / "Scale" / f"subject_scaled_{trial}.osim"
    motion = work / "IK" / f"results_{trial}" / f"ik_output_{trial}.mot"
    t0 = time.perf_counter()
    if not model.is_file():
        for setup in cfg["scale"]:
            with contextlib.chdir(work / "Scale"):
                osim.ScaleTool(setup).run()
    if not motion.is_file():
        motion.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.chdir(work / "IK"):
            osim.InverseKinematicsTool(cfg["ik"]).run()
    window = [float(v) for v in _xml_value(work / "ID" / f"id_setup_{trial}.xml",
                                           "time_range").split()]
    return {"model": model, "motion": motion, "window_s": window,
            "grf_xml": work / "ID" / cfg["grf_xml"], "seconds": time.perf_counter() - t0}
