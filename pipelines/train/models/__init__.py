"""Models mapping (B, L, F) windows to (B, L, M): one small file each, built by name."""

from __future__ import annotations

from torch import nn

from musclekit.pipelines.train.models.common import ModelOptions, ModelShape
from musclekit.pipelines.train.models.lstm import LSTMModel
from musclekit.pipelines.train.models.mia import MIAModel
from musclekit.pipelines.train.models.mint import MinTModel
from musclekit.pipelines.train.models.retrieval import ConstantBaseline, RetrievalBaseline

MODELS: dict[str, type[nn.Module]] = {"mia": MIAModel, "mint": MinTModel, "lstm": LSTMModel}


def build_model(name: str, shape: ModelShape, options: ModelOptions) -> nn.Module:
    """The model `name` (one of MODELS) for windows of `shape`."""
    return MODELS[name](shape, options)


__all__ = ["MODELS", "ModelOptions", "ModelShape", "build_model", "RetrievalBaseline",
           "ConstantBaseline"]
