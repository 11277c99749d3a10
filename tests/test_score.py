"""`musclekit score`: the measures on a squat made to slide, float or sink; the hooks into
inspect/validate; bad inputs with the messages users read."""

from __future__ import annotations

import json

import numpy as np
import pytest

from musclekit import open_dataset
from musclekit.cli.main import main
from musclekit.pipelines.score import metrics, score_dataset, score_warnings
from tests.helpers.score_fixtures import write_squat_dataset


@pytest.fixture(scope="module")
def squats(tmp_path_factory):
    return write_squat_dataset(tmp_path_factory.mktemp("score") / "ds",
                               ("planted", "slide", "float", "sink"))


def _flags(ds_path):
    return {r.sequence_id: {s.name for s in r.flagged()}
            for r in score_dataset(open_dataset(ds_path))}


def test_planted_squat_is_clean_and_the_made_up_ones_are_flagged(squats):
    flags = _flags(squats)
    assert flags["S01_planted"] == set()
    assert "foot_sliding" in flags["S01_slide"]
    assert flags["S01_float"] == {"floating"}
    assert flags["S01_sink"] == {"penetration"}


def test_values_and_not_applicable_reasons(squats):
    scores = {r.sequence_id: r.scores for r in score_dataset(open_dataset(squats))}
    slide = scores["S01_slide"]["foot_sliding"]
    assert slide.value == pytest.approx(0.5, abs=0.02) and slide.unit == "m/s"
    assert scores["S01_sink"]["penetration"].value == pytest.approx(0.06, abs=0.005)
    assert scores["S01_planted"]["residual_force"].value == pytest.approx(
        100 * np.hypot(2, 5) / (70 * 9.80665), rel=0.05)
    com = scores["S01_planted"]["com_outside_bos"]
    assert com.value is None and "OpenSim model" in com.note


def test_score_command_json_and_strict(squats, capsys):
    assert main(["score", str(squats), "--json", "-s", "S01_planted"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["sequence"] for r in out] == ["S01_planted"]
    assert out[0]["scores"]["floating"]["flagged"] is False
    assert main(["score", str(squats), "--strict"]) == 1
    assert "S01_slide: the planted foot slides" in capsys.readouterr().err


def test_flags_reach_validate_strict_and_inspect(squats, capsys):
    assert main(["validate", str(squats), "--strict", "--no-hashes"]) == 1
    err = capsys.readouterr().err
    assert "quality (score_floating): S01_float" in err
    assert "S01_planted" not in err
    kinds = {w.kind for w in score_warnings(open_dataset(squats))}
    assert {"score_foot_sliding", "score_floating", "score_penetration"} <= kinds
    main(["inspect", str(squats)])
    assert "the feet go 6.0 cm below the floor" in capsys.readouterr().err


def test_symmetry_coactivation_and_hull_helpers():
    t = np.linspace(0, 1, 50)
    assert metrics.symmetry_index_pct(np.sin(6 * t), np.sin(6 * t)) == 0
    assert metrics.symmetry_index_pct(np.sin(6 * t), 0.5 * np.sin(6 * t)) == pytest.approx(
        66.7, abs=0.5)
    assert np.isnan(metrics.symmetry_index_pct(0.01 * t, 0.02 * t))  # below 10 degrees
    assert metrics.coactivation_pct(np.full(5, 0.5), np.full(5, 0.5)) == pytest.approx(100)
    square = metrics._hull(np.array([[0, 0], [1, 0], [1, 1], [0, 1], [0.5, 0.5]]))
    assert len(square) == 4
    assert metrics.distance_outside(np.array([0.5, 0.5]), square) == 0
    assert metrics.distance_outside(np.array([2.0, 0.5]), square) == pytest.approx(1.0)


def test_bad_inputs(tmp_path, squats, capsys):
    assert main(["score", str(tmp_path / "nowhere")]) == 1
    assert f"dataset {tmp_path / 'nowhere'} does not exist" in capsys.readouterr().err
    assert main(["score", str(squats), "-s", "S09_jump"]) == 1
    err = capsys.readouterr().err
    assert "sequence 'S09_jump' is not in" in err and "S01_planted" in err


def test_a_dataset_without_motion_streams_is_not_applicable(tmp_path):
    from tests.helpers.format_factories import write_emg_dataset

    ds = open_dataset(write_emg_dataset(tmp_path / "emg"))
    result = score_dataset(ds)[0]
    assert not result.flagged()
    assert result.scores["foot_sliding"].note.startswith("no markers stream")
    assert result.scores["saturation"].note == "no activations stream"


def test_centre_of_mass_from_the_posed_model(tmp_path):
    from tests.helpers.score_fixtures import rajagopal_model

    if rajagopal_model() is None:
        pytest.skip("nimblephysics' Rajagopal2015 model is not installed")
    ds = open_dataset(write_squat_dataset(tmp_path / "ds", ("planted",), n=40, with_model=True))
    com = score_dataset(ds)[0].scores["com_outside_bos"]
    assert com.value is not None and not com.flagged, com
