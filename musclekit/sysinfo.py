"""Versions of everything musclekit depends on, for bug reports (`musclekit info`)."""

from __future__ import annotations

import os
import platform
from importlib import metadata

from musclekit._version import __version__

PACKAGES = ("numpy", "scipy", "pandas", "pyarrow", "polars", "opensim", "torch", "dask",
            "distributed", "smplx", "nimblephysics", "av", "mediapipe", "typer", "pydantic")


def package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def system_info() -> dict[str, str | None]:
    info: dict[str, str | None] = {
        "musclekit": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": str(os.cpu_count()),
    }
    for name in PACKAGES:
        info[name] = package_version(name)
    return info
