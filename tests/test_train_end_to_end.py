"""Train, evaluate, predict and edit on a tiny synthetic dataset with a known answer."""

import json
import shutil

import numpy as np
import pytest

from musclekit.cli.main import main
from musclekit.dataset import Flag, open_dataset
from musclekit.errors import InputError
from musclekit.pipelines.train.evaluate import evaluate_run
from musclekit.pipelines.train.predict import predict_into
from musclekit.pipelines.train.run import RunFolder
from musclekit.pipelines.train.splits import TRAIN
from musclekit.pipelines.train.training import prepare_data, train
from tests.helpers.train_fixtures import fast_config, motion_only_dataset, tiny_dataset


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("train")
    ds = tiny_dataset(root / "ds")
    cfg = fast_config(ds)
    result = train(cfg, root / "run")
    return root, ds, cfg, result


def test_trainer_learns_and_beats_baselines(trained):
    root, _, _, result = trained
    assert result.steps >= 50 and result.best_step is not None
    ev = evaluate_run(root / "run")
    overall = ev.overall()
    model = overall["mint"]
    # targets are a known function of the inputs: a few seconds of training must beat
    # retrieval and the training mean by a clear margin
    assert model["rmse"] < 0.6 * overall["constant"]["rmse"], overall
    assert model["rmse"] < 0.6 * overall["retrieval"]["rmse"], overall
    assert model["rmse"] < 0.6 * overall["c-retrieval"]["rmse"], overall
    assert model["pcc"] > 0.8 and model["pcc"] > overall["retrieval"]["pcc"] + 0.2
    report = ev.report_dir
    assert (report / "metrics.csv").is_file()
    text = (report / "report.md").read_text()
    assert "| mint |" in text and "Per exercise" in text and "Squat" in text
    assert "LAI_ARNOLD_LOWER_BODY_8" not in text  # the synthetic muscles are not the subset
    assert len(list((report / "plots").glob("*.png"))) == 3


def test_normalisation_uses_training_split_only(trained):
    root, _, cfg, _ = trained
    run = RunFolder.open(root / "run")
    input_norm, target_norm = run.normalizers()
    prepared = prepare_data(cfg)
    train_rows = prepared.table.valid & (prepared.codes == TRAIN)
    np.testing.assert_allclose(input_norm.mean, prepared.table.inputs[train_rows].mean(0),
                               rtol=1e-5, atol=1e-6)
    all_rows = prepared.table.valid
    assert not np.allclose(input_norm.mean, prepared.table.inputs[all_rows].mean(0),
                           rtol=0, atol=1e-6)
    assert not target_norm.enabled  # activations are bounded: sigmoid output, raw targets


def test_predict_writes_stream_with_provenance(trained, tmp_path):
    root, ds, _, _ = trained
    copy = tmp_path / "ds"
    shutil.copytree(ds, copy)
    result = predict_into(root / "run", copy)
    assert result.stream == "activations_predicted" and result.n_sequences == 6
    d = open_dataset(copy)
    spec = d.streams["activations_predicted"]
    assert spec.family == "activations" and spec.rate_hz == 20.0
    arr = d.sequence_array("activations_predicted", "S01_Squat_000")
    inp = d.sequence_array("joint_angles", "S01_Squat_000")
    ok = arr.flags & Flag.MISSING == 0
    assert ok.mean() > 0.8 and np.nanmin(arr.values) >= 0 and np.nanmax(arr.values) <= 1
    # frames inside an input gap are MISSING, never invented
    gap_times = inp.time_s[(inp.flags & Flag.MISSING) != 0]
    assert gap_times.size
    in_gap = np.isin(np.round(arr.time_s, 6), np.round(gap_times, 6))
    assert in_gap.any() and not ok[in_gap].any()
    record = next(r for r in d.records if r.unit_id == "predict-activations_predicted")
    assert record.provenance.stage == "predict"
    assert record.provenance.config["model"] == "mint"
    assert {i.name for i in record.provenance.inputs} == {"run.json", "best.pt"}
    again = predict_into(root / "run", copy)
    assert again.skipped


def test_resume_continues_and_refuses_other_settings(tmp_path, trained):
    _, ds, _, _ = trained
    cfg = fast_config(ds, model="lstm", width=8, layers=1, max_steps=20, eval_every_steps=10,
                      time_budget_s=None)
    first = train(cfg, tmp_path / "run")
    assert first.steps == 20
    more = train(cfg.model_copy(update={"max_steps": 30}), tmp_path / "run")
    assert more.steps == 30
    steps = [int(line.split(",")[0]) for line in
             (tmp_path / "run" / "history.csv").read_text().splitlines()[1:]]
    assert steps == [10, 20, 30]
    done = train(cfg.model_copy(update={"max_steps": 30}), tmp_path / "run")
    assert done.stopped == "already_done"
    with pytest.raises(InputError, match=r"holds a run with other settings \(lr: 0.003 -> 0.1\)"):
        train(cfg.model_copy(update={"lr": 0.1}), tmp_path / "run")


