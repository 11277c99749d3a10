"""musclekit: human-motion recordings to muscle-activation datasets, and models trained on them.

The dataset format is the spine: `open_dataset` reads any dataset a stage wrote,
`DatasetWriter` writes one. Stages live in `musclekit.pipelines`, the command line in
`musclekit.cli`. See docs/architecture.md.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from musclekit._version import __version__

if TYPE_CHECKING:
    from musclekit.dataset import DatasetWriter, Flag, StreamSpec, open_dataset

__all__ = ["DatasetWriter", "Flag", "StreamSpec", "__version__", "open_dataset"]


def __getattr__(name: str) -> Any:
    # The dataset layer (pandas, polars, pyarrow: ~1 s to import) loads on first use, not
    # with the package: solver child processes import a submodule once per track round.
    if name in __all__:
        value = getattr(import_module("musclekit.dataset"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'musclekit' has no attribute {name!r}")
