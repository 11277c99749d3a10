"""The bad-input campaign's judge (benchmarks/bad_inputs.py): what counts as a traceback, a
hang, a silent result, and a message that names no fix."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.benchmark_script import load_benchmark

ROOT = Path(__file__).resolve().parents[1]
bad_inputs = load_benchmark("bad_inputs")


def _case(expect: str = "error") -> object:
    return bad_inputs.Case("align", "x", ["align"], expect=expect)


def test_verdicts() -> None:
    judge = bad_inputs._judge
    assert judge(_case(), None, "", None, None)[0] == "hang"
    assert judge(_case(), 1, "Traceback (most recent call last):\n ValueError: x", None,
                 None)[0] == "traceback"
    assert judge(_case(), 0, "ok S01: 50 rows", None, None)[0] == "silent"
    assert judge(_case(), 0, "warning: odd rate", None, None)[0] == "exit-0-warn"
    assert judge(_case("either"), 0, "ok", None, None)[0] == "ok"
    assert judge(_case("ok"), 1, "error: x", None, None)[0] == "silent"
    assert judge(_case("either"), 0, "ok", True, False)[0] == "silent"  # broke the dataset
    assert judge(_case(), 1, "error: /x does not exist", None, None)[0] == "unnamed"
    assert judge(_case(), 1, "error: --fps 0: give a positive number", None, None)[0] == "ok"
    assert judge(_case(), 2, "Usage: musclekit align\nError: Invalid value for '--fps': 'abc' "
                 "is not a valid float.", None, None)[0] == "ok"


def test_table_counts_every_verdict() -> None:
    outcomes = [bad_inputs.Outcome(_case(), 1, 0.1, "", v) for v in ("ok", "ok", "hang")]
    text = bad_inputs.table(outcomes)
    assert "| align | 3 | 2 | 0 | 1 | 0 | 0 | 0 |" in text
