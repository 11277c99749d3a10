"""Process hygiene: child processes that die with their parent, per-unit locks, and the
temporary files of killed processes.

- `die_with_parent()` is called first thing in every helper process musclekit starts (a
  chunk's solver, its NLP child): on Linux the kernel sends it SIGKILL when the process that
  started it dies (prctl PR_SET_PDEATHSIG), however that one died (SIGKILL, OOM killer, a
  cancelled batch job). The parent's pid travels in MUSCLEKIT_PARENT_PID so that a parent
  that died before the call is noticed too.
- `UnitLock` is an exclusive lock (fcntl.flock) on a file next to a unit's result: two runs
  of the same command never work on the same unit at once; the second waits, and the lock
  goes away with the process (and its children holding the descriptor), never stale.
- `is_stale(pid, host)`: a temporary name left by a process of this machine that no longer
  runs. Names made on other machines (a shared filesystem on a cluster) are never judged.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import hashlib
import os
import re
import signal
import socket
import sys
import time
from pathlib import Path

PARENT_ENV = "MUSCLEKIT_PARENT_PID"
_PR_SET_PDEATHSIG = 1


def host_tag() -> str:
    """Eight hex digits naming this machine, for temporary names (hostnames may hold '-')."""
    return hashlib.sha1(socket.gethostname().encode()).hexdigest()[:8]


def pid_alive(pid: int) -> bool:
    """True when a process `pid` exists on this machine (whoever owns it)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError as err:
        return err.errno != errno.ESRCH
    return True


def is_stale(pid: int, host: str | None = None) -> bool:
    """A temporary name of process `pid` (made on `host`, a `host_tag()`; None: this machine)
    is stale when that process no longer runs. Another machine's names are never stale here."""
    if host is not None and host != host_tag():
        return False
    return pid != os.getpid() and not pid_alive(pid)


def child_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """`env` (default: this environment) with this process recorded as the parent."""
    out = dict(os.environ if env is None else env)
    out[PARENT_ENV] = str(os.getpid())
    return out


def python_module_cmd(module: str, *args: str) -> list[str]:
    """The command line that runs `module` (`python -m`) in a child of this interpreter.

    `-P` keeps the working directory off the child's import path: plain `python -m` puts it
    first, so a run started inside a folder holding another `musclekit/` (a checkout, a
    snapshot of an older commit) had its solver children import that code while the parent
    ran the installed one. PYTHONPATH and the installed packages still apply."""
    return [sys.executable, "-P", "-m", module, *args]


def die_with_parent(sig: int = signal.SIGKILL) -> None:
    """Have the kernel send `sig` to this process when its parent dies (Linux; elsewhere a
    no-op). Exits at once when the parent named in MUSCLEKIT_PARENT_PID is already gone."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        except (OSError, AttributeError):
            pass
    expected = os.environ.get(PARENT_ENV)
    if expected and expected.isdigit() and os.getppid() != int(expected):
        # The parent died between fork and prctl: we were re-parented already.
        os._exit(128 + int(sig))


def dask_setup(worker=None) -> None:
    """Dask preload hook (`preload=["musclekit.process"]`): a local worker process dies with
    the process that started it, also while a native call (OpenSim through SWIG) holds the
    GIL, which keeps Dask's own parent watch (a Python thread) from running for minutes."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):
            pass


class UnitLock:
    """An exclusive lock on `path` (created if needed); the holder's pid is written into it.

    `acquire(wait=True)` blocks until free; `on_wait(holder_pid)` is called once before
    blocking. `fd` can be handed to a child (Popen pass_fds) so that the lock is held until
    the child exits too.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.fd: int | None = None
        self.waited_s = 0.0

    def holder(self) -> int | None:
        try:
            text = self.path.read_text().strip()
        except OSError:
            return None
        return int(text) if text.isdigit() else None

    def acquire(self, wait: bool = True, on_wait=None) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait:
                os.close(fd)
                return False
            if on_wait is not None:
                on_wait(self.holder())
            start = time.monotonic()
            fcntl.flock(fd, fcntl.LOCK_EX)
            self.waited_s = time.monotonic() - start
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        os.set_inheritable(fd, True)
        self.fd = fd
        return True

    def release(self) -> None:
        if self.fd is not None:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_UN)
            finally:
                os.close(self.fd)
                self.fd = None

    def __enter__(self) -> UnitLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


_TEMP_DIR = re.compile(r"\.tmp(\d+)(?:\.([0-9a-f]{8}))?$")


def temp_dir_name(final: str) -> str:
    """The name of a temporary folder that becomes `final` by one rename."""
    return f"{final}.tmp{os.getpid()}.{host_tag()}"


def remove_stale_temp_dirs(parent: Path) -> list[Path]:
    """Delete the folders in `parent` named by `temp_dir_name` whose process (on this
    machine) no longer runs: what a killed preparation left. Returns them."""
    import shutil

    removed = []
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return removed
    for entry in entries:
        m = _TEMP_DIR.search(entry.name)
        if m and entry.is_dir(follow_symlinks=False) and is_stale(int(m.group(1)), m.group(2)):
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(Path(entry.path))
    return removed
