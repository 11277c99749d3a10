"""Models and non-learned baselines."""

import numpy as np
import pytest
import torch

from musclekit.pipelines.train.models import (
    MODELS,
    ConstantBaseline,
    ModelOptions,
    ModelShape,
    RetrievalBaseline,
    build_model,
)


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("bounded", [True, False])
def test_models_map_windows_to_windows(name, bounded):
    torch.manual_seed(0)
    shape = ModelShape(n_inputs=7, n_outputs=3, window_frames=12, n_subjects=2,
                       bounded_output=bounded)
    model = build_model(name, shape, ModelOptions(width=16, layers=1, heads=2))
    y = model(torch.randn(4, 12, 7) * 10, torch.tensor([0, 1, 1, 0])).detach()
    assert y.shape == (4, 12, 3)
    if bounded:
        assert float(y.min()) >= 0.0 and float(y.max()) <= 1.0
    with pytest.raises(ValueError, match="subject-conditioned"):
        model(torch.randn(4, 12, 7))


def test_mia_defaults_follow_the_paper():
    model = build_model("mia", ModelShape(75, 8, 30), ModelOptions())
    conv = model.local[0]
    assert conv.kernel_size == (9,) and conv.out_channels == 128
    assert len(model.glob.layers) == 4
    assert model.glob.layers[0].self_attn.num_heads == 8


def test_subject_conditioning_changes_output():
    torch.manual_seed(0)
    model = build_model("lstm", ModelShape(3, 2, 8, n_subjects=2), ModelOptions(width=8))
    x = torch.randn(1, 8, 3)
    a = model(x, torch.tensor([0]))
    b = model(x, torch.tensor([1]))
    assert not torch.allclose(a, b)


def test_retrieval_returns_nearest_training_window():
    keys = np.stack([np.full((4, 2), v, np.float32) for v in (0.0, 1.0, 5.0)])
    vals = np.stack([np.full((4, 1), v, np.float32) for v in (10.0, 20.0, 30.0)])
    subj = np.array([0, 0, 1])
    r = RetrievalBaseline(keys, vals, subj)
    q = np.stack([np.full((4, 2), 4.0, np.float32), np.full((4, 2), 0.9, np.float32)])
    assert r.predict(q)[:, 0, 0].tolist() == [30.0, 20.0]
    c = RetrievalBaseline(keys, vals, subj, per_subject=True)
    # the nearest window of subject 0 to 4.0 is the one at 1.0
    assert c.predict(q, np.array([0, 1]))[:, 0, 0].tolist() == [20.0, 30.0]
    assert c.name == "c-retrieval"


def test_constant_baseline():
    out = ConstantBaseline(np.array([0.2, 0.4])).predict(np.zeros((3, 5, 7)))
    assert out.shape == (3, 5, 2) and np.allclose(out[..., 1], 0.4)
