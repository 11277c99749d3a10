"""AMASS reading, source resolution, Z-up -> Y-up and the ground offset."""

from __future__ import annotations

import numpy as np
import pytest

from musclekit.errors import InputError
from musclekit.pipelines.simulate.kinematics.amass import (
    AMASS_ROOT_ENV,
    read_amass,
    resolve_sources,
    sequence_id,
)
from musclekit.pipelines.simulate.kinematics.bodymodel import load_body_model
from musclekit.pipelines.simulate.kinematics.markerset import load_markerset
from musclekit.pipelines.simulate.kinematics.virtual_markers import sequence_markers, static_markers
from tests.helpers.simulate_kin_fixtures import amass_arrays, standin_body, write_npz  # noqa: F401


def test_reads_both_frame_rate_spellings(tmp_path):
    a = amass_arrays()
    a["mocap_frame_rate"] = a.pop("mocap_framerate")
    seq = read_amass(write_npz(tmp_path / "a.npz", **a))
    assert seq.rate_hz == 60.0 and seq.n_frames == 5 and seq.gender == "neutral"
    b = amass_arrays(gender="female")
    b["gender"] = np.array(b"female")  # older AMASS files store bytes
    assert read_amass(write_npz(tmp_path / "b.npz", **b)).gender == "female"


def test_missing_keys(tmp_path):
    a = amass_arrays()
    del a["trans"], a["mocap_framerate"]
    with pytest.raises(InputError, match=r"missing the AMASS keys trans, mocap_framerate"):
        read_amass(write_npz(tmp_path / "a.npz", **a))
    with pytest.raises(InputError, match="looks like an AMASS shape.npz"):
        read_amass(write_npz(tmp_path / "shape.npz", betas=np.zeros(16), gender="male"))


@pytest.mark.parametrize("width,model", [(72, r"SMPL \(24 joints x 3\)"),
                                         (165, r"SMPL-X \(55 joints x 3\)")])
def test_other_body_model_poses_are_named(tmp_path, width, model):
    path = write_npz(tmp_path / "a.npz", **amass_arrays(width=width))
    with pytest.raises(InputError, match=f"{width} values a frame, the layout of {model}; "
                       r"musclekit needs SMPL-H poses \(52 joints x 3 = 156\)"):
        read_amass(path)


def test_unknown_gender(tmp_path):
    with pytest.raises(InputError, match="unknown gender 'other'; expected one of male, female"):
        read_amass(write_npz(tmp_path / "a.npz", **amass_arrays(gender="other")))


def test_zero_length_sequence(tmp_path):
    with pytest.raises(InputError, match="zero-length sequence"):
        read_amass(write_npz(tmp_path / "a.npz", **amass_arrays(n=0)))


def test_resolve_sub_dataset_glob_and_skips_shape_files(tmp_path, monkeypatch):
    root = tmp_path / "amass"
    write_npz(root / "BMLmovi" / "S1" / "walk_poses.npz", **amass_arrays())
    write_npz(root / "BMLmovi" / "S1" / "shape.npz", betas=np.zeros(16))
    write_npz(root / "KIT" / "3" / "jump_poses.npz", **amass_arrays())
    found = resolve_sources(["BMLmovi"], root)
    assert [f.name for f, _ in found] == ["walk_poses.npz"]
    assert sequence_id(*found[0]) == "BMLmovi_S1_walk_poses"
    monkeypatch.setenv(AMASS_ROOT_ENV, str(root))
    assert len(resolve_sources(["KIT"])) == 1
    assert len(resolve_sources([str(root / "*" / "*" / "*_poses.npz")])) == 2
    monkeypatch.delenv(AMASS_ROOT_ENV)
    with pytest.raises(InputError, match="--amass TotalCapture: not a file, folder or pattern, "
                       "and no --amass-root given"):
        resolve_sources(["TotalCapture"])


def test_zup_to_yup_and_ground_offset(tmp_path, standin_body):  # noqa: F811
    """A rest body lying along AMASS +Z stands along OpenSim +Y; raising it in AMASS z or
    moving it sideways never changes the lowest marker height (the ground offset)."""
    body = load_body_model(standin_body, "neutral")
    ms = load_markerset()
    stand_up = np.array([np.pi / 2, 0, 0])  # SMPL rest (Y up) -> AMASS (Z up)
    heights, positions = [], []
    for trans in ([0, 0, 0], [0.3, -0.2, 0.5]):
        a = amass_arrays(n=3)
        a["poses"][:, :3] = stand_up
        a["trans"][:] = trans
        seq = read_amass(write_npz(tmp_path / "a.npz", **a))
        markers, joints = sequence_markers(body, seq, ms, foot_height_m=0.02)
        pos = markers.positions
        assert pos[..., 1].min() == pytest.approx(0.02, abs=1e-9)
        head = pos[0, ms.names.index("RFHD")]
        heel = pos[0, ms.names.index("RHEE")]
        assert head[1] - heel[1] > 1.4  # upright along +Y
        # AMASS x stays x, AMASS y becomes -z in OpenSim (checked on the second position)
        heights.append(pos[0, :, 1])
        positions.append(pos)
    assert np.allclose(positions[1][0, :, 2] - positions[0][0, :, 2], 0.2)  # -y_amass
    assert np.allclose(positions[1][0, :, 0] - positions[0][0, :, 0], 0.3)  # x_amass
    assert np.allclose(heights[0], heights[1])
    static = static_markers(body, np.zeros(16), ms, 0.02)
    assert static.positions[0, : len(ms.names), 1].min() == pytest.approx(0.02)
    wrist = static.positions[0, static.names.index("jc_wrist_r")]
    shoulder = static.positions[0, static.names.index("jc_shoulder_r")]
    assert shoulder[1] - wrist[1] > 0.4  # arms down in the static frame
