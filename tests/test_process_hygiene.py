"""Crash hygiene with real SIGKILLs: helper processes die with their parent, a chunk is never
solved twice at once, killed writes leave nothing a rerun trips over, a half-created dataset
resumes, a damaged unit is redone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from musclekit.dataset import DatasetWriter, Provenance, SequenceInfo
from musclekit.dataset.atomic import temp_owner, temp_sibling
from musclekit.dataset.integrity import dataset_damage
from musclekit.process import (
    UnitLock,
    child_env,
    host_tag,
    is_stale,
    python_module_cmd,
    remove_stale_temp_dirs,
    temp_dir_name,
)
from tests.helpers.format_factories import emg_spec, write_emg_dataset  # noqa: I001


def _dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _wait_gone(pids: list[int], timeout_s: float = 10.0) -> list[int]:
    """The pids still running (zombies count as gone) after up to `timeout_s`."""
    end = time.monotonic() + timeout_s
    alive = list(pids)
    while alive and time.monotonic() < end:
        alive = [p for p in alive if psutil.pid_exists(p)
                 and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
        time.sleep(0.05)
    return alive


# A parent that starts a child the way musclekit does (child_env + die_with_parent in the
# child), prints the child's pid and sleeps until killed.
PARENT = textwrap.dedent("""
    import subprocess, sys, time
    from musclekit.process import child_env
    child = subprocess.Popen([sys.executable, "-c",
        "from musclekit.process import die_with_parent; die_with_parent(); "
        "import time; time.sleep(120)"], env=child_env(), start_new_session=True)
    print(child.pid, flush=True)
    time.sleep(120)
""")


def test_a_child_in_its_own_session_dies_with_its_killed_parent():
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    time.sleep(0.5)  # the child has called die_with_parent
    assert psutil.pid_exists(child)
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    assert _wait_gone([child]) == []


def test_a_child_whose_parent_died_before_it_started_exits_at_once():
    env = child_env()
    env["MUSCLEKIT_PARENT_PID"] = str(_dead_pid())
    done = subprocess.run([sys.executable, "-c", "from musclekit.process import die_with_parent;"
                           " die_with_parent(); import time; time.sleep(60)"],
                          env=env, timeout=30)
    assert done.returncode == 128 + signal.SIGKILL


def test_unit_lock_makes_the_second_taker_wait_and_names_the_holder(tmp_path: Path):
    lock_file = tmp_path / "chunk0000.lock"
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        from musclekit.process import UnitLock
        lock = UnitLock({str(lock_file)!r}); lock.acquire()
        print("held", flush=True); time.sleep(1.0)
    """)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    seen = []
    lock = UnitLock(lock_file)
    assert not lock.acquire(wait=False)
    lock.acquire(on_wait=seen.append)
    try:
        assert seen == [holder.pid] and lock.waited_s > 0.3
    finally:
        lock.release()
        holder.wait()


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path):
    lock_file = tmp_path / "u.lock"
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        from musclekit.process import UnitLock
        UnitLock({str(lock_file)!r}).acquire(); print("held", flush=True); time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    lock = UnitLock(lock_file)
    assert lock.acquire(wait=False)
    lock.release()


def test_stale_is_judged_only_for_this_machine():
    dead = _dead_pid()
    assert is_stale(dead) and is_stale(dead, host_tag())
    assert not is_stale(os.getpid()) and not is_stale(os.getppid())
    assert not is_stale(dead, "0badc0de" if host_tag() != "0badc0de" else "deadbeef")


def test_killed_preparations_folders_are_removed(tmp_path: Path):
    dead, other = _dead_pid(), "0badc0de" if host_tag() != "0badc0de" else "deadbeef"
    stale = tmp_path / f"abc.tmp{dead}.{host_tag()}"
    old_style = tmp_path / f"abd.tmp{dead}"  # named before the host tag was added
    live = tmp_path / temp_dir_name("abe")
    elsewhere = tmp_path / f"abf.tmp{dead}.{other}"
    done = tmp_path / "abc"
    for d in (stale, old_style, live, elsewhere, done):
        (d / "paths").mkdir(parents=True)
    assert sorted(remove_stale_temp_dirs(tmp_path)) == sorted([stale, old_style])
    assert live.is_dir() and elsewhere.is_dir() and done.is_dir()


