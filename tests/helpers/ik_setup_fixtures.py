"""A lab's IK inputs, built small: the project's two-leg model with a trunk and 25 markers,
a noisy walking-squat marker file generated from it, and IK setup XMLs in OpenSim 4 and
OpenSim 3 format (per-marker weights, markers switched off, coordinate tasks, a time range),
so `--ik-setup` can be compared with OpenSim's own InverseKinematicsTool in seconds."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import numpy as np

# body -> marker -> location in the body's frame (m); "{s}" = side letter, z mirrored on l.
MARKERS = {
    "pelvis": {"RASI": (0.05, 0.0, 0.12), "LASI": (0.05, 0.0, -0.12),
               "RPSI": (-0.08, 0.02, 0.05), "LPSI": (-0.08, 0.02, -0.05),
               "SACR": (-0.1, 0.03, 0.0)},
    "torso": {"C7": (-0.05, 0.35, 0.0), "STRN": (0.08, 0.25, 0.0),
              "RSHO": (0.0, 0.33, 0.17), "LSHO": (0.0, 0.33, -0.17)},
    "femur_{s}": {"{S}THI": (0.04, -0.2, 0.08), "{S}KNE": (0.0, -0.4, 0.06),
                  "{S}THB": (-0.03, -0.28, 0.07)},
    "tibia_{s}": {"{S}TIB": (0.04, -0.2, 0.06), "{S}ANK": (0.0, -0.4, 0.05)},
    "calcn_{s}": {"{S}HEE": (-0.05, -0.03, 0.0), "{S}TOE": (0.15, -0.03, 0.0),
                  "{S}MT5": (0.12, -0.03, 0.04)},
}

# Per-marker weights 0.1-10 (a lab's choice: pelvis and joints high, clusters low).
LAB_WEIGHTS = {"RASI": 10, "LASI": 10, "RPSI": 8, "LPSI": 8, "SACR": 0.5, "C7": 2,
               "STRN": 1, "RSHO": 0.1, "LSHO": 0.1, "RTHI": 0.2, "LTHI": 0.2, "RKNE": 6,
               "LKNE": 6, "RTHB": 0.5, "LTHB": 0.5, "RTIB": 0.3, "LTIB": 0.3, "RANK": 7,
               "LANK": 7, "RHEE": 5, "LHEE": 5, "RTOE": 1.5, "LTOE": 1.5}
# Applied by nobody: the setup switches them off.
SWITCHED_OFF = ["RMT5", "LMT5"]


def marker_table() -> list[tuple[str, str, tuple[float, float, float]]]:
    out = []
    for body, markers in MARKERS.items():
        for side in (("r", "l") if "{s}" in body else ("",)):
            for name, (x, y, z) in markers.items():
                out.append((name.replace("{S}", side.upper()), body.replace("{s}", side),
                            (x, y, -z if side == "l" else z)))
    return out


def build_marker_model(path: Path) -> Path:
    """The test model (two legs, trunk; no muscles, no contact) with the markers above."""
    import opensim as osim

    from musclekit.pipelines.simulate.opensim.test_model import build_test_model

    build_test_model(path, with_contact=False, with_muscles=False, upper=True)
    model = osim.Model(str(path))
    for name, body, loc in marker_table():
        model.addMarker(osim.Marker(name, model.getBodySet().get(body), osim.Vec3(*loc)))
    model.finalizeConnections()
    model.printToXML(str(path))
    return Path(path)


def write_marker_trial(model_path: Path, trc: Path, *, duration_s: float = 0.6,
                       rate_hz: float = 50.0, noise_m: float = 0.004, seed: int = 7,
                       offsets_m: dict[str, tuple[float, float, float]] | None = None) -> Path:
    """Markers of a squat with a turning, swaying, travelling pelvis and a trunk lean, by the
    model's forward kinematics, plus noise (`noise_m`) and constant skin offsets (`offsets_m`
    per marker): the weights decide how IK shares the misfit."""
    import opensim as osim

    from musclekit.pipelines.simulate.opensim.files import write_trc
    from musclekit.pipelines.simulate.opensim.test_model import squat_motion

    motion = squat_motion(duration_s=duration_s, rate_hz=rate_hz, knee_amplitude_rad=0.9,
                          period_s=1.2, trunk_lean_rad=0.2)
    col = {n: i for i, n in enumerate(motion.names)}
    t = motion.time_s
    values = motion.values.copy()
    values[:, col["pelvis_list"]] = 0.08 * np.sin(2 * np.pi * t / 1.2)
    values[:, col["pelvis_rotation"]] = 0.15 * np.sin(2 * np.pi * t / 1.5)
    values[:, col["pelvis_tx"]] = 0.4 * t
    values[:, col["lumbar_extension"]] += 0.15 * np.sin(2 * np.pi * t / 0.9)
    values[:, col["hip_flexion_r"]] += 0.2 * np.sin(2 * np.pi * t / 1.1)
    model = osim.Model(str(model_path))
    state = model.initSystem()
    cs = model.getCoordinateSet()
    ms = model.getMarkerSet()
    names = [ms.get(i).getName() for i in range(ms.getSize())]
    pos = np.zeros((len(t), len(names), 3))
    for k in range(len(t)):
        for n, j in col.items():
            cs.get(n).setValue(state, float(values[k, j]), False)
        model.realizePosition(state)
        for j, n in enumerate(names):
            pos[k, j] = ms.get(n).getLocationInGround(state).to_numpy()
    rng = np.random.default_rng(seed)
    pos += rng.normal(0.0, noise_m, pos.shape)
    for name, off in (offsets_m or {}).items():
        pos[:, names.index(name)] += np.asarray(off)
    # a skin artefact that the lab's low weights are meant to absorb
    pos[:, names.index("RTHI")] += (0.025, 0.0, 0.01)
    pos[:, names.index("RSHO")] += (0.0, 0.03, 0.0)
    return write_trc(trc, t, names, pos)


def write_coordinate_file(path: Path, time_s: np.ndarray, column: str, values: np.ndarray
                          ) -> Path:
    """A coordinate observation file (.mot, degrees) for a `from_file` coordinate task."""
    lines = ["coordinates", "version=1", f"nRows={len(time_s)}", "nColumns=2",
             "inDegrees=yes", "endheader", f"time\t{column}"]
    lines += [f"{t:.6f}\t{v:.8f}" for t, v in zip(time_s, values, strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _marker_tasks(weights: dict[str, float], off: list[str], indent: str) -> str:
    rows = [f'{indent}<IKMarkerTask name="{n}">\n{indent}\t<apply>true</apply>\n'
            f"{indent}\t<weight>{w}</weight>\n{indent}</IKMarkerTask>" for n, w in weights.items()]
    rows += [f'{indent}<IKMarkerTask name="{n}">\n{indent}\t<apply>false</apply>\n'
             f"{indent}\t<weight>1</weight>\n{indent}</IKMarkerTask>" for n in off]
    return "\n".join(rows)


def write_setup_v4(folder: Path, model: Path, trc: Path, *, time_range=(0.1, 0.5),
                   coordinate_file: str | None = None, accuracy: float = 1e-5) -> Path:
    """An OpenSim 4 IK setup (Version 40000): per-marker weights, two markers switched off, a
    manual-value coordinate task on the lumbar joint and, with `coordinate_file` (relative to
    the setup, as labs write them), a from-file task on the right knee."""
    tasks = _marker_tasks(LAB_WEIGHTS, SWITCHED_OFF, "\t\t\t\t")
    tasks += ("\n\t\t\t\t<IKCoordinateTask name=\"lumbar_extension\">\n\t\t\t\t\t<apply>true"
              "</apply>\n\t\t\t\t\t<weight>20</weight>\n\t\t\t\t\t<value_type>manual_value"
              "</value_type>\n\t\t\t\t\t<value>-0.35</value>\n\t\t\t\t</IKCoordinateTask>")
    if coordinate_file:
        tasks += ("\n\t\t\t\t<IKCoordinateTask name=\"knee_angle_r\">\n\t\t\t\t\t<apply>true"
                  "</apply>\n\t\t\t\t\t<weight>50</weight>\n\t\t\t\t\t<value_type>from_file"
                  "</value_type>\n\t\t\t\t</IKCoordinateTask>")
    rel = _relative(folder)
    text = f"""<?xml version="1.0" encoding="UTF-8" ?>
