"""Train stage: small PyTorch models on dataset windows (docs/train.md).

Modules, in data-flow order: sources (streams -> stacked frames on one grid), windows
(resampling, window starts that never cross gaps), splits, normalization, loader (torch
WindowDataset), models/, training (loop, checkpoints, resume), run (run folder), metrics,
report, evaluate, predict, edit, demo, synthetic (known-answer datasets).
"""
