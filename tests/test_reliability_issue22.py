"""Issue 22 (reliability): every bad input a demanding user tried ends in one `error:` line
that names the fix, and no command leaves a dataset the next command refuses."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from musclekit.cli.main import main
from musclekit.dataset import DatasetWriter, Provenance, SequenceInfo, StreamSpec, open_dataset
from musclekit.dataset.validate import validate_dataset
from musclekit.errors import FormatError, InputError
from tests.helpers.format_factories import refresh_shard_record, write_emg_dataset
from tests.helpers.train_fixtures import fast_config, tiny_dataset


def _err(capsys) -> str:
    return " ".join(capsys.readouterr().err.split())


# -- align ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cap(tmp_path_factory):
    from musclekit.pipelines.align.synthetic import make_capture

    return make_capture(tmp_path_factory.mktemp("cap"), duration_s=5.0, dropout_s=None)


def _one_frame_video(path: Path) -> Path:
    import av

    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=30)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        frame = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")
        for p in [*s.encode(frame), *s.encode()]:
            c.mux(p)
    return path


def test_align_one_frame_video(cap, tmp_path, capsys) -> None:
    video = _one_frame_video(tmp_path / "one.mov")
    code = main(["align", "--emg", str(cap.emg_path), "--video", str(video), "--out",
                 str(tmp_path / "ds"), "--video-start", "2026-11-22T10:00:00.250"])
    assert code == 1
    assert "has 1 frame(s): align needs a video of at least two frames" in _err(capsys)


@pytest.mark.parametrize("fps,said", [("1e6", "above the video's rate"),
                                      ("25", "above the sEMG's rate"),
                                      ("inf", "must be a positive number")])
def test_align_refuses_grid_rates_no_source_has(cap, tmp_path, capsys, fps, said) -> None:
    code = main(["align", "--emg", str(cap.emg_path), "--video", str(cap.video_path),
                 "--out", str(tmp_path / "ds"), "--fps", fps])
    err = _err(capsys)
    assert code == 1 and said in err
    if "above" in said:
        assert "give --fps 10 or less" in err
    assert not (tmp_path / "ds" / "meta" / "units").exists()


def test_align_offset_nan(cap, tmp_path, capsys) -> None:
    code = main(["align", "--emg", str(cap.emg_path), "--video", str(cap.video_path),
                 "--out", str(tmp_path / "ds"), "--offset", "nan"])
    err = _err(capsys)
    assert code == 1 and "--offset nan: give the seconds to add to the video times" in err
    assert "1734" not in err


def test_no_overlap_hint_gives_the_offset_that_fixes_it(cap, tmp_path, capsys) -> None:
    # The video's clock three days behind the sEMG's: adding +259200 s fixes it.
    code = main(["align", "--emg", str(cap.emg_path), "--video", str(cap.video_path),
                 "--out", str(tmp_path / "ds"), "--video-start", "2026-11-19T10:00:00.250"])
    err = _err(capsys)
    assert code == 1 and "--offset +259200" in err
    fixed = main(["align", "--emg", str(cap.emg_path), "--video", str(cap.video_path),
                  "--out", str(tmp_path / "ds"), "--video-start", "2026-11-19T10:00:00.250",
                  "--offset", "259200", "--no-qc"])
    assert fixed == 0


def test_align_out_on_a_virtual_file_system(cap, capsys) -> None:
    code = main(["align", "--emg", str(cap.emg_path), "--video", str(cap.video_path),
                 "--out", "/proc/musclekit-x"])
    err = _err(capsys)
    assert code == 1 and "/proc does not accept new files" in err and "does not exist" not in err


def test_full_disk_while_writing_the_qc_figure(cap, tmp_path, capsys, monkeypatch) -> None:
    import matplotlib.figure

    def full(self, *a, **k):  # PIL's way of saying ENOSPC: no errno
        raise OSError("encoder error -2 when writing image file")

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", full)
    out = tmp_path / "ds"
    code = main(["align", "--emg", str(cap.emg_path), "--video", str(cap.video_path),
                 "--out", str(out)])
    err = _err(capsys)
    assert code == 1 and "cannot write the QC file" in err and "--no-qc" in err
    assert not [p for p in (out / "qc" / "align").iterdir() if p.name.startswith(".")]


def test_reversed_emg_file_is_told_to_reverse_not_split(cap, tmp_path, capsys) -> None:
    lines = cap.emg_path.read_text().splitlines()
    head = [i for i, line in enumerate(lines) if line.startswith("time")][0] + 1
    body = sorted(lines[head:], reverse=True)
    rev = tmp_path / "rev.csv"
    rev.write_text("\n".join(lines[:head] + body) + "\n")
    code = main(["align", "--emg", str(rev), "--video", str(cap.video_path),
                 "--out", str(tmp_path / "ds")])
    err = _err(capsys)
    assert code == 1 and "reverse time order" in err and "| tac)" in err
    assert "split the file" not in err


def test_other_channel_names_say_what_differs(cap, tmp_path, capsys) -> None:
    out = tmp_path / "ds"
    assert main(["align", "--emg", str(cap.emg_path), "--video", str(cap.video_path),
                 "--out", str(out), "--no-qc"]) == 0
    other = tmp_path / "other.csv"
    other.write_text(cap.emg_path.read_text().replace("l_quad", "quad_L"))
    code = main(["align", "--emg", str(other), "--video", str(cap.video_path), "--out",
                 str(out), "--sequence-id", "second", "--no-qc"])
    err = _err(capsys)
    assert code == 1
    assert "not in the dataset: quad_L; missing now: l_quad" in err
    assert "--channels SRC=NAME" in err and "another stream name" not in err


def test_killed_qc_write_is_reported_and_cleaned(tmp_path) -> None:
    from musclekit.dataset.atomic import temp_sibling

    ds = write_emg_dataset(tmp_path / "ds")
    qc = ds / "qc" / "align"
    qc.mkdir(parents=True)
    old_style = qc / ".seq0.tmp.png"
    old_style.write_bytes(b"x")
    found = [f for f in validate_dataset(ds) if "QC figure" in f.message]
    assert found and found[0].where == "qc/align/.seq0.tmp.png"
    # A killed writer's temp name (pid no longer running) is removed by the next writer.
    dead = temp_sibling(qc / "seq1.png").name.split("-", 2)
    leftover = qc / f"{dead[0]}-999999{dead[1][dead[1].index('.'):]}-{dead[2]}"
    leftover.write_bytes(b"x")
    DatasetWriter.create_or_open(ds)
    assert not leftover.exists()


# -- dataset: validate, inspect, card, remove ------------------------------------------------

def _activation_dataset(root: Path) -> Path:
    spec = StreamSpec(name="activations", family="activations", rate_hz=10.0,
                      channels=["soleus_r", "tibant_r"])
    w = DatasetWriter.create_or_open(root, name="act", streams=[spec])
    with w.unit("sim", Provenance.for_stage("test")) as u:
        t = np.arange(20) / 10.0
        u.write_sequence("activations", SequenceInfo(id="s0", subject_id="S01"), t,
                         np.full((20, 2), 0.5))
    return root


def _rewrite_shard(root: Path, change) -> None:
    rec = open_dataset(root).records[0]
    shard = rec.shards[0]
    file = root / shard.path
    table = change(pq.read_table(file))
    pq.write_table(table, file)
    refresh_shard_record(root, rec.unit_id, shard.path)


def test_validate_refuses_nan_activations_not_flagged_missing(tmp_path) -> None:
    ds = _activation_dataset(tmp_path / "ds")

    def nan_in(table):
        col = table.column("soleus_r").to_numpy().copy()
        col[3:6] = np.nan
        return table.set_column(table.schema.get_field_index("soleus_r"), "soleus_r",
                                pa.array(col, type=pa.float32()))

    _rewrite_shard(ds, nan_in)
    errors = [f for f in validate_dataset(ds) if f.level == "error"]
    assert errors and "column 'soleus_r' holds NaN on 3 frame(s) (first: frame 3)" in errors[0].message
    assert "musclekit remove" in errors[0].message


def test_validate_refuses_unflagged_nulls_in_bounded_streams(tmp_path) -> None:
    spec_root = tmp_path / "ds"
    spec = StreamSpec(name="activations", family="activations", rate_hz=10.0,
                      channels=["soleus_r", "tibant_r"])
    w = DatasetWriter.create_or_open(spec_root, name="act", streams=[spec])
    values = np.full((20, 2), 0.5)
    values[4, 0] = np.nan  # one muscle without a value on a frame that is not MISSING
    with w.unit("sim", Provenance.for_stage("test")) as u:
        u.write_sequence("activations", SequenceInfo(id="s0", subject_id="S01"),
                         np.arange(20) / 10.0, values)
    errors = [f for f in validate_dataset(spec_root) if f.level == "error"]
    assert errors and "no value on 1 frame(s) not flagged MISSING (first: frame 4)" in errors[0].message


def test_validate_names_the_column_another_tool_changed(tmp_path) -> None:
    ds = write_emg_dataset(tmp_path / "ds")

    def as_float64(table):
        i = table.schema.get_field_index("b")
        return table.set_column(i, "b", table.column("b").cast(pa.float64()))

    _rewrite_shard(ds, as_float64)
    errors = [f for f in validate_dataset(ds) if f.level == "error"]
    assert "column 'b' is double, expected float" in errors[0].message


def test_inspect_keeps_ids_whole_at_80_columns(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    ds = tiny_dataset(tmp_path / "ds")
    spec = StreamSpec(name="activations_predicted_long_name", family="activations",
                      rate_hz=20.0, channels=["m0", "m1", "m2", "m3"])
    DatasetWriter.create_or_open(ds, streams=[spec])
    from rich.console import Console

    from musclekit.dataset.summary import render_summary

    console = Console(width=80, record=True)
    render_summary(ds, console)
    text = console.export_text()
    for name in ("joint_angles", "activations_predicted_long_name"):
        assert name in text
    assert "…" not in text


def test_card_on_a_read_only_dataset_does_not_suggest_out(tmp_path, capsys, monkeypatch) -> None:
    import musclekit.dataset.card as card

    ds = write_emg_dataset(tmp_path / "ds")

    def read_only(*a, **k):
        raise PermissionError(13, "Permission denied", str(ds / "README.md"))

    monkeypatch.setattr(card, "write_card", read_only)
    assert main(["card", str(ds)]) == 1
    err = _err(capsys)
    assert "permission denied" in err and "--out" not in err and "chmod u+w" in err


def test_writer_refuses_a_stream_another_unit_wrote(tmp_path) -> None:
    ds = write_emg_dataset(tmp_path / "ds")
    w = DatasetWriter.create_or_open(ds)
    with pytest.raises(FormatError, match=r"already holds sequence 'seq0', written by unit "
                                          r"'u0'; nothing was written.*musclekit remove"):
        with w.unit("intruder", Provenance.for_stage("test")) as u:
            u.write_sequence("emg", SequenceInfo(id="seq0", subject_id="S01"),
                             np.arange(30) / 10.0, np.zeros((30, 3)))
    assert len(open_dataset(ds).records) == 1
    assert not list((ds / "data" / "emg").glob(".tmp-*"))


def test_remove_a_unit_and_a_stream(tmp_path, capsys) -> None:
    ds = tiny_dataset(tmp_path / "ds")
    spec = StreamSpec(name="extra", family="semg", rate_hz=20.0, channels=["a"])
    w = DatasetWriter.create_or_open(ds, streams=[spec])
    with w.unit("extra-unit", Provenance.for_stage("test")) as u:
        u.write_sequence("extra", SequenceInfo(id="x0", subject_id="S01"),
                         np.arange(10) / 20.0, np.ones((10, 1)))
    assert main(["remove", str(ds), "--unit", "extra-unit"]) == 0
    d = open_dataset(ds)
    assert "extra" not in d.streams and "extra-unit" not in {r.unit_id for r in d.records}
    assert not (ds / "data" / "extra").exists()
    assert main(["remove", str(ds), "--stream", "activations"]) == 0
    d = open_dataset(ds)
    assert set(d.streams) == {"joint_angles"} and d.sequence_ids("joint_angles")
    assert not [f for f in validate_dataset(ds) if f.level == "error"]
    capsys.readouterr()
    assert main(["remove", str(ds), "--unit", "nope"]) == 1
    assert "has no unit 'nope'; its units: synthetic" in _err(capsys)
    assert main(["remove", str(ds)]) == 1
    assert "--unit UNIT_ID or --stream NAME" in _err(capsys)


def test_remove_recovers_a_dataset_with_duplicate_sequences(tmp_path, capsys) -> None:
    import json

    ds = write_emg_dataset(tmp_path / "ds")
    # As an older musclekit could leave it: a second unit with the same sequences.
    rec = json.loads((ds / "meta" / "units" / "u0.json").read_text())
    shard = rec["shards"][0]
    shutil.copy(ds / shard["path"], ds / "data" / "emg" / "u1.parquet")
    rec["unit_id"], shard["path"] = "u1", "data/emg/u1.parquet"
    (ds / "meta" / "units" / "u1.json").write_text(json.dumps(rec))
    assert main(["inspect", str(ds)]) == 1
    assert f"musclekit remove {ds} --unit u1" in _err(capsys)
    assert main(["remove", str(ds), "--unit", "u1"]) == 0
    assert main(["validate", str(ds)]) == 0


# -- train, evaluate, predict ---------------------------------------------------------------

@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from musclekit.pipelines.train.training import train

    root = tmp_path_factory.mktemp("train")
    ds = tiny_dataset(root / "ds")
    train(fast_config(ds, max_steps=10, eval_every_steps=5, width=16, heads=2), root / "run")
    return root, ds


def test_train_width_not_divisible_by_heads(trained, tmp_path, capsys) -> None:
    _, ds = trained
    out = tmp_path / "run"
    assert main(["train", str(ds), "--out", str(out), "--heads", "3", "--width", "32"]) == 1
    assert ("--width 32 is not divisible by --heads 3 (each head gets width/heads channels): "
            "give --heads 4") in _err(capsys)
    assert not out.exists()


def test_train_threads_beyond_the_cores(trained, tmp_path, capsys) -> None:
    _, ds = trained
    assert main(["train", str(ds), "--out", str(tmp_path / "run"), "--threads", "1000"]) == 1
    assert "--threads 1000: this machine has" in _err(capsys)


def test_evaluate_negative_plots(trained, capsys) -> None:
    root, _ = trained
    assert main(["evaluate", str(root / "run"), "--plots", "-3"]) == 1
    assert "--plots -3: give how many windows to plot, 0 (none) or more" in _err(capsys)


@pytest.mark.parametrize("command", ["evaluate", "predict"])
def test_truncated_checkpoint(trained, tmp_path, capsys, command) -> None:
    root, ds = trained
    run = tmp_path / "run"
    shutil.copytree(root / "run", run)
    best = run / "checkpoints" / "best.pt"
    best.write_bytes(best.read_bytes()[:500])
    copy = tmp_path / "ds"
    shutil.copytree(ds, copy)
    args = [command, str(run)] + ([str(copy)] if command == "predict" else [])
    assert main(args) == 1
    err = _err(capsys)
    assert f"checkpoint {best} is damaged" in err and "retrain" in err
    assert set(open_dataset(copy).streams) == set(open_dataset(ds).streams)


def test_predict_into_the_ground_truth_stream_is_refused(trained, tmp_path, capsys) -> None:
    root, ds = trained
    copy = tmp_path / "ds"
    shutil.copytree(ds, copy)
    assert main(["predict", str(root / "run"), str(copy), "--stream", "activations"]) == 1
    err = _err(capsys)
    assert "stream 'activations' of" in err and "holds data written by synthetic" in err
    assert "--stream activations_predicted" in err
    for command in (["validate", str(copy)], ["inspect", str(copy)]):
        assert main(command) == 0
    with pytest.raises(InputError):
        from musclekit.pipelines.train.predict import predict_into

        predict_into(root / "run", copy, "activations")
