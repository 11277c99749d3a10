"""Child process of the AddBiomechanics importer: read one .b3d with nimblephysics and dump
it as plain arrays (`python -m musclekit.pipelines.importers.b3d_child FILE OUT.npz`).

nimblephysics' bindings crash the process (SIGSEGV) in some calls under numpy 2, so they
only ever run here; the parent reads the .npz and turns a crash into a clear message.
It imports nothing of musclekit's but `process.die_with_parent`.
"""

from __future__ import annotations

import json
import sys

import numpy as np


def dump(path: str, out: str) -> None:
    import nimblephysics as nimble

    subject = nimble.biomechanics.SubjectOnDisk(path)
    n_passes = subject.getNumProcessingPasses()
    use = n_passes - 1  # the last pass: dynamics when AddBiomechanics ran it
    meta = {
        "nimblephysics": getattr(nimble, "__version__", None),
        "mass_kg": subject.getMassKg(), "height_m": subject.getHeightM(),
        "sex": str(subject.getBiologicalSex()), "age_years": subject.getAgeYears(),
        "n_dofs": subject.getNumDofs(), "n_passes": n_passes, "pass": use,
        "pass_type": str(subject.getProcessingPassType(use)) if n_passes else None,
        "ground_bodies": list(subject.getGroundForceBodies()),
        "osim": subject.getOpensimFileText(use) if n_passes else "",
        "trials": [],
    }
    arrays = {}
    for trial in range(subject.getNumTrials()):
        n = subject.getTrialLength(trial)
        meta["trials"].append({
            "name": subject.getTrialName(trial), "timestep": subject.getTrialTimestep(trial),
            "length": n, "original_name": subject.getTrialOriginalName(trial),
            "split_index": subject.getTrialSplitIndex(trial),
        })
        frames = subject.readFrames(trial=trial, startFrame=0, numFramesToRead=n,
                                    includeSensorData=False, includeProcessingPasses=True)
        got: dict[str, list] = {"pos": [], "tau": [], "force": [], "cop": [], "torque": [],
                                "missing_grf": []}
        for frame in frames:
            passes = frame.processingPasses
            p = passes[use] if len(passes) > use >= 0 else None
            got["missing_grf"].append(str(frame.missingGRFReason) != "MissingGRFReason.notMissingGRF")
            for key, attr in (("pos", "pos"), ("tau", "tau"), ("force", "groundContactForce"),
                              ("cop", "groundContactCenterOfPressure"),
                              ("torque", "groundContactTorque")):
                got[key].append(np.asarray(getattr(p, attr), dtype=np.float64) if p is not None
                                else np.zeros(0))
        for key, rows in got.items():
            arrays[f"t{trial}_{key}"] = np.asarray(rows)
    np.savez(out, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **arrays)


if __name__ == "__main__":
    from musclekit.process import die_with_parent

    die_with_parent()
    dump(sys.argv[1], sys.argv[2])
