"""The virtual marker set, kept as data (`data/markerset-v1.json`).

67 markers: the 66 SMPL-H vertex markers of Bittner et al. (2023) and a 67th, SACR (sacrum),
the mean of the LPSI and RPSI vertices (a marker OpenSim gait models commonly carry, and a
stable pelvis reference). Each marker has its vertex indices on the real 6890-vertex SMPL-H
mesh and, for musclekit's procedural stand-in body, a landmark definition; the stand-in
stores its landmark vertices first, in marker-set order, so marker i is stand-in vertex i.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np

from musclekit.errors import InputError

MARKERSET_FILE = "markerset-v1.json"
SMPLH_N_VERTICES = 6890


@dataclass(frozen=True)
class MarkerSet:
    """Marker names, their vertex weights on a given mesh, and IK weights."""

    version: str
    names: list[str]
    smplh_vertices: list[list[int]]
    standin: list[dict]
    ik_weights: dict[str, float]
    segment_bodies: dict[str, str]
    joint_centres: dict[str, tuple[str, str]]  # marker name -> (SMPL-H joint, OpenSim body)
    scale_measurements: dict[str, dict]

    def vertex_matrix(self, body_kind: str, n_vertices: int) -> np.ndarray:
        """(M, V) matrix turning vertices into marker positions: markers = W @ vertices."""
        w = np.zeros((len(self.names), n_vertices))
        if body_kind == "smplh":
            if n_vertices != SMPLH_N_VERTICES:
                raise InputError(
                    f"the SMPL-H marker vertices are for the real {SMPLH_N_VERTICES}-vertex mesh, "
                    f"but this body model has {n_vertices} vertices")
            for i, ids in enumerate(self.smplh_vertices):
                w[i, ids] = 1.0 / len(ids)
        elif body_kind.startswith("standin"):
            w[np.arange(len(self.names)), np.arange(len(self.names))] = 1.0
        else:
            raise InputError(f"unknown body model kind {body_kind!r}")
        return w


@cache
def load_markerset() -> MarkerSet:
    """The package's marker set (cached)."""
    text = resources.files("musclekit.pipelines.simulate.kinematics").joinpath("data", MARKERSET_FILE)
    doc = json.loads(text.read_text())
    markers = doc["markers"]
    return MarkerSet(
        version=doc["version"],
        names=[m["name"] for m in markers],
        smplh_vertices=[list(m["smplh_vertices"]) for m in markers],
        standin=[m["standin"] for m in markers],
        ik_weights={m["name"]: float(m["ik_weight"]) for m in markers},
        segment_bodies=dict(doc["segment_bodies"]),
        joint_centres={k: (v[0], v[1]) for k, v in doc["joint_centres"].items()},
        scale_measurements=dict(doc["scale_measurements"]),
    )
