"""A TRC whose missing samples are empty cells (how labs export a marker that drops out) is
read as a C3D's gaps are: up to 0.1 s filled, longer gaps leave the marker out of IK there,
with a warning; not refused. Made from a real corpus TRC (Lisbon's shoulder abduction with
bone pins, 100 Hz, 11 markers, with the subject's own model) with cells blanked; tests skip
when the shared corpus is absent."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from musclekit.errors import InputError
from musclekit.pipelines.simulate.opensim.files import read_trc

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "corpus"
WALK = CORPUS / "lisbon_shoulder" / "abdbonepin.trc"
MODEL = CORPUS / "lisbon_shoulder" / "subject1_abdbonepin.osim"
FRAMES = 150  # 1.5 s at 100 Hz: IK stays quick
SHORT = ("EpL", 40, 45)  # 5 frames = 0.05 s: filled
LONG = ("ai", 60, 90)  # 30 frames = 0.3 s: left out of IK there


def _cut(dst: Path, gaps: tuple = (SHORT, LONG)) -> Path:
    """The first FRAMES frames of the real walk, with the cells of `gaps` (marker, first,
    stop frame) left empty, as an exporter writes a marker nobody saw."""
    if not WALK.is_file() or not MODEL.is_file():
        pytest.skip(f"{WALK} is absent (the shared corpus is not laid out beside this checkout)")
    lines = WALK.read_text().splitlines()
    names = [n.strip() for n in lines[3].split("\t")[2:] if n.strip()]
    header = lines[2].split("\t")
    header[2] = f"{FRAMES}"
    header[7] = f"{FRAMES}"
    rows = [r.split("\t") for r in lines[5:] if r.strip()][:FRAMES]
    for name, a, b in gaps:
        j = 2 + 3 * names.index(name)
        for r in rows[a:b]:
            r[j:j + 3] = ["", "", ""]
    dst.write_text("\n".join(lines[:2] + ["\t".join(header)] + lines[3:5]
                             + ["\t".join(r) for r in rows]) + "\n")
    return dst


def test_empty_cells_are_gaps_filled_or_left_out(tmp_path):
    from musclekit.pipelines.simulate.kinematics.lab import trc_gaps_filled

    gappy = _cut(tmp_path / "walk_gaps.trc")
    whole = read_trc(_cut(tmp_path / "walk.trc", gaps=()))
    with pytest.raises(InputError, match="missing or NaN"):
        read_trc(gappy)  # the strict reader still says where (a ScaleTool needs every cell)
    out = trc_gaps_filled(gappy, tmp_path / "out" / "markers.trc")
    back = read_trc(out["markers"], allow_missing=True)
    assert back.names == whole.names and len(back.time_s) == FRAMES
    knee, th1 = whole.names.index(SHORT[0]), whole.names.index(LONG[0])
    # 0.05 s filled by a spline through the seen frames: within 5 mm of what the lab
    # recorded
    err = np.linalg.norm(back.positions[SHORT[1]:SHORT[2], knee] -
                         whole.positions[SHORT[1]:SHORT[2], knee], axis=1)
    assert np.isfinite(err).all() and err.max() < 0.005
    # 0.3 s is longer than 0.1 s: left out there (NaN, which OpenSim's IK skips), kept elsewhere
    assert np.isnan(back.positions[LONG[1]:LONG[2], th1]).all()
    assert np.isfinite(back.positions[:LONG[1], th1]).all()
    notes = "\n".join(out["notes"])
    assert "'ai': left out of IK where it is missing for longer than 0.1 s" in notes
    assert "gaps up to 0.1 s filled in 1 marker(s): EpL" in notes
    assert {g["how"] for g in out["filled_gaps"]} == {"spline", "left out"}
    assert trc_gaps_filled(tmp_path / "walk.trc", tmp_path / "x.trc") is None  # no gap: as is


@pytest.mark.timeout(900)
def test_simulate_runs_a_gappy_trc(tmp_path):
    """Through the command a lab types: the gappy run to IK with a warning; joint angles
    stay within a degree of the run on the complete file (one marker of 44 is out for 0.3 s)."""
    from musclekit.cli.main import main
    from musclekit.dataset import open_dataset

    angles = {}
    for name, gaps in (("walk", ()), ("walk_gaps", (SHORT, LONG))):
        trc = _cut(tmp_path / f"{name}.trc", gaps=gaps)
        ds = tmp_path / f"ds_{name}"
        assert main(["simulate", "--trc", str(trc), "--model", str(MODEL), "--until", "ik",
                     "--workers", "0", "--out", str(ds)]) == 0
        d = open_dataset(ds)
        kin = d.sequences[name].extra["kinematics"]
        assert kin["frames"] == FRAMES
        angles[name] = d.sequence_array("joint_angles", name)
    warnings = "\n".join(kin["warnings"])
    assert "walk_gaps.trc: marker 'ai': left out of IK" in warnings
    assert "EpL" in warnings
    a, b = angles["walk"], angles["walk_gaps"]
    rot = [j for j, u in enumerate(a.units) if u == "rad"]
    diff = np.rad2deg(np.abs(np.angle(np.exp(1j * (a.values[:, rot] - b.values[:, rot])))))
    assert np.median(diff) < 0.2 and diff.max() < 5.0
