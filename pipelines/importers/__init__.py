"""Importers: existing datasets and capture sessions into the musclekit format.

One module per kind (`mint`, `addbiomechanics`, `opencap`, `mia`), each with a
`import_source(src, out, options) -> ImportResult`; `import_dataset` picks it by name. Every
kind maps its files onto the unified schema (streams with channel names, SI units and
rates, subjects, sequences with labels, splits where the source defines them, explicit
gaps, provenance naming the source format's version), so `train`, `inspect`, `validate`
and the viewer work on the result unchanged. One sequence (or trial, or clip folder) is
one unit of work: rerunning the same import skips what is done. See docs/import.md.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from musclekit.errors import InputError
from musclekit.pipelines.importers.common import ImportOptions, ImportResult

KINDS: dict[str, str] = {
    "mint": "Muscles in Time (musint 0.3.0 layout): per-sequence pickled DataFrames + metadata CSV",
    "addbiomechanics": "AddBiomechanics .b3d files (nimblephysics SubjectOnDisk, B3D v1)",
    "opencap": "an OpenCap session folder (markers, scaled model, metadata, kinematics)",
    "mia": "Muscles in Action clip folders ({train,val}/SubjectN/Exercise/clip/*.npy)",
}

__all__ = ["KINDS", "ImportOptions", "ImportResult", "import_dataset"]


def import_dataset(kind: str, src: str | Path, out: str | Path,
                   options: ImportOptions | None = None) -> ImportResult:
    """Import `src` (a file or folder in format `kind`) into the dataset folder `out`."""
    if kind not in KINDS:
        raise InputError(f"unknown import kind {kind!r}: use one of {', '.join(KINDS)}")
    module = importlib.import_module(f"musclekit.pipelines.importers.{kind}")
    return module.import_source(Path(src), Path(out), options or ImportOptions())