def test_killed_shard_write_is_cleaned_by_the_rerun(tmp_path: Path, capsys):
    """SIGKILL a writer between writing its shard and committing it; the rerun removes the
    temporary shard, says so, and the unit is written."""
    root = tmp_path / "ds"
    writer = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time, numpy as np
        sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r})  # the repository: tests.helpers
        from tests.helpers.format_factories import emg_spec
        from musclekit.dataset import DatasetWriter, Provenance, SequenceInfo
        w = DatasetWriter.create_or_open({str(root)!r}, streams=[emg_spec()])
        unit = w.unit("u0", Provenance.for_stage("test"))
        unit.write_sequence("emg", SequenceInfo(id="s0", subject_id="S01"),
                            np.arange(30) / 10.0, np.zeros((30, 3)))
        print("written", flush=True); time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True)
    assert writer.stdout.readline().strip() == "written"
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    leftovers = list((root / "data" / "emg").glob(".tmp-*"))
    assert len(leftovers) == 1 and temp_owner(leftovers[0].name) == (writer.pid, host_tag())
    capsys.readouterr()
    ds = DatasetWriter.create_or_open(root, streams=[emg_spec()])
    assert "ds: removed 1 temporary file(s) of writes that were killed" in capsys.readouterr().err
    assert not list((root / "data" / "emg").glob(".tmp-*"))
    assert not ds.is_done("u0")


def test_live_writers_temp_files_are_kept(tmp_path: Path):
    root = write_emg_dataset(tmp_path / "ds")
    mine = temp_sibling(root / "data" / "emg" / "u1.parquet")
    mine.write_bytes(b"in progress")
    DatasetWriter.create_or_open(root)
    assert mine.exists()


def test_dataset_whose_creation_was_killed_is_resumed(tmp_path: Path):
    """A kill between the lock file and meta/info.json used to leave a folder the same
    command refused ("not a musclekit dataset")."""
    root = tmp_path / "ds"
    (root / "meta").mkdir(parents=True)
    (root / "meta" / ".lock").touch()
    (root / "meta" / f".tmp-{_dead_pid()}.{host_tag()}-info.json").write_text("{")
    (root / "qc").mkdir()  # a stage may have written its own files already
    writer = DatasetWriter.create_or_open(root, name="ds", streams=[emg_spec()])
    assert (root / "meta" / "info.json").is_file() and "emg" in writer.info.streams
    assert [p.name for p in (root / "meta").iterdir() if p.name.startswith(".tmp")] == []


def test_a_foreign_folder_is_still_refused(tmp_path: Path):
    from musclekit.errors import FormatError

    root = tmp_path / "photos"
    root.mkdir()
    (root / "img.jpg").write_bytes(b"x")
    with pytest.raises(FormatError, match=r"photos is a non-empty folder that is not a musclekit "
                                          r"dataset \(no meta/info.json\); choose an empty or "
                                          r"new --out folder"):
        DatasetWriter.create_or_open(root)


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def test_a_unit_whose_shard_fails_its_checksum_is_redone(tmp_path: Path, capsys):
    root = write_emg_dataset(tmp_path / "ds")
    shard = root / "data" / "emg" / "u0.parquet"
    writer = DatasetWriter.create_or_open(root)
    assert writer.is_done("u0")
    _flip_a_byte(shard)  # same size: only the checksum can tell
    capsys.readouterr()
    assert not writer.is_done("u0")
    assert ("redoing unit u0: data/emg/u0.parquet fails its SHA-256 checksum (changed or "
            "corrupted on disk)") in " ".join(capsys.readouterr().err.split())
    [damage] = dataset_damage(root)
    assert (damage.unit_id, damage.path, damage.problem) == ("u0", "data/emg/u0.parquet",
                                                            "checksum")
    write_emg_dataset(root)  # the stage's rerun: the unit is written again
    assert writer.is_done("u0") and dataset_damage(root) == []


