"""Typed payloads between the driver (stage/run.py), the Dask workers and the chunk's own
process (stage/worker.py). Each is a dataclass of plain values that travels as JSON: OpenSim
objects never cross a process boundary, and a payload on disk says exactly what a chunk
was asked to do. (The payloads between a chunk and its NLP child are the problem and
solution dataclasses in nlp/.)"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from musclekit.pipelines.simulate.dynamics.kernel.chunks import Chunk
from musclekit.pipelines.simulate.dynamics.kernel.prep import PrepSettings
from musclekit.pipelines.simulate.dynamics.kernel.settings import SolveSettings
from musclekit.pipelines.simulate.dynamics.methods import get_method
from musclekit.pipelines.simulate.dynamics.upper import UpperSettings


@dataclass
class ChunkTask:
    """One chunk to solve: which method with which settings, on which prepared model and
    motion; where its result goes; how long it may take."""

    chunk: Chunk
    method: str
    settings: SolveSettings  # the method's own settings class (its registry entry says which)
    prep_folder: str
    motion_path: str
    out_dir: str
    time_limit_s: float = 3600.0
    # Why this chunk cannot be solved (its model's preparation failed, its poses lie outside
    # the fitted muscle paths): it becomes a failed report with this reason, unsolved.
    unsolvable: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_dict(cls, d: dict) -> ChunkTask:
        d = dict(d)
        d["chunk"] = Chunk(**d["chunk"])
        d["settings"] = get_method(d["method"]).make_settings(d["settings"])
        return cls(**d)

    @classmethod
    def from_json(cls, text: str) -> ChunkTask:
        return cls.from_dict(json.loads(text))

    def write(self, path: Path) -> Path:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(self.to_json())
        tmp.replace(path)
        return path


@dataclass
class PrepTask:
    """One model to prepare once for every sequence that uses it."""

    model: str
    cache: str
    settings: PrepSettings
    motions: list[str]  # IK motions the polynomial muscle paths are fitted around


@dataclass
class UpperTask:
    """One sequence's upper body by static optimisation, from the written ground forces."""

    dataset: str
    sequence: str
    t0: float
    model: str
    motion: str
    lower_muscles: list[str]
    settings: UpperSettings
    work: str