def test_dataset_without_requested_families(tmp_path):
    ds = motion_only_dataset(tmp_path / "m")
    with pytest.raises(InputError, match="has no target stream: the task needs one of the "
                                         "families activations, semg, muscle_forces"):
        train(fast_config(ds), tmp_path / "run")
    with pytest.raises(InputError, match="has no stream 'emg' for the target"):
        train(fast_config(ds, target_stream="emg"), tmp_path / "run")


def test_window_longer_than_every_sequence(trained, tmp_path):
    _, ds, _, _ = trained
    with pytest.raises(InputError, match=r"a window of 2000 frames \(100.00 s at 20 Hz\) is "
                                         r"longer than every gap-free stretch"):
        train(fast_config(ds, window_frames=2000), tmp_path / "run")


def test_run_from_another_version_is_refused(trained, tmp_path):
    root, _, _, _ = trained
    old = tmp_path / "old"
    shutil.copytree(root / "run", old)
    meta = json.loads((old / "run.json").read_text())
    meta.update(format_version=99, musclekit_version="9.0.0")
    (old / "run.json").write_text(json.dumps(meta))
    with pytest.raises(InputError, match=r"run format version 99 \(written by musclekit "
                                         r"9.0.0\); this musclekit .* reads version 1 only"):
        evaluate_run(old)
    assert main(["evaluate", str(old)]) == 1


def test_checkpoint_channels_must_match_dataset(trained, tmp_path):
    root, _, _, _ = trained
    from musclekit.pipelines.train.synthetic import SyntheticSpec, write_synthetic_dataset

    other = write_synthetic_dataset(tmp_path / "other", SyntheticSpec(
        n_subjects=1, labels=("Squat",), seconds=10.0, n_muscles=2))
    with pytest.raises(InputError, match=r"the model's target channels do not match stream "
                                         r"'activations' .*2 of 4 are missing \(bflh_r, gasmed_r\)"):
        evaluate_run(root / "run", other)
    fewer_joints = write_synthetic_dataset(tmp_path / "joints", SyntheticSpec(
        n_subjects=1, labels=("Squat",), seconds=10.0, n_joints=3))
    with pytest.raises(InputError, match="input channels do not match"):
        predict_into(root / "run", fewer_joints)


def test_evaluate_on_another_dataset_uses_every_window(trained, tmp_path):
    root, _, _, _ = trained
    from musclekit.pipelines.train.synthetic import SyntheticSpec, write_synthetic_dataset

    other = write_synthetic_dataset(tmp_path / "other", SyntheticSpec(
        n_subjects=1, labels=("Squat",), seconds=20.0, seed=7))
    ev = evaluate_run(root / "run", other)
    overall = ev.overall()
    assert overall["mint"]["n_windows"] >= 10
    assert overall["mint"]["rmse"] < overall["retrieval"]["rmse"]


def test_subject_conditioning_needs_training_subjects(trained, tmp_path):
    _, ds, _, _ = trained
    cfg = fast_config(ds, condition_on_subject=True, split="leave-subject-out:S02")
    with pytest.raises(InputError, match="needs every test subject in the training split"):
        train(cfg, tmp_path / "run")
    cfg = fast_config(ds, condition_on_subject=True, model="lstm", width=8, layers=1,
                      max_steps=5, eval_every_steps=5)
    result = train(cfg, tmp_path / "run2")
    assert result.steps == 5
    assert evaluate_run(tmp_path / "run2").overall()["lstm"]["n_windows"] > 0


def test_cli_train_evaluate_predict(trained, tmp_path, capsys):
    _, ds, _, _ = trained
    run = tmp_path / "run"
    code = main(["train", str(ds), "--out", str(run), "--model", "lstm", "--width", "8",
                 "--layers", "1", "--window", "20", "--max-steps", "5", "--eval-every", "5"])
    assert code == 0
    assert (run / "report" / "report.md").is_file()
    assert main(["evaluate", str(run)]) == 0
    copy = tmp_path / "ds"
    shutil.copytree(ds, copy)
    assert main(["predict", str(run), str(copy), "--stream", "act_lstm"]) == 0
    assert "act_lstm" in open_dataset(copy).streams
    assert main(["train", str(ds), "--out", str(tmp_path / "r2"), "--model", "gru"]) == 1
    assert "invalid training option model='gru'" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path)]) == 1
    assert "is not a training run: run.json is missing" in capsys.readouterr().err


