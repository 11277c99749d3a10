"""Every dataset musclekit writes carries its card: `UnitWriter.commit` rewrites README.md,
so `datasets.load_dataset(folder, stream)` works without `musclekit card` (the demo's
datasets, library users' datasets, every stage)."""

from __future__ import annotations

import pytest

from musclekit.dataset import open_dataset
from musclekit.dataset.card import MARKER
from tests.helpers.format_factories import write_emg_dataset


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


def test_demo_datasets_load_without_musclekit_card(tmp_path, monkeypatch):
    """The demo's align and known-function datasets (written by library calls, never by a
    command that refreshes the card) load stream by stream."""
    pytest.importorskip("datasets")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from datasets import load_dataset

    from musclekit.pipelines.align.demo import run_demo
    from musclekit.pipelines.train.synthetic import SyntheticSpec, write_synthetic_dataset

    aligned = run_demo(tmp_path / "align")["dataset"]
    known = write_synthetic_dataset(tmp_path / "known", SyntheticSpec(seconds=5.0))
    for path in (aligned, known):
        ds = open_dataset(path)
        streams = [s for s in ds.streams if ds.sequence_ids(s)]
        assert streams
        for stream in streams:
            loaded = load_dataset(str(path), stream, cache_dir=str(tmp_path / "cache"))
            total = sum(ds.sequence_stream(q, stream).n_frames for q in ds.sequence_ids(stream))
            assert loaded["train"].num_rows == total, (path, stream)
