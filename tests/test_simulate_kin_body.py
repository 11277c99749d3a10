"""Stand-in body and SMPL-H loading: file layout, skinning round trip, mass/height, errors."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from musclekit.errors import InputError, MissingDependencyError
from musclekit.pipelines.simulate.kinematics.bodymodel import (
    REQUIRED_KEYS,
    SMPLH_JOINT_NAMES,
    load_body_model,
    mass_and_height,
    shaped_rest,
    skin,
)
from musclekit.pipelines.simulate.kinematics.markerset import load_markerset
from musclekit.pipelines.simulate.kinematics.standin import (
    GENDER_SCALE,
    OS_TO_SMPL,
    segments,
    skeleton,
)
from tests.helpers.simulate_kin_fixtures import standin_body  # noqa: F401


def test_markerset_has_67_markers_with_real_and_standin_placements():
    ms = load_markerset()
    assert len(ms.names) == 67 == len(set(ms.names))
    assert ms.smplh_vertices[ms.names.index("LASI")] == [1799]
    assert ms.smplh_vertices[ms.names.index("SACR")] == [3097, 6521]
    assert all(max(v) < 6890 for v in ms.smplh_vertices)


def test_standin_file_has_smplh_layout(standin_body):  # noqa: F811
    with np.load(standin_body / "neutral" / "model.npz") as d:
        assert set(REQUIRED_KEYS) <= set(d.files)
        assert d["v_template"].shape == (6890, 3)
        assert d["J_regressor"].shape == (52, 6890)
        assert d["weights"].shape == (6890, 52)
        assert d["shapedirs"].shape == (6890, 3, 16)
        assert d["posedirs"].shape == (6890, 3, 459)
        assert d["kintree_table"].shape == (2, 52)
    body = load_body_model(standin_body, "neutral")
    assert body.kind == "standin-v1"


def test_skinning_puts_markers_on_their_landmarks(standin_body):  # noqa: F811
    """Rest pose: marker vertices are the landmark points; knee bent 90 degrees: shank
    markers turn rigidly about the knee joint, thigh markers stay."""
    body = load_body_model(standin_body, "neutral")
    ms = load_markerset()
    j = {k: v * GENDER_SCALE['neutral'] for k, v in skeleton().items()}
    segs = {s.joint: s for s in segments(j)}
    origin = j["pelvis"]
    for name in ("RASI", "RKNE", "RANK", "RHEE", "LTOE", "C7"):
        spec = ms.standin[ms.names.index(name)]
        expected = segs[spec["segment"]].surface(spec["t"], np.array(spec["direction"]))
        expected = OS_TO_SMPL @ (expected - origin)
        assert np.allclose(body.v_template[ms.names.index(name)], expected, atol=1e-9), name
    pose = np.zeros((1, 156))
    k = SMPLH_JOINT_NAMES.index("right_knee")
    pose[0, 3 * k] = np.pi / 2  # about the SMPL x axis (the knee's flexion axis)
    sk = skin(body, pose, np.zeros((1, 3)), np.zeros(16))
    _, rest_joints = shaped_rest(body, np.zeros(16))
    knee = rest_joints[k]
    r = Rotation.from_rotvec([np.pi / 2, 0, 0]).as_matrix()
    for name in ("RANK", "RANI", "RHEE"):
        i = ms.names.index(name)
        assert np.allclose(sk.vertices[0, i], r @ (body.v_template[i] - knee) + knee, atol=1e-9)
    for name in ("RKNE", "RASI", "LANK"):
        i = ms.names.index(name)
        assert np.allclose(sk.vertices[0, i], body.v_template[i], atol=1e-9)


def test_mass_and_height_follow_shape(standin_body):  # noqa: F811
    body = load_body_model(standin_body, "neutral")
    mass0, height0 = mass_and_height(body, np.zeros(16), 985.0)
    assert 50 < mass0 < 90 and 1.6 < height0 < 1.9
    mass1, height1 = mass_and_height(body, np.array([1.0]), 985.0)
    assert height1 == pytest.approx(height0 * 1.05, rel=1e-6)
    assert mass1 == pytest.approx(mass0 * 1.05 ** 3, rel=1e-6)


def test_missing_body_model_folder_says_where_files_come_from(tmp_path):
    with pytest.raises(MissingDependencyError, match="does not exist.*mano.is.tue.mpg.de"):
        load_body_model(tmp_path / "nowhere", "male")


def test_incomplete_body_model_folder(tmp_path, standin_body):  # noqa: F811
    (tmp_path / "male").mkdir()
    with pytest.raises(MissingDependencyError,
                       match="no SMPL-H file for gender 'female'.*--body-model"):
        load_body_model(tmp_path, "female")
    with np.load(standin_body / "neutral" / "model.npz") as d:
        arrays = {k: d[k] for k in d.files if k != "shapedirs"}
    np.savez(tmp_path / "male" / "model.npz", **arrays)
    with pytest.raises(InputError, match=r"not a complete SMPL-H model file: keys \['shapedirs'\]"):
        load_body_model(tmp_path, "male")


def test_smpl_model_file_is_refused_with_its_name(tmp_path, standin_body):  # noqa: F811
    with np.load(standin_body / "neutral" / "model.npz") as d:
        arrays = {k: d[k] for k in d.files}
    arrays["J_regressor"] = arrays["J_regressor"][:24]
    (tmp_path / "neutral").mkdir()
    np.savez(tmp_path / "neutral" / "model.npz", **arrays)
    with pytest.raises(InputError, match=r"is SMPL \(24 joints\), not SMPL-H \(52 joints\)"):
        load_body_model(tmp_path, "neutral")


def test_unknown_gender_for_body_model(standin_body):  # noqa: F811
    with pytest.raises(InputError, match="unknown gender 'robot'"):
        load_body_model(standin_body, "robot")


def test_smplx_own_smplh_class_loads_the_standin(standin_body):  # noqa: F811
    """The stand-in is a drop-in SMPL-H file: smplx.SMPLH loads it and poses it exactly as
    our loader + smplx.lbs do (smplx keeps 10 betas, so the test uses those)."""
    import smplx
    import torch

    path = standin_body / "neutral" / "model.npz"
    ref = smplx.SMPLH(model_path=str(path), ext="npz", use_pca=False, flat_hand_mean=True,
                      num_betas=10)
    rng = np.random.default_rng(1)
    pose = rng.normal(scale=0.3, size=(2, 156))
    betas = np.zeros(16)
    betas[:3] = [0.5, -0.4, 0.3]
    trans = rng.normal(size=(2, 3))
    t = lambda a: torch.as_tensor(a, dtype=torch.float32)  # noqa: E731
    out = ref(betas=t(betas[None, :10]).expand(2, -1), global_orient=t(pose[:, :3]),
              body_pose=t(pose[:, 3:66]), left_hand_pose=t(pose[:, 66:111]),
              right_hand_pose=t(pose[:, 111:]), transl=t(trans))
    ours = skin(load_body_model(standin_body, "neutral"), pose, trans, betas)
    assert np.allclose(out.vertices.detach().numpy(), ours.vertices, atol=1e-4)
    assert np.allclose(out.joints.detach().numpy()[:, :52], ours.joints, atol=1e-4)


def test_smplx_layout_pkl_and_chumpy_pickles(tmp_path, standin_body):  # noqa: F811
    import pickle

    with np.load(standin_body / "neutral" / "model.npz") as d:
        arrays = {k: d[k] for k in d.files}
    with open(tmp_path / "SMPLH_MALE.pkl", "wb") as fh:
        pickle.dump(arrays, fh)
    assert load_body_model(tmp_path, "male").n_vertices == 6890
    (tmp_path / "SMPLH_MALE.pkl").write_bytes(b"cchumpy.ch\nCh\n(tR.")
    with pytest.raises(InputError, match="holds chumpy objects.*npz files"):
        load_body_model(tmp_path, "male")
