"""Shared helpers of the dynamics tests (the dataset builder lives in the package's demo)."""

from __future__ import annotations

from musclekit.pipelines.simulate.dynamics.demo import FEET, make_kinematics_dataset

__all__ = ["FEET", "make_kinematics_dataset"]
