"""A wheel built from the source tree holds every file the installed package reads.

The editable install the tests run under reads files straight from the source folders, so
a data file left out of the wheel's package-data passes every other test and breaks only a
user's `pip install` (it happened: simulate's marker set was missing from wheels).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# source folder -> its import name inside the wheel (pyproject's package-dir)
PACKAGE_DIRS = {"musclekit": "musclekit", "pipelines": "musclekit/pipelines",
                "cli": "musclekit/cli", "schemas": "musclekit/schemas"}


def _source_files() -> dict[str, str]:
    """Every file the package owns: wheel path -> source path (no caches, no notebooks)."""
    files = {}
    for src, dest in PACKAGE_DIRS.items():
        for path in (ROOT / src).rglob("*"):
            if path.is_dir() or "__pycache__" in path.parts or path.suffix == ".pyc":
                continue
            files[f"{dest}/{path.relative_to(ROOT / src).as_posix()}"] = str(path)
    return files


def test_wheel_holds_every_package_file(tmp_path: Path) -> None:
    pytest.importorskip("setuptools.command.bdist_wheel",
                        reason="needs setuptools >= 70.1 (bdist_wheel built in)")
    # Build from a copy (an in-tree build leaves build/ and *.egg-info in the checkout) of
    # what a user's checkout holds: setup.py's package discovery takes part.
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".git", "build", "*.egg-info", "__pycache__", ".venv", ".pytest_cache", ".ruff_cache",
        "docs", "benchmarks", "tests"))
    out = tmp_path / "wheel"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--wheel-dir", str(out), str(src)],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    (wheel,) = out.glob("musclekit-*.whl")
    with zipfile.ZipFile(wheel) as z:
        shipped = set(z.namelist())
    missing = sorted(set(_source_files()) - shipped)
    assert not missing, f"files the wheel leaves out (add them to package-data): {missing}"