def test_a_truncated_shard_is_redone(tmp_path: Path, capsys):
    root = write_emg_dataset(tmp_path / "ds")
    shard = root / "data" / "emg" / "u0.parquet"
    shard.write_bytes(shard.read_bytes()[:100])
    assert not DatasetWriter.create_or_open(root).is_done("u0")
    assert "data/emg/u0.parquet has 100 bytes, its record says" in capsys.readouterr().err


def test_sequence_info_survives_the_redo(tmp_path: Path):
    root = write_emg_dataset(tmp_path / "ds")
    _flip_a_byte(root / "data" / "emg" / "u0.parquet")
    write_emg_dataset(root)
    from musclekit.dataset import open_dataset

    ds = open_dataset(root)
    assert sorted(ds.sequences) == ["seq0", "seq1"]
    assert ds.sequence_array("emg", "seq0").values.shape == (30, 3)


def test_provenance_helper_is_usable():
    # Guards the subprocess writer above against an API change.
    assert Provenance.for_stage("test").stage == "test"
    assert SequenceInfo(id="s", subject_id="S01").id == "s"


def test_inspect_shows_a_damaged_unit(tmp_path: Path):
    root = write_emg_dataset(tmp_path / "ds")
    _flip_a_byte(root / "data" / "emg" / "u0.parquet")
    done = subprocess.run([sys.executable, "-m", "musclekit.cli.main", "inspect", str(root)],
                          capture_output=True, text=True, timeout=120)
    text = " ".join((done.stdout + done.stderr).split())
    assert ("damaged: unit u0: data/emg/u0.parquet fails its SHA-256 checksum (changed or "
            "corrupted on disk); rerun the stage that wrote it to redo the unit") in text, text


# A run whose one unit sits in a native call that holds the GIL (as OpenSim's SWIG calls do)
# for a minute: Dask's own parent watch, a Python thread, cannot run meanwhile.
STUCK_RUN = textwrap.dedent("""
    import ctypes, os, sys
    from musclekit.compute import ComputeConfig, Unit, run_units

    def stuck(marker):
        open(marker, "w").write(str(os.getpid()))
        ctypes.PyDLL(None).sleep(60)  # PyDLL: the GIL stays held

    run_units([Unit("u", sys.argv[1])], stuck, ComputeConfig(workers=1))
""")


@pytest.mark.timeout(120)
def test_local_dask_worker_dies_with_a_killed_run_even_inside_a_native_call(tmp_path: Path):
    marker = tmp_path / "worker-pid"
    run = subprocess.Popen([sys.executable, "-c", STUCK_RUN, str(marker)],
                           stderr=subprocess.DEVNULL)
    end = time.monotonic() + 60
    while not (marker.exists() and marker.read_text()) and time.monotonic() < end:
        time.sleep(0.1)
    worker = int(marker.read_text())
    time.sleep(0.5)  # inside the native call
    os.kill(run.pid, signal.SIGKILL)
    run.wait()
    assert _wait_gone([worker], timeout_s=5) == []


def test_solver_children_import_the_installed_code_not_the_working_directorys(
        tmp_path: Path) -> None:
    # A run started inside a folder holding another `musclekit/` (a checkout, an old
    # snapshot): plain `python -m` would import that folder's code in the children.
    shadow = tmp_path / "musclekit"
    shadow.mkdir()
    (shadow / "__init__.py").write_text("raise ImportError('the working directory won')\n")
    module = "musclekit.errors"
    plain = subprocess.run([sys.executable, "-m", module], cwd=tmp_path, capture_output=True,
                           text=True, timeout=60)
    assert plain.returncode != 0 and "the working directory won" in plain.stderr
    ours = subprocess.run(python_module_cmd(module), cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert ours.returncode == 0, ours.stderr
