"""What part 1 hands part 2 for one sequence: the OpenSim files its kinematics live in.

Stored in the dataset as the sequence's `extra["opensim"]` (paths relative to the dataset
root, so a dataset can be moved); the dynamics stage reads it back through this class only."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from musclekit.errors import InputError

KEY = "opensim"
REQUIRED = ("scaled_model", "ik_mot")


@dataclass(frozen=True)
class KinematicsRecord:
    """files: role -> path relative to the dataset root, in the order written. Roles part 2
    reads: `scaled_model`, `ik_mot` (radians), and, when the lab gave measured forces,
    `grf` and `grf_setup`; the others (markers, errors, logs, setups) are for people."""

    files: dict[str, str]

    @classmethod
    def from_extra(cls, sequence_id: str, extra: dict) -> KinematicsRecord | None:
        """The record of a sequence's metadata; None when it has no kinematics."""
        files = extra.get(KEY)
        if not files:
            return None
        for role in REQUIRED:
            if role not in files:
                raise InputError(f"sequence {sequence_id}: its kinematics record lacks "
                                 f"{role!r}; rerun `musclekit simulate ... --until ik` for it")
        return cls(dict(files))

    def to_extra(self) -> dict:
        return {KEY: dict(self.files)}

    def path(self, root: Path, role: str) -> Path | None:
        """The file of `role` under dataset `root`, or None when the record has none."""
        return Path(root) / self.files[role] if role in self.files else None
