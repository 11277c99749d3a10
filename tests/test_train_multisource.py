"""Multi-source training (issue 23, HDyS's point): `train DS1 DS2 ...` trains on several
datasets at once, reports metrics per source, and `--split leave-source-out:NAME` holds one
dataset out."""

from __future__ import annotations

import csv

import pytest

from musclekit.cli.main import main
from musclekit.errors import InputError
from musclekit.pipelines.train.multi import dataset_paths, load_sources
from musclekit.pipelines.train.splits import TEST, SplitSpec, assign_splits
from musclekit.pipelines.train.synthetic import SyntheticSpec, write_synthetic_dataset

SMALL = dict(n_subjects=2, seconds=8.0, gaps_per_sequence=1, input_rate_hz=20.0,
             target_rate_hz=10.0)
TRAIN = ["--model", "lstm", "--width", "16", "--layers", "1", "--max-steps", "8",
         "--eval-every", "4", "--device", "cpu", "--threads", "1", "--window", "10",
         "--batch-size", "16"]


@pytest.fixture(scope="module")
def two(tmp_path_factory):
    root = tmp_path_factory.mktemp("multi")
    a = write_synthetic_dataset(root / "lab_a", SyntheticSpec(seed=1, **SMALL))
    b = write_synthetic_dataset(root / "lab_b", SyntheticSpec(seed=2, n_muscles=5, **SMALL))
    return root, a, b


def _rows(run):
    with (run / "report" / "metrics.csv").open() as fh:
        return list(csv.DictReader(fh))


def test_sources_stack_with_shared_channels_and_prefixed_ids(two):
    _, a, b = two
    table, inputs, targets = load_sources(dataset_paths(str(a), [str(b)]), None, None, None,
                                          None, "motion-to-muscle", None, False)
    assert set(table.sources) == {"lab_a", "lab_b"}
    assert len(targets.channels) == 4  # lab_b's fifth muscle is not in lab_a
    assert all(s.startswith(("lab_a:", "lab_b:")) for s in table.sequence_ids)
    assert len(set(table.sequence_ids)) == len(table.sequence_ids)
    codes = assign_splits(table, SplitSpec.parse("leave-source-out:lab_b"), 10)
    for i, src in enumerate(table.sources):
        held = codes[table.sequence_slice(i)] == TEST
        assert held.all() if src == "lab_b" else not held.any()


def test_train_on_two_datasets_reports_each_source(two):
    root, a, b = two
    assert main(["-q", "train", str(a), str(b), "--out", str(root / "run"), *TRAIN]) == 0
    rows = _rows(root / "run")
    per_source = {(r["model"], r["key"]) for r in rows if r["scope"] == "source"}
    assert ("lstm", "lab_a") in per_source and ("lstm", "lab_b") in per_source
    assert ("retrieval", "lab_b") in per_source
    assert "Per source dataset" in (root / "run" / "report" / "report.md").read_text()
    # evaluate again from the run folder alone: the same datasets, the same split
    assert main(["-q", "evaluate", str(root / "run")]) == 0


def test_leave_one_dataset_out(two):
    root, a, b = two
    run = root / "lodo"
    assert main(["-q", "train", str(a), str(b), "--out", str(run),
                 "--split", "leave-source-out:lab_a", *TRAIN]) == 0
    overall = [r for r in _rows(run) if r["scope"] == "overall" and r["model"] == "lstm"]
    assert overall and not [r for r in _rows(run) if r["scope"] == "source"]  # one source


def test_bad_multi_source_inputs(two, tmp_path):
    root, a, b = two
    with pytest.raises(InputError, match="distinct folder names"):
        dataset_paths(str(a), [str(a)])
    assert main(["-q", "train", str(a), str(b), "--out", str(tmp_path / "r"),
                 "--split", "leave-source-out:lab_c", *TRAIN]) != 0
    with pytest.raises(InputError, match="leave-source-out:SOURCE"):
        SplitSpec.parse("leave-source-out")
