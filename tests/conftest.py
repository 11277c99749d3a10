"""Test-wide setup: a developer's own musclekit settings never leak into the tests."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def pytest_configure(config):
    # `musclekit config set ...` on this machine must not change what the tests see; tests
    # that exercise the config file point MUSCLEKIT_CONFIG at their own file.
    os.environ["MUSCLEKIT_CONFIG"] = str(Path(tempfile.mkdtemp(prefix="musclekit-test-config-"))
                                         / "config.toml")
    for var in ("MUSCLEKIT_DATASET", "MUSCLEKIT_RUNS"):
        os.environ.pop(var, None)
    # Prepared models go to the user's cache by default: the tests prepare into their own.
    os.environ["MUSCLEKIT_MODEL_CACHE"] = tempfile.mkdtemp(prefix="musclekit-test-models-")
