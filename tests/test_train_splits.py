"""Train / val / test splits on frame tables."""

import json

import numpy as np
import pytest

from musclekit.errors import InputError
from musclekit.pipelines.train.splits import TEST, TRAIN, VAL, SplitSpec, assign_splits
from musclekit.pipelines.train.table import Clip
from tests.helpers.train_fixtures import table_from_arrays


def _table():
    # 2 subjects x 2 exercises, 100 frames each -> 10 blocks of 10 frames per pair
    return table_from_arrays([100] * 4, ["S1", "S1", "S2", "S2"], ["Squat", "Run"] * 2)


def test_random_split_is_per_subject_and_exercise_and_seeded():
    table = _table()
    codes = assign_splits(table, SplitSpec(test_fraction=0.2, val_fraction=0.1, seed=3), 10)
    for i in range(4):
        c = codes[table.sequence_slice(i)].reshape(10, 10)
        assert (c == c[:, :1]).all()  # whole blocks
        assert (c[:, 0] == TEST).sum() == 2  # 20 % of the 10 blocks of this pair
        assert (c[:, 0] == VAL).sum() == 1  # 10 % of the 8 remaining, rounded
    again = assign_splits(table, SplitSpec(test_fraction=0.2, val_fraction=0.1, seed=3), 10)
    other = assign_splits(table, SplitSpec(test_fraction=0.2, val_fraction=0.1, seed=4), 10)
    assert np.array_equal(codes, again) and not np.array_equal(codes, other)


def test_leave_one_out_splits():
    table = _table()
    codes = assign_splits(table, SplitSpec.parse("leave-subject-out:S2"), 10)
    assert (codes[200:] == TEST).all() and not (codes[:200] == TEST).any()
    assert (codes[:200] == VAL).any() and (codes[:200] == TRAIN).any()
    codes = assign_splits(table, SplitSpec.parse("leave-exercise-out:Run"), 10)
    assert (codes[100:200] == TEST).all() and (codes[300:] == TEST).all()
    assert not (codes[:100] == TEST).any()


def test_split_file_json_and_csv(tmp_path):
    table = _table()
    f = tmp_path / "split.json"
    f.write_text(json.dumps({"train": ["seq0", "seq1"], "val": ["seq2"], "test": ["seq3"]}))
    codes = assign_splits(table, SplitSpec.parse(f"file:{f}"), 10)
    assert (codes[:200] == TRAIN).all() and (codes[200:300] == VAL).all()
    assert (codes[300:] == TEST).all()
    c = tmp_path / "split.csv"
    c.write_text("sequence_id,split\nseq0,train\nseq3,test\n")
    codes = assign_splits(table, SplitSpec.parse(f"file:{c}"), 10)
    assert (codes[300:] == TEST).all() and (codes[100:300] == 0).all()
    assert (codes[:100] == VAL).any()  # validation carved from training blocks


def test_clip_split_from_align():
    table = _table()
    table.clips[0] = [Clip(0.0, 2.9, "train"), Clip(3.0, 5.9, "test")]
    codes = assign_splits(table, SplitSpec.parse("clips"), 10)
    assert (codes[30:60] == TEST).all()
    assert set(np.unique(codes[:30]).tolist()) <= {TRAIN, VAL}
    assert (codes[60:] == 0).all()


@pytest.mark.parametrize("text, message", [
    ("bogus", "unknown split 'bogus'"),
    ("leave-subject-out", "needs a value: write leave-subject-out:SUBJECT"),
    ("file", "needs a value: write file:PATH"),
])
def test_bad_split_names(text, message):
    with pytest.raises(InputError, match=message):
        SplitSpec.parse(text)


def test_bad_split_values(tmp_path):
    table = _table()
    with pytest.raises(InputError, match=r"no sequence has subject 'S9'; the dataset has \['S1', 'S2'\]"):
        assign_splits(table, SplitSpec.parse("leave-subject-out:S9"), 10)
    with pytest.raises(InputError, match="no sequence has extra\\['clips'\\]"):
        assign_splits(table, SplitSpec.parse("clips"), 10)
    bad = tmp_path / "s.json"
    bad.write_text('{"train": ["seq0", "nope"]}')
    with pytest.raises(InputError, match="sequence ids not in the dataset: \\['nope'\\]"):
        assign_splits(table, SplitSpec.parse(f"file:{bad}"), 10)
    bad.write_text('{"train": [')
    with pytest.raises(InputError, match="invalid JSON at line 1"):
        assign_splits(table, SplitSpec.parse(f"file:{bad}"), 10)
    csv = tmp_path / "s.csv"
    csv.write_text("sequence_id,split\nseq0,holdout\n")
    with pytest.raises(InputError, match="line 2: split 'holdout' is not one of train, val, test"):
        assign_splits(table, SplitSpec.parse(f"file:{csv}"), 10)
    with pytest.raises(InputError, match="does not exist"):
        assign_splits(table, SplitSpec.parse(f"file:{tmp_path / 'missing.json'}"), 10)
