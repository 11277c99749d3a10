"""Every family goes through the writer and comes back identical via polars, pandas, numpy."""

from __future__ import annotations

import json
import warnings

import numpy as np
import polars as pl
import pytest

from musclekit.dataset import (
    DatasetWriter,
    Flag,
    Provenance,
    SequenceInfo,
    StreamSpec,
    families,
    open_dataset,
)
from musclekit.dataset.metadata import schema_files
from musclekit.dataset.synthetic import all_family_streams, make_synthetic_dataset, synthetic_values


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    return make_synthetic_dataset(tmp_path_factory.mktemp("ds") / "synthetic", duration_s=3.0)


def test_every_family_is_exercised():
    assert {s.family for s in all_family_streams()} == set(families())


@pytest.mark.parametrize("spec", all_family_streams(), ids=lambda s: s.family)
def test_numpy_round_trip_per_family(synthetic, spec):
    ds = open_dataset(synthetic)
    arr = ds.sequence_array(spec.name, "S01_seq00")
    rate = spec.rate_hz
    t = np.arange(int(round(3.0 * rate))) / rate
    np.testing.assert_allclose(arr.time_s, t)
    gap = (t >= 1.0) & (t < 1.5)
    assert np.array_equal(arr.flags == Flag.MISSING, gap)
    assert arr.channels == spec.channels
    expected = synthetic_values(spec, t, phase=0.0)
    if expected is None:
        assert arr.values.size == 0
        np.testing.assert_array_equal(arr.aux["source_frame"][gap], -1)
    else:
        expected = expected.astype(np.float32)
        expected[gap] = np.nan
        np.testing.assert_allclose(arr.values, expected, rtol=0, atol=1e-6)
    assert ds.sequence_stream("S01_seq00", spec.name).gaps == [(1.0, float(t[gap][-1]))]


def test_polars_scan_filters_without_reading_everything(synthetic):
    ds = open_dataset(synthetic)
    frame = (ds.scan("activations")
             .filter(pl.col("subject_id") == "S02")
             .select("sequence_id", "time_s", "gasmed_r")
             .collect())
    assert set(frame["sequence_id"].cast(pl.String).unique()) == {"S02_seq00", "S02_seq01"}
    assert frame.columns == ["sequence_id", "time_s", "gasmed_r"]
    assert frame["gasmed_r"].null_count() == 25  # the 0.5 s gap at 50 fps, first sequence only


def test_pandas_selects_channels_and_keeps_nulls(synthetic):
    ds = open_dataset(synthetic)
    df = ds.to_pandas("markers", sequences=["S01_seq00"], channels=["C7"])
    assert list(df.columns[-3:]) == ["C7.x", "C7.y", "C7.z"]
    assert df["C7.x"].isna().sum() == 25
    assert len(df) == 150


def test_metadata_is_typed_and_merged(synthetic):
    ds = open_dataset(synthetic)
    assert ds.subjects["S02"].mass_kg == 65.0
    assert ds.sequences["S01_seq01"].label == "Running"
    assert ds.streams["grf"].units[:6] == ["N", "N", "N", "m", "m", "m"]
    assert ds.records[0].provenance.stage == "synthetic"


def test_sequence_extra_merges_across_units(tmp_path):
    specs = [StreamSpec(name="emg", family="semg", rate_hz=10.0, channels=["a"]),
             StreamSpec(name="kp", family="keypoints2d", rate_hz=10.0, channels=["Nose"])]
    w = DatasetWriter.create_or_open(tmp_path / "d", streams=specs[:1])
    t = np.arange(5) / 10
    with w.unit("align", Provenance.for_stage("align")) as u:
        u.write_sequence("emg", SequenceInfo(id="c1", subject_id="S1", extra={"video": 1}), t,
                         np.ones((5, 1)))
    w.add_streams(specs[1:])
    with w.unit("keypoints", Provenance.for_stage("keypoints")) as u:
        u.write_sequence("kp", SequenceInfo(id="c1", subject_id="S1", extra={"backend": "x"}), t,
                         np.ones((5, 1, 3)))
    ds = open_dataset(tmp_path / "d")
    assert ds.sequences["c1"].extra == {"video": 1, "backend": "x"}
    assert sorted(ds.sequence_ids("kp")) == ["c1"]


def test_tables_round_trip(tmp_path):
    import pandas as pd

    w = DatasetWriter.create_or_open(tmp_path / "d", streams=[])
    for i in range(2):
        with w.unit(f"u{i}", Provenance.for_stage("t")) as u:
            u.write_table("chunks", pd.DataFrame({"chunk": [i], "status": ["ok"]}))
    table = open_dataset(tmp_path / "d").read_table("chunks")
    assert sorted(table["chunk"].to_list()) == [0, 1]


def test_unknown_metadata_keys_warn_but_load(tmp_path):
    root = make_synthetic_dataset(tmp_path / "d", n_subjects=1, sequences_per_subject=1, duration_s=1)
    info_file = root / "meta" / "info.json"
    payload = json.loads(info_file.read_text())
    payload["added_in_1_1"] = {"x": 1}
    payload["streams"]["emg"]["display_scale"] = 2
    info_file.write_text(json.dumps(payload))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = open_dataset(root)
    text = " ".join(str(w.message) for w in caught)
    assert "added_in_1_1" in text and "display_scale" in text
    assert ds.sequence_array("emg", "S01_seq00").values.shape[1] == 8


def test_schema_files_are_generated_from_models():
    from importlib.resources import files

    for name, schema in schema_files().items():
        stored = json.loads(files("musclekit.schemas").joinpath(name).read_text())
        assert stored == json.loads(json.dumps(schema)), (
            f"schemas/{name} is stale: regenerate with `python -m musclekit.dataset.metadata`")


def test_rerun_of_finished_unit_is_skipped(tmp_path):
    root = make_synthetic_dataset(tmp_path / "d", n_subjects=1, sequences_per_subject=1, duration_s=1)
    before = (root / "meta/units/subject-S01.json").read_text()
    make_synthetic_dataset(root, n_subjects=1, sequences_per_subject=1, duration_s=1)
    assert (root / "meta/units/subject-S01.json").read_text() == before
    assert DatasetWriter.create_or_open(root).is_done("subject-S01")
