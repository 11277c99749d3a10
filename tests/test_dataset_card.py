"""Interop: the dataset card (Hugging Face `datasets`) and LeRobot-style meta/stats.json."""

from __future__ import annotations

import json

import numpy as np
import pytest

from musclekit.cli.main import main
from musclekit.dataset import Flag, open_dataset
from musclekit.dataset.card import MARKER, write_card
from tests.helpers.train_fixtures import tiny_dataset


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return tiny_dataset(tmp_path_factory.mktemp("card") / "ds")


def test_stats_match_the_frames(dataset):
    write_card(dataset)
    stats = json.loads((dataset / "meta" / "stats.json").read_text())
    ds = open_dataset(dataset)
    spec = ds.streams["activations"]
    assert stats["activations"]["names"] == spec.value_columns()
    values = []
    for seq in ds.sequence_ids("activations"):
        arr = ds.sequence_array("activations", seq)
        keep = (arr.flags & np.uint8(Flag.MISSING)) == 0
        values.append(arr.values[keep].astype(np.float64))
    v = np.concatenate(values)
    s = stats["activations"]
    np.testing.assert_allclose(s["mean"], v.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(s["std"], v.std(axis=0), rtol=1e-5)
    np.testing.assert_allclose(s["min"], v.min(axis=0), rtol=1e-6)
    assert s["count"] == [len(v)] * v.shape[1]


def test_card_has_one_config_per_stream(dataset):
    write_card(dataset)
    text = (dataset / "README.md").read_text()
    assert text.startswith("---\nconfigs:\n")
    for stream in open_dataset(dataset).streams:
        assert f"- config_name: {stream}\n" in text
        assert f"    path: data/{stream}/*.parquet" in text
    assert MARKER in text


def test_a_readme_the_user_wrote_is_kept(tmp_path, capsys):
    ds = tiny_dataset(tmp_path / "ds")
    (ds / "README.md").write_text("# my notes\n")
    assert main(["card", str(ds)]) == 0
    assert (ds / "README.md").read_text() == "# my notes\n"
    assert "kept" in capsys.readouterr().err
    assert (ds / "meta" / "stats.json").is_file()
    # the card and stats do not disturb the dataset
    assert main(["validate", str(ds)]) == 0


def test_load_dataset_reads_a_musclekit_folder(dataset, tmp_path, monkeypatch):
    import datasets  # noqa: F401
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    write_card(dataset)
    from datasets import load_dataset

    loaded = load_dataset(str(dataset), "activations", cache_dir=str(tmp_path / "cache"))
    ds = open_dataset(dataset)
    total = sum(ds.sequence_stream(s, "activations").n_frames
                for s in ds.sequence_ids("activations"))
    assert loaded["train"].num_rows == total
    for channel in ds.streams["activations"].channels:
        assert channel in loaded["train"].column_names
    other = load_dataset(str(dataset), "joint_angles", cache_dir=str(tmp_path / "cache"))
    assert "sequence_id" in other["train"].column_names
