"""A writer killed with SIGKILL mid-write leaves nothing a reader accepts; rerunning completes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np

from musclekit.dataset import open_dataset
from musclekit.dataset.validate import validate_dataset

WRITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import numpy as np
    from musclekit.dataset import DatasetWriter, Provenance, SequenceInfo, StreamSpec

    root, marker, slow = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "slow"
    spec = StreamSpec(name="act", family="activations", rate_hz=50.0,
                      channels=[f"m{i}" for i in range(40)])
    w = DatasetWriter.create_or_open(root, name="crash", streams=[spec])
    for unit in range(3):
        uid = f"unit{unit}"
        if w.is_done(uid):
            continue
        with w.unit(uid, Provenance.for_stage("crash-test")) as u:
            for q in range(4):
                rng = np.random.default_rng(unit * 10 + q)
                seq = SequenceInfo(id=f"u{unit}q{q}", subject_id="S1")
                u.write_sequence("act", seq, np.arange(500) / 50.0, rng.random((500, 40)))
                if slow and unit == 1 and q == 1:
                    marker.write_text("mid-write")
                    time.sleep(60)
""")


def _run(root, marker, mode):
    return subprocess.Popen([sys.executable, "-c", WRITER, str(root), str(marker), mode])


def _snapshot(root):
    ds = open_dataset(root)
    return {s: ds.sequence_array("act", s).values for s in sorted(ds.sequence_ids("act"))}


def test_sigkill_mid_write_then_resume_equals_clean_run(tmp_path):
    root, marker = tmp_path / "killed", tmp_path / "marker"
    proc = _run(root, marker, "slow")
    deadline = time.time() + 60
    while not marker.exists():
        assert proc.poll() is None, "writer exited before reaching the kill point"
        assert time.time() < deadline
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    # Only the finished unit is visible; the half-written one is not accepted anywhere.
    ds = open_dataset(root)
    assert [r.unit_id for r in ds.records] == ["unit0"]
    assert sorted(ds.sequence_ids("act")) == [f"u0q{q}" for q in range(4)]
    assert ds.scan("act").collect().height == 4 * 500
    findings = validate_dataset(root)
    assert not [f for f in findings if f.level == "error"]
    assert any("temporary file of an unfinished write" in f.message for f in findings)

    # Rerunning the same command resumes and ends equal to a clean run.
    assert _run(root, marker, "fast").wait() == 0
    clean = tmp_path / "clean"
    assert _run(clean, marker, "fast").wait() == 0
    resumed, reference = _snapshot(root), _snapshot(clean)
    assert resumed.keys() == reference.keys() and len(resumed) == 12
    for key in reference:
        np.testing.assert_array_equal(resumed[key], reference[key])
    assert not [f for f in validate_dataset(root) if f.level == "error"]


def test_exception_inside_unit_leaves_no_files(tmp_path):
    from musclekit.dataset import DatasetWriter, Provenance, SequenceInfo, StreamSpec

    w = DatasetWriter.create_or_open(tmp_path / "d", streams=[
        StreamSpec(name="emg", family="semg", rate_hz=10, channels=["a"])])
    try:
        with w.unit("u", Provenance.for_stage("t")) as u:
            u.write_sequence("emg", SequenceInfo(id="s", subject_id="S"), np.arange(3) / 10,
                             np.zeros((3, 1)))
            raise RuntimeError("solver crashed")
    except RuntimeError:
        pass
    assert not [p for p in (tmp_path / "d" / "data").rglob("*") if p.is_file()]
    assert not w.is_done("u")
