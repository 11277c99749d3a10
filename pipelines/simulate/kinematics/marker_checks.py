"""Marker files checked before any work: numbers that cannot be a human in the units the file
declares (a TRC in mm labelled `m`: markers hundreds of metres apart), and markers the model
has that the file lacks (or the other way round)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from musclekit.errors import InputError
from musclekit.quality import some

# A standing adult fits in a 2.5 m box; markers further apart than this in one frame are
# not one human in metres. Below MIN_SPAN_M all markers sit within a few centimetres: a file
# in metres labelled mm.
MAX_SPAN_M = 4.0
MIN_SPAN_M = 0.2


def marker_span_m(positions: np.ndarray) -> float:
    """Median over frames of the largest extent (bounding-box diagonal) of the markers (m)."""
    pos = np.asarray(positions, dtype=float)
    if pos.ndim != 3 or pos.shape[0] == 0 or pos.shape[1] < 2:
        return float("nan")
    lo, hi = np.nanmin(pos, axis=1), np.nanmax(pos, axis=1)
    return float(np.nanmedian(np.linalg.norm(hi - lo, axis=1)))


def check_trc_units(path: Path, positions_m: np.ndarray, declared: str | None = None) -> None:
    """Refuse marker positions (already converted to metres by the reader) that cannot be
    a human body in the units the file declares."""
    span = marker_span_m(positions_m)
    if not np.isfinite(span):
        return
    units = f"'{declared}'" if declared else "its Units"
    if span > MAX_SPAN_M:
        raise InputError(
            f"{path}: the markers are {span:.0f} m apart in a typical frame, which cannot be "
            f"one person: the numbers are not in the units the file declares ({units}). If "
            f"they are millimetres, set Units to mm on line 3 of the file; nothing was written")
    if span < MIN_SPAN_M:
        raise InputError(
            f"{path}: the markers are only {100 * span:.1f} cm apart in a typical frame, which "
            f"cannot be a whole person: the numbers are not in the units the file declares "
            f"({units}). If they are metres, set Units to m on line 3; nothing was written")


def trc_declared_units(path: Path) -> str | None:
    """The Units value of a TRC header (line 3, fifth field), or None."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            lines = [fh.readline() for _ in range(3)]
        keys = lines[1].rstrip("\r\n").split("\t")
        values = lines[2].rstrip("\r\n").split("\t")
        return values[keys.index("Units")].strip() or None
    except (OSError, ValueError, IndexError):
        return None


@dataclass(frozen=True)
class ModelFacts:
    """What the checks before any work and the stage's stream declarations need of a model."""

    marker_names: tuple[str, ...]
    coordinate_units: tuple[tuple[str, str], ...]  # (coordinate, "m" | "rad"), model order
    muscle_names: tuple[str, ...] = ()


def model_facts(model_path: Path) -> ModelFacts:
    """The markers, coordinate units and muscles of an OpenSim model, from one OpenSim load
    per file content: a command asks for them several times (marker checks, stream declarations),
    and a large model takes a good part of a short trial's IK to load."""
    from musclekit.dataset.atomic import file_sha256
    from musclekit.pipelines.simulate.opensim.model import load_model

    path = Path(model_path)
    if not path.is_file():
        load_model(path)  # raises its InputError: the model does not exist
    return _model_facts(str(path.resolve()), file_sha256(path))


@lru_cache(maxsize=8)
def _model_facts(path: str, sha256: str) -> ModelFacts:
    """(Cached by path and content: a file rewritten in place is loaded again.)"""
    from musclekit.pipelines.simulate.opensim.model import coordinate_units, load_model

    model = load_model(Path(path))
    model.initSystem()
    markers, muscles = model.getMarkerSet(), model.getMuscles()
    return ModelFacts(tuple(markers.get(i).getName() for i in range(markers.getSize())),
                      tuple(coordinate_units(model).items()),
                      tuple(muscles.get(i).getName() for i in range(muscles.getSize())))


def model_marker_names(model_path: Path) -> list[str]:
    """Names of the markers of an OpenSim model (loads OpenSim once per model file)."""
    return list(model_facts(model_path).marker_names)


@dataclass(frozen=True)
class MarkerMismatch:
    missing: list[str]  # in the model, not in the file: IK cannot use them
    unknown: list[str]  # in the file, not in the model: ignored by IK
    used: list[str]

    def messages(self, trc: Path, model: Path) -> list[str]:
        out = []
        if self.missing:
            out.append(f"{trc}: {len(self.missing)} of the {len(self.missing) + len(self.used)} "
                       f"markers of {model.name} are missing from the file ({some(self.missing)}); "
                       "inverse kinematics runs on the other markers, so the segments they "
                       "would place are less constrained")
        if self.unknown:
            out.append(f"{trc}: {len(self.unknown)} marker(s) of the file are not in "
                       f"{model.name} and are ignored ({some(self.unknown)})")
        return out


def marker_mismatch(trc_names: list[str], model_names: list[str], trc: Path, model: Path
                    ) -> MarkerMismatch:
    """Compare the file's markers with the model's; refuse when none is shared."""
    have = set(trc_names)
    used = [n for n in model_names if n in have]
    if not used:
        raise InputError(f"{trc}: none of its {len(trc_names)} markers ({some(list(trc_names))}) "
                         f"is a marker of the model {model} ({some(model_names)}); "
                         "name the markers as in the model, pass the model they belong to "
                         "with --model, or scale a generic model with the lab's markers put on "
                         "it: --static static.trc --mass KG with --marker-set markers.xml (an "
                         "OpenSim MarkerSet) or --scale-setup scale_setup.xml (whose marker set "
                         "is used); nothing was written")
    return MarkerMismatch([n for n in model_names if n not in have],
                          [n for n in trc_names if n not in set(model_names)], used)


# ------------------------------------------------------------------------------------
# datasets
