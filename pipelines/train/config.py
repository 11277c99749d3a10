"""The typed configuration of a training run (saved as the run's `config`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from musclekit.errors import InputError
from musclekit.pipelines.train.models import ModelOptions


class TrainConfig(BaseModel):
    """Everything that decides what a run learns. Defaults suit a short CPU run; MIA's paper
    setting is `--model mia --window 30 --rate 10 --loss mse`, MinT's `--model mint --window 28
    --rate 20 --loss smooth_l1 --width 256 --layers 16 --heads 16`."""

    model_config = ConfigDict(extra="forbid")

    dataset: str
    # more datasets trained together with `dataset` (multi-source training); each
    # sequence's source is then its dataset's folder name (docs/train.md)
    extra_datasets: list[str] = Field(default_factory=list)
    task: Literal["motion-to-muscle", "muscle-to-motion"] = "motion-to-muscle"
    input_stream: str | None = None  # None: the first stream of a fitting family
    target_stream: str | None = None
    model: Literal["mia", "mint", "lstm"] = "mia"
    width: int | None = Field(default=None, ge=4)
    layers: int | None = Field(default=None, ge=1)
    heads: int | None = Field(default=None, ge=1)
    kernel_frames: int | None = Field(default=None, ge=1)
    dropout: float = Field(default=0.1, ge=0.0, lt=1.0)
    window_frames: int = Field(default=30, ge=2)
    rate_hz: float | None = Field(default=None, gt=0)  # None: the target stream's rate
    train_stride_frames: int = Field(default=1, ge=1)
    split: str = "random"
    test_fraction: float = Field(default=0.2, ge=0.0, lt=1.0)
    val_fraction: float = Field(default=0.1, ge=0.0, lt=1.0)
    condition_on_subject: bool = False
    keep_flagged: bool = False  # frames flagged by a quality check are left out by default
    loss: Literal["mse", "l1", "smooth_l1"] = "mse"
    lr: float = Field(default=1e-3, gt=0)
    weight_decay: float = Field(default=1e-4, ge=0)
    batch_size: int = Field(default=64, ge=1)
    max_steps: int = Field(default=2000, ge=1)
    time_budget_s: float | None = Field(default=None, gt=0)
    eval_every_steps: int = Field(default=100, ge=1)
    patience_evals: int = Field(default=10, ge=1)
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    amp: bool = True  # mixed precision on CUDA only
    # CPU threads for torch; None: half the cores, at most 4 (small models lose more to
    # thread contention than they gain from intra-op parallelism).
    cpu_threads: int | None = Field(default=None, ge=1)

    def model_options(self) -> ModelOptions:
        return ModelOptions(width=self.width, layers=self.layers, heads=self.heads,
                            kernel_frames=self.kernel_frames, dropout=self.dropout)

    @classmethod
    def checked(cls, **values: object) -> TrainConfig:
        """Validate user values; a bad one raises InputError naming the option."""
        try:
            return cls(**values)
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "config"
            raise InputError(f"invalid training option {where}={first.get('input')!r}: "
                             f"{first['msg']}") from err

    def learning_keys(self) -> dict:
        """The options that change what is learned (a resumed run must match them)."""
        skip = {"max_steps", "time_budget_s", "device", "amp", "eval_every_steps",
                "patience_evals", "cpu_threads"}
        return {k: v for k, v in self.model_dump().items() if k not in skip}
