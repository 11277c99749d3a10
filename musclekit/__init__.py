"""musclekit: human-motion recordings to muscle-activation datasets, and models trained on them.

The dataset format is the spine: `open_dataset` reads any dataset a stage wrote,
`DatasetWriter` writes one. Stages live in `musclekit.pipelines`, the command line in
`musclekit.cli`. See docs/architecture.md.
"""

from musclekit._version import __version__
from musclekit.dataset import DatasetWriter, Flag, StreamSpec, open_dataset

__all__ = ["DatasetWriter", "Flag", "StreamSpec", "__version__", "open_dataset"]
