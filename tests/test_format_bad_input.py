"""Bad datasets and bad writes: each gives the message a user reads."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from musclekit.dataset import DatasetWriter, Provenance, SequenceInfo, StreamSpec, open_dataset
from musclekit.dataset.validate import validate_dataset
from musclekit.errors import FormatError, FormatVersionError
from tests.helpers.format_factories import (
    emg_spec,
    refresh_shard_record,
    rewrite_record,
    write_emg_dataset,
)


def _errors(root):
    return [str(f) for f in validate_dataset(root) if f.level == "error"]


def _set_version(root, version):
    info = root / "meta" / "info.json"
    payload = json.loads(info.read_text())
    payload["format_version"] = version
    info.write_text(json.dumps(payload))


def test_older_major_version_says_no_musclekit_wrote_it(tmp_path):
    root = write_emg_dataset(tmp_path / "d")
    _set_version(root, "0.3")
    with pytest.raises(FormatVersionError, match=r"format 0\.3, but no musclekit ever wrote it"):
        open_dataset(root)


def test_newer_major_version_says_upgrade(tmp_path):
    root = write_emg_dataset(tmp_path / "d")
    _set_version(root, "2.0")
    with pytest.raises(FormatVersionError, match=r"newer than this musclekit.*pip install -U musclekit"):
        open_dataset(root)


def test_path_that_is_not_a_dataset(tmp_path):
    with pytest.raises(FormatError, match="is not a musclekit dataset: meta/info.json is missing"):
        open_dataset(tmp_path)
    with pytest.raises(FormatError, match="does not exist"):
        open_dataset(tmp_path / "nope")


def test_missing_metadata_key(tmp_path):
    root = write_emg_dataset(tmp_path / "d")
    info = root / "meta" / "info.json"
    payload = json.loads(info.read_text())
    del payload["name"]
    info.write_text(json.dumps(payload))
    with pytest.raises(FormatError, match=r"meta/info.json is invalid: name: Field required"):
        open_dataset(root)


def test_corrupt_metadata(tmp_path):
    root = write_emg_dataset(tmp_path / "d")
    (root / "meta" / "info.json").write_text('{"format_version": "1.0", "name": ')
    with pytest.raises(FormatError, match=r"is not valid JSON \(line 1, column"):
        open_dataset(root)


def test_corrupt_completion_record(tmp_path):
    root = write_emg_dataset(tmp_path / "d")
    (root / "meta" / "units" / "u0.json").write_text("{not json")
    with pytest.raises(FormatError, match=r"completion record .*u0.json is not valid JSON"):
        open_dataset(root)


def test_truncated_shard_is_refused(tmp_path):
    root = write_emg_dataset(tmp_path / "d")
    shard = root / "data" / "emg" / "u0.parquet"
    shard.write_bytes(shard.read_bytes()[:-100])
    ds = open_dataset(root)  # metadata alone is fine
    with pytest.raises(FormatError, match=r"u0.parquet is truncated or was changed"):
        ds.sequence_array("emg", "seq0")
    with pytest.raises(FormatError, match="truncated"):
        ds.scan("emg")
    assert any("truncated" in e for e in _errors(root))


def test_shard_with_other_schema_than_metadata(tmp_path):
    root = write_emg_dataset(tmp_path / "d")
    shard = root / "data" / "emg" / "u0.parquet"
    table = pq.read_table(shard).drop_columns(["c"])
    with pq.ParquetWriter(shard, table.schema) as w:
        for seq in ("seq0", "seq1"):
            w.write_table(table.filter(pa.compute.equal(
                table.column("sequence_id").cast(pa.string()), seq)))
    refresh_shard_record(root, "u0", "data/emg/u0.parquet")
    errors = _errors(root)
    assert any("schema differs from meta/info.json" in e and "missing columns ['c']" in e
               and "3 channels declared, 2 value columns found" in e for e in errors), errors


def test_duplicate_sequence_ids_across_units(tmp_path):
    root = write_emg_dataset(tmp_path / "d")
    w = DatasetWriter.create_or_open(root)
    # The writer refuses it (issue 22) ...
    with pytest.raises(FormatError, match=r"already holds sequence 'seq0', written by unit 'u0'"):
        with w.unit("u1", Provenance.for_stage("test")) as u:
            u.write_sequence("emg", SequenceInfo(id="seq0", subject_id="S01"),
                             np.arange(3) / 10, np.zeros((3, 3)))
    # ... and readers refuse one made by hand, naming the way out.
    record = json.loads((root / "meta/units/u0.json").read_text())
    record["unit_id"] = "u1"
    (root / "meta/units/u1.json").write_text(json.dumps(record))
    with pytest.raises(FormatError, match=r"duplicate sequence id 'seq0' in stream 'emg': "
                                          r"written by units 'u0' and 'u1'; keep one: "
                                          r"`musclekit remove .* --unit u1`"):
        open_dataset(root)
    assert any("duplicate sequence id" in e for e in _errors(root))


def test_non_monotonic_timestamps_rejected_by_writer(tmp_path):
    w = DatasetWriter.create_or_open(tmp_path / "d", streams=[emg_spec()])
    with pytest.raises(FormatError, match=r"time_s must increase strictly; frame 2 \(0.100000 s\) "
                                          r"does not come after frame 1 \(0.200000 s\)"):
        with w.unit("u", Provenance.for_stage("t")) as u:
            u.write_sequence("emg", SequenceInfo(id="s", subject_id="S"),
                             np.array([0.0, 0.2, 0.1]), np.zeros((3, 3)))
    assert not list((tmp_path / "d" / "data").rglob("*.parquet"))
    assert not (tmp_path / "d" / "meta" / "units").exists()


def test_non_monotonic_timestamps_found_by_validate(tmp_path):
    root = write_emg_dataset(tmp_path / "d", n_sequences=1)
    shard = root / "data" / "emg" / "u0.parquet"
    table = pq.read_table(shard)
    times = table.column("time_s").to_numpy().copy()
    times[[4, 5]] = times[[5, 4]]
    index = table.schema.get_field_index("time_s")
    table = table.set_column(index, table.schema.field(index), pa.array(times))
    pq.write_table(table, shard)
    refresh_shard_record(root, "u0", "data/emg/u0.parquet")
    assert any("timestamps are not monotonic: time_s at frame 5" in e for e in _errors(root))


def test_unknown_family(tmp_path):
    with pytest.raises(FormatError, match=r"unknown signal family 'emgz'; known families: activations"):
        StreamSpec(name="x", family="emgz", channels=["a"])


def test_unknown_family_in_stored_metadata(tmp_path):
    root = write_emg_dataset(tmp_path / "d")
    info = root / "meta" / "info.json"
    payload = json.loads(info.read_text())
    payload["streams"]["emg"]["family"] = "emgz"
    info.write_text(json.dumps(payload))
    with pytest.raises(FormatError, match="unknown signal family 'emgz'"):
        open_dataset(root)


def test_channel_count_mismatch(tmp_path):
    w = DatasetWriter.create_or_open(tmp_path / "d", streams=[emg_spec()])
    with pytest.raises(FormatError, match=r"values have shape \(4, 2\), expected \(4, 3\) "
                                          r"\(frames, channels\); the stream declares 3 channels"):
        with w.unit("u", Provenance.for_stage("t")) as u:
            u.write_sequence("emg", SequenceInfo(id="s", subject_id="S"), np.arange(4) / 10,
                             np.zeros((4, 2)))


def test_activations_out_of_range(tmp_path):
    spec = StreamSpec(name="act", family="activations", rate_hz=50, channels=["soleus_r"])
    w = DatasetWriter.create_or_open(tmp_path / "d", streams=[spec])
    with pytest.raises(FormatError, match=r"activations must lie in \[0.0, 1.0\], got values from 0 to 1.5"):
        with w.unit("u", Provenance.for_stage("t")) as u:
            u.write_sequence("act", SequenceInfo(id="s", subject_id="S"), np.arange(2) / 50,
                             np.array([[0.0], [1.5]]))


def test_units_not_allowed_for_family():
    with pytest.raises(Exception, match=r"units \['deg'\] are not allowed for family 'joint_angles'"):
        StreamSpec(name="q", family="joint_angles", channels=["knee"], units="deg")


def test_redefining_a_stream_with_another_layout(tmp_path):
    write_emg_dataset(tmp_path / "d")
    with pytest.raises(FormatError, match=r"already has a stream 'emg' with another layout"):
        DatasetWriter.create_or_open(tmp_path / "d", streams=[emg_spec(("a", "b"))])


def test_writing_into_a_foreign_folder(tmp_path):
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "cat.jpg").write_bytes(b"x")
    with pytest.raises(FormatError, match="is a non-empty folder that is not a musclekit dataset"):
        DatasetWriter.create_or_open(tmp_path / "photos", streams=[emg_spec()])


def test_record_naming_an_undeclared_stream(tmp_path):
    root = write_emg_dataset(tmp_path / "d")
    rewrite_record(root, "u0", lambda p: p["shards"][0].update(stream="ghost"))
    with pytest.raises(FormatError, match="names stream 'ghost', which meta/info.json does not declare"):
        open_dataset(root)


def test_unknown_stream_and_channel_on_read(tmp_path):
    ds = open_dataset(write_emg_dataset(tmp_path / "d"))
    with pytest.raises(FormatError, match=r"has no stream 'grf' \(streams: emg\)"):
        ds.scan("grf")
    with pytest.raises(FormatError, match=r"stream 'emg' has no channels \['z'\]; it has 3: a, b, c"):
        ds.sequence_array("emg", "seq0", channels=["z"])