def test_edit_scales_a_muscle_and_decodes_motion(trained, tmp_path):
    root, ds, _, _ = trained
    decoder = tmp_path / "decoder"
    train(fast_config(ds, task="muscle-to-motion", model="lstm", width=16, layers=1,
                      rate_hz=20.0, max_steps=40, eval_every_steps=20), decoder)
    copy = tmp_path / "ds"
    shutil.copytree(ds, copy)
    from musclekit.pipelines.train.edit import edit_motion

    same = edit_motion(root / "run", decoder, copy, "recfem_r", 1.0, suffix="same")
    assert same.mean_abs_motion_change == pytest.approx(0.0, abs=1e-6)
    more = edit_motion(root / "run", decoder, copy, "recfem_r", 2.0)
    assert more.mean_abs_motion_change > 1e-4
    d = open_dataset(copy)
    assert d.streams["joint_angles_edited"].family == "joint_angles"
    assert d.streams["activations_edited"].family == "activations"
    with pytest.raises(InputError, match="muscle 'nope' is not a channel"):
        edit_motion(root / "run", decoder, copy, "nope", 2.0, suffix="x")
    with pytest.raises(InputError, match="decoder run .* is motion-to-muscle"):
        edit_motion(root / "run", root / "run", copy, "recfem_r", 2.0, suffix="x")
    args = ["edit", str(root / "run"), str(copy), "--decoder", str(decoder), "--scale", "1.5"]
    assert main(args + ["--muscle", "recfem_r", "--suffix", "cli"]) == 0
    assert "activations_cli" in open_dataset(copy).streams
    assert main(args + ["--muscle", "recfem_r", "--suffix", "cli"]) == 1
    assert main(args + ["--muscle", "nope", "--suffix", "cli2"]) == 1


def test_training_windows_are_clean_and_inside_one_split(trained):
    _, _, cfg, _ = trained
    prepared = prepare_data(cfg)
    L = cfg.window_frames
    starts = prepared.starts(TRAIN, stride=1)
    idx = starts[:, None] + np.arange(L)
    assert prepared.table.valid[idx].all()
    assert (prepared.codes[idx] == TRAIN).all()
    seq = prepared.table.sequence_index
    assert (seq[idx] == seq[starts][:, None]).all()
    assert (~prepared.table.valid).sum() > 0  # the dataset does have gaps


def test_checkpoint_that_does_not_fit_the_run_is_refused(trained, tmp_path):
    import torch

    root, _, _, _ = trained
    broken = tmp_path / "broken"
    shutil.copytree(root / "run", broken)
    state = torch.load(broken / "checkpoints" / "best.pt", weights_only=False)
    key = next(k for k in state["model"] if k.startswith("decode.weight"))
    state["model"][key] = state["model"][key][:2]  # a model with 2 output muscles, not 4
    torch.save(state, broken / "checkpoints" / "best.pt")
    with pytest.raises(InputError, match=r"checkpoint .*best.pt does not fit the model "
                                         r"described in .*run.json"):
        evaluate_run(broken)


def test_seeded_runs_are_reproducible(trained, tmp_path):
    _, ds, _, _ = trained
    cfg = fast_config(ds, model="lstm", width=8, layers=1, max_steps=10, eval_every_steps=5,
                      time_budget_s=None)
    train(cfg, tmp_path / "a")
    train(cfg, tmp_path / "b")

    def losses(run):
        return [line.split(",")[1:3] for line in
                (run / "history.csv").read_text().splitlines()[1:]]

    assert losses(tmp_path / "a") == losses(tmp_path / "b")


def test_early_stopping_when_validation_stalls(trained, tmp_path):
    _, ds, _, _ = trained
    cfg = fast_config(ds, model="lstm", width=8, layers=1, lr=1e-12, max_steps=200,
                      eval_every_steps=5, patience_evals=2, time_budget_s=None)
    result = train(cfg, tmp_path / "run")
    assert result.stopped == "early_stopping" and result.steps == 15
    assert result.best_step == 5


def test_resumed_run_matches_an_uninterrupted_one(trained, tmp_path):
    _, ds, _, _ = trained
    # 1518 training windows / 128 = 11 batches per epoch: the resumed part crosses an epoch
    cfg = fast_config(ds, model="mint", width=8, layers=1, heads=2, max_steps=16,
                      eval_every_steps=4, time_budget_s=None, batch_size=128)
    train(cfg, tmp_path / "straight")
    train(cfg.model_copy(update={"max_steps": 8}), tmp_path / "resumed")
    train(cfg, tmp_path / "resumed")

    def rows(run):
        return [line.split(",")[:3] for line in
                (run / "history.csv").read_text().splitlines()[1:]]

    assert rows(tmp_path / "straight") == rows(tmp_path / "resumed")


def test_channels_never_observed_are_left_out(tmp_path):
    """A backend that declares joints it never detects must not invalidate every window."""
    import numpy as np

    from musclekit.dataset import DatasetWriter, Provenance, SequenceInfo, StreamSpec, open_dataset
    from musclekit.pipelines.train.sources import choose_stream

    specs = [StreamSpec(name="kp", family="keypoints3d", rate_hz=10, channels=["Nose", "LSmallToe"]),
             StreamSpec(name="emg", family="semg", rate_hz=10, channels=["a"])]
    w = DatasetWriter.create_or_open(tmp_path / "d", streams=specs)
    values = np.random.default_rng(0).random((20, 2, 4))
    values[:, 1] = np.nan
    with w.unit("u", Provenance.for_stage("t")) as u:
        seq = SequenceInfo(id="s", subject_id="S")
        u.write_sequence("kp", seq, np.arange(20) / 10, values)
        u.write_sequence("emg", seq, np.arange(20) / 10, np.ones((20, 1)))
    choice = choose_stream(open_dataset(tmp_path / "d"), None, ("keypoints3d",), "input")
    assert choice.channels == ["Nose"]