<OpenSimDocument Version="40000">
\t<InverseKinematicsTool name="lab_v4">
\t\t<results_directory>./results_v4</results_directory>
\t\t<model_file>{rel(model)}</model_file>
\t\t<constraint_weight>Inf</constraint_weight>
\t\t<accuracy>{accuracy:g}</accuracy>
\t\t<IKTaskSet>
\t\t\t<objects>
{tasks}
\t\t\t</objects>
\t\t\t<groups />
\t\t</IKTaskSet>
\t\t<marker_file>{rel(trc)}</marker_file>
\t\t<coordinate_file>{coordinate_file or 'Unassigned'}</coordinate_file>
\t\t<time_range>{time_range[0]} {time_range[1]}</time_range>
\t\t<report_errors>true</report_errors>
\t\t<output_motion_file>./results_v4/ik_lab_v4.mot</output_motion_file>
\t\t<report_marker_locations>false</report_marker_locations>
\t</InverseKinematicsTool>
</OpenSimDocument>
"""
    path = Path(folder) / "ik_setup_v4.xml"
    path.write_text(text)
    return path


def marker_lab(folder: Path) -> dict[str, Path]:
    """The small lab: the two-leg marker model, its noisy squat and a coordinate file holding
    the knee at 30 deg (a coordinate task's reference), in `folder`."""
    from musclekit.pipelines.simulate.opensim.files import read_trc

    model = build_marker_model(folder / "model.osim")
    trc = write_marker_trial(model, folder / "trial.trc")
    time_s = read_trc(trc).time_s
    write_coordinate_file(folder / "knee.mot", time_s, "knee_angle_r",
                          np.full(len(time_s), 30.0))
    return {"folder": folder, "model": model, "trc": trc}


def write_setup_v3(folder: Path, model: Path, trc: Path, *, time_range=(0.0, 0.4)) -> Path:
    """An OpenSim 3.x IK setup (Version 30000, as the 3.3 GUI saved them): per-marker weights,
    markers switched off, a default-value coordinate task, a time range."""
    tasks = _marker_tasks({n: w for n, w in LAB_WEIGHTS.items() if n != "STRN"},
                          [*SWITCHED_OFF, "STRN"], "\t\t\t\t")
    tasks += ("\n\t\t\t\t<IKCoordinateTask name=\"hip_flexion_l\">\n\t\t\t\t\t<apply>true"
              "</apply>\n\t\t\t\t\t<weight>2</weight>\n\t\t\t\t\t<value_type>default_value"
              "</value_type>\n\t\t\t\t\t<value>0</value>\n\t\t\t\t</IKCoordinateTask>")
    rel = _relative(folder)
    text = f"""<?xml version="1.0" encoding="UTF-8" ?>
<OpenSimDocument Version="30000">
\t<InverseKinematicsTool name="lab_v3">
\t\t<!--Directory used for writing results.-->
\t\t<results_directory>./results_v3</results_directory>
\t\t<!--Directory for input files-->
\t\t<input_directory />
\t\t<!--Name of the .osim file used to construct a model.-->
\t\t<model_file>{rel(model)}</model_file>
\t\t<constraint_weight>Inf</constraint_weight>
\t\t<accuracy>1e-05</accuracy>
\t\t<IKTaskSet>
\t\t\t<objects>
{tasks}
\t\t\t</objects>
\t\t\t<groups />
\t\t</IKTaskSet>
\t\t<marker_file>{rel(trc)}</marker_file>
\t\t<coordinate_file>Unassigned</coordinate_file>
\t\t<time_range> {time_range[0]} {time_range[1]}</time_range>
\t\t<report_errors>true</report_errors>
\t\t<output_motion_file>./results_v3/ik_lab_v3.mot</output_motion_file>
\t\t<report_marker_locations>false</report_marker_locations>
\t</InverseKinematicsTool>
</OpenSimDocument>
"""
    path = Path(folder) / "ik_setup_v3.xml"
    path.write_text(text)
    return path


def _relative(folder: Path):
    return lambda p: os.path.relpath(Path(p).resolve(), Path(folder).resolve())


def opensim_ik(setup: Path, *, model: Path | None = None, trc: Path | None = None,
               out_mot: Path | None = None, accuracy: float | None = None) -> Path:
    """OpenSim's InverseKinematicsTool run on the setup as a lab runs it (from the setup's
    folder); `model`/`trc`/`out_mot` replace the setup's files when given, `accuracy` the
    setup's (a tight one converges OpenSim's tool: the reference for musclekit's own
    solver, which stops later than OpenSim's tool does at 1e-5). Returns the motion it wrote
    (degrees, as OpenSim writes it)."""
    import opensim as osim

    setup = Path(setup).resolve()
    with contextlib.chdir(setup.parent):
        tool = osim.InverseKinematicsTool(setup.name)
        if model is not None:
            tool.set_model_file(str(Path(model).resolve()))
        if trc is not None:
            tool.setMarkerDataFileName(str(Path(trc).resolve()))
        if accuracy is not None:
            tool.set_accuracy(accuracy)
        if out_mot is not None:
            tool.setOutputMotionFileName(str(Path(out_mot).resolve()))
            tool.setResultsDir(str(Path(out_mot).resolve().parent))
        out = Path(tool.getOutputMotionFileName())
        (setup.parent / out).parent.mkdir(parents=True, exist_ok=True)  # OpenSim does not
        assert tool.run(), f"OpenSim's IK tool failed on {setup}"
        return (setup.parent / out).resolve() if not out.is_absolute() else out


def angle_differences_deg(model: Path, ours: Path, theirs: Path) -> dict[str, np.ndarray]:
    """Per rotational coordinate, |ours - theirs| in degrees over OpenSim's frames (both .mot
    files read with the model's rotational coordinates, whatever their inDegrees)."""
    import opensim as osim

    from musclekit.pipelines.simulate.opensim.files import read_mot, rotational_coordinates

    rot = rotational_coordinates(osim.Model(str(model)))
    a, b = read_mot(ours, rotational=rot), read_mot(theirs, rotational=rot)
    assert len(a.time_s) == len(b.time_s), (len(a.time_s), len(b.time_s))
    assert np.allclose(a.time_s, b.time_s, atol=1e-6)
    return {c: np.rad2deg(np.abs(a.column(c) - b.column(c))) for c in b.names
            if c in rot and c in a.names}


def rajagopal_lab_ik(data: Path, work: Path, trial: str = "walk") -> dict[str, Path]:
    """The shared Rajagopal trial as the lab processed it (its README): a copy of the folder,
    the lab's two ScaleTool runs (walk: scale, then marker placement; run: one setup) and
    OpenSim's IK tool on `IK/ik_setup_<trial>.xml`. Returns the scaled model, the setup, the
    marker file and OpenSim's motion."""
    import shutil

    import opensim as osim

    scale = {"walk": ["scale_setup_walk_scaleOnly.xml", "scale_setup_walk.xml"],
             "run": ["scale_setup_run.xml"]}[trial]
    if not (work / "Scale").is_dir():
        shutil.copytree(data, work, dirs_exist_ok=True)
        for p in work.rglob("*"):
            p.chmod(0o755 if p.is_dir() else 0o644)
        shutil.copy(work / "Rajagopal2016.osim", work / "generic_unscaled.osim")
    model = work / "Scale" / f"subject_scaled_{trial}.osim"
    if not model.is_file():
        for setup in scale:
            with contextlib.chdir(work / "Scale"):
                assert osim.ScaleTool(setup).run()
    setup = work / "IK" / f"ik_setup_{trial}.xml"
    return {"model": model, "setup": setup, "trc": work / "ExpData" /
            f"motion_capture_{trial}.trc", "opensim_mot": opensim_ik(setup)}


# Another lab's trial (corpus/lisbon_shoulder: bone-pin shoulder abduction, 11 markers, the
# subject's own model): a setup as a lab writes it, with per-marker weights 0.1-10, a marker
# switched off and a coordinate task.
SHOULDER_WEIGHTS = {"ij": 10, "acc": 4, "ac": 6, "ai": 2, "ts": 2, "gu": 0.1, "EpL": 3,
                    "centelbow": 8, "centijc7": 0.5, "centpxt8": 1}
SHOULDER_OFF = ["ijc"]


def write_corpus_setup(folder: Path, model: Path, trc: Path, *, name: str = "shoulder",
                       weights: dict[str, float] | None = None, off: list[str] | None = None,
                       coordinate: tuple[str, float, float] = ("pro_sup", 1.0, 0.0),
                       time_range=(2.0, 3.5)) -> Path:
    """An OpenSim 4 IK setup for a corpus trial (default: SHOULDER_WEIGHTS) with one
    manual-value coordinate task (name, weight, value)."""
    tasks = _marker_tasks(SHOULDER_WEIGHTS if weights is None else weights,
                          SHOULDER_OFF if off is None else off, "\t\t\t\t")
    tasks += (f"\n\t\t\t\t<IKCoordinateTask name=\"{coordinate[0]}\">\n\t\t\t\t\t<apply>true"
              f"</apply>\n\t\t\t\t\t<weight>{coordinate[1]}</weight>\n\t\t\t\t\t<value_type>"
              f"manual_value</value_type>\n\t\t\t\t\t<value>{coordinate[2]}</value>\n\t\t\t\t"
              "</IKCoordinateTask>")
    rel = _relative(folder)
    path = Path(folder) / f"ik_setup_{name}.xml"
    path.write_text(f"""<?xml version="1.0" encoding="UTF-8" ?>
<OpenSimDocument Version="40000">
\t<InverseKinematicsTool name="{name}">
\t\t<model_file>{rel(model)}</model_file>
\t\t<constraint_weight>Inf</constraint_weight>
\t\t<accuracy>1e-05</accuracy>
\t\t<IKTaskSet>
\t\t\t<objects>
{tasks}
\t\t\t</objects>
\t\t\t<groups />
\t\t</IKTaskSet>
\t\t<marker_file>{rel(trc)}</marker_file>
\t\t<coordinate_file>Unassigned</coordinate_file>
\t\t<time_range>{time_range[0]} {time_range[1]}</time_range>
\t\t<report_errors>true</report_errors>
\t\t<output_motion_file>ik_{name}.mot</output_motion_file>
\t\t<report_marker_locations>false</report_marker_locations>
\t</InverseKinematicsTool>
</OpenSimDocument>
""")
    return path
