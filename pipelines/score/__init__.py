"""`musclekit score`: physical-plausibility scores per sequence (foot sliding, floor
penetration, floating, centre of mass outside the base of support, left/right asymmetry,
activation saturation and co-activation, residual forces); thresholds in `thresholds.py`,
sources in docs/score.md."""

from musclekit.pipelines.score.run import (
    Score,
    ScoreWarning,
    SequenceScores,
    score_dataset,
    score_sequence,
    score_warnings,
)

__all__ = ["Score", "ScoreWarning", "SequenceScores", "score_dataset", "score_sequence",
           "score_warnings"]
