"""Every dataset musclekit writes carries its card: `UnitWriter.commit` rewrites README.md,
so `datasets.load_dataset(folder, stream)` works without `musclekit card` (the demo's
datasets, library users' datasets, every stage)."""

from __future__ import annotations

import pytest
from format_factories import write_emg_dataset

from musclekit.dataset import open_dataset
from musclekit.dataset.card import MARKER


def test_a_dataset_written_through_the_library_has_its_card(tmp_path):
    ds = write_emg_dataset(tmp_path / "ds", n_sequences=2, n_frames=30)
    text = (ds / "README.md").read_text()
    assert MARKER in text
    assert "config_name: emg" in text


def test_a_readme_the_user_wrote_survives_later_units(tmp_path):
    ds = write_emg_dataset(tmp_path / "ds", n_sequences=1, n_frames=10)
    (ds / "README.md").write_text("# mine\n")
    write_emg_dataset(ds, n_sequences=2, n_frames=10)
    assert (ds / "README.md").read_text() == "# mine\n"


def test_load_dataset_without_musclekit_card(tmp_path, monkeypatch):
    pytest.importorskip("datasets")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    ds = write_emg_dataset(tmp_path / "ds", n_sequences=2, n_frames=30)
    from datasets import load_dataset

    loaded = load_dataset(str(ds), "emg", cache_dir=str(tmp_path / "cache"))
    assert loaded["train"].num_rows == 60
    assert set(open_dataset(ds).streams["emg"].channels) <= set(loaded["train"].column_names)
