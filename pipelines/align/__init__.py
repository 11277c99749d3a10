"""align: put wireless sEMG and phone video on one clock and resample both to a common grid.

The first half of the Muscles in Action capture pipeline: sEMG envelopes (~10 samples/s, each
with a wall-clock timestamp) and an iPhone video (29.97 fps, possibly variable frame rate) are
aligned by their timestamps, refined by cross-correlating video motion with the sEMG envelope,
and written as the `emg` and `frames` streams of a musclekit dataset (see docs/align.md).

Modules, one job each: `timeparse` (timestamps to integer ns), `emg_csv` (sEMG readers),
`video` (probe and the single decode pass), `grid` (grid, nearest frame, sEMG placement),
`offset` (cross-correlation refinement and drift), `clips` (MIA windows and split),
`qc` (report PNG/JSON), `config` (typed options, sensor config, session file), `run`
(one capture end to end, and sessions), `synthetic` (generated captures for tests and demo).
"""
