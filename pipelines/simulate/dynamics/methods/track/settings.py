"""Settings of the `track` method."""

from __future__ import annotations

from dataclasses import dataclass

from musclekit.pipelines.simulate.dynamics.kernel.settings import SolveSettings


@dataclass
class TrackSettings(SolveSettings):
    """Muscle-driven tracking with foot contact (MinT / OpenCap)."""

    # Tracking weights over nlp/track.py's DEFAULT_TRACK_WEIGHTS (None: those).
    weights: dict | None = None
    # MocoTrack only. Explicit multibody dynamics: on the test model's squat the implicit
    # form diverged (primal infeasibility 1e6 after 40 iterations) where the explicit one
    # converged (175 iterations); docs/benchmarks.md.
    dynamics_mode: str = "explicit"  # or "implicit"
    hessian: str = "limited-memory"  # or "exact" (finite differences of gradients)
    # A converged track solution that strays further than this from the motion (RMS over the
    # window) is a failed chunk: on the test model's squat MocoTrack's optimum was a jump (the
    # pelvis 28 cm low at the start, then flight; 0.125 rad and 7.1 cm RMS), which must not
    # enter a dataset as muscle activity of a squat. On OpenCap's real squat with the
    # generic contact model (not the subject's), balancing needs the pelvis up to ~6 cm
    # fore-aft of the motion (2.3 cm RMS in a chunk), which is tracking, not a jump.
    max_error_rad: float = 0.1
    max_error_m: float = 0.05
    # The CasADi solver (methods/track/solve.py): rounds of linearisation at most, the
    # trust region of one round, and the largest error in the equations of motion a
    # converged chunk may have (checked with OpenSim at the solution), as a share of body
    # weight in N (or N m): 0.01 is 7.7 N for OpenCap's 78 kg model.
    # The trust region: with 0.2 rad / 5 cm one real squat chunk's first round wandered for
    # > 1000 IPOPT iterations (another fit of the same muscle paths converged in 50); with
    # 0.05 rad / 2 cm it converged in 53, the chunk in 5 rounds.
    # Rounds are cheap once the trajectory settles (5-15 IPOPT iterations): on the default
    # model's synthetic squat two of five chunks needed exactly 10 (the defect falls only
    # once the steps shrink below ~3 mrad), so up to 15 are allowed.
    outer_iterations: int = 15
    # IPOPT iterations one round may take. Rounds on the squats converge in 7-90; one on the
    # default model's squat (acceleration weight 1e-2) instead cycled with period 16 between
    # the same iterates for all 2500 iterations, and the first rounds of OpenCap's walking
    # trial run past 300. Such a round is stopped here and the next one linearises at its
    # last iterate (near-feasible); a chunk is only accepted from a round IPOPT solved or one
    # that settled (`settle_step`), and
    # `max_iterations` still bounds the chunk's total. Walking: 305 s with a cap of 300,
    # 182 s with 100 (RMS tracking error 0.010 rad both times). On the Rajagopal walk's
    # first round (from IK, inverse's activations) IPOPT reached its plateau by iteration
    # ~30 and then cycled (inf_pr 1.7e-3, inf_du 0.5, full steps) to the cap of 100: with 50
    # the next rounds start from an equally good iterate, and walking chunks 0-1 and
    # running chunks 0-1 converged as before in 15 % less CPU (docs/benchmarks.md).
    round_iterations: int = 50
    # A round stopped at `round_iterations` still ends the chunk as converged when its
    # iterate moved no coordinate by more than this (rad or m) from the round's
    # linearisation point, the round before it (accepted) moved as little, and OpenSim's
    # equations of motion are met there (solve.py, "settled"): a fixed point of the
    # sequential method. 1e-3 is 2 % of the trust radius;
    # on the Rajagopal walk the settled rounds moved 3e-5 to 8e-4.
    settle_step: float = 1e-3
    trust_rad: float = 0.05
    trust_m: float = 0.02
    max_defect_bw: float = 0.01
    # The floor: the motion is shifted vertically so that the lowest contact sphere sinks
    # this far at the median frame, then by an optimised offset within the range.
    floor_penetration_m: float = 0.005
    offset_range_m: float = 0.03
    # A declared input (`Method.warm_start_from`): the folder where another method's results
    # for this sequence lie; the stage sets it per sequence, the chunk of the same index
    # starts from its activations when they are there.
    warm_start_dir: str | None = None
    # Ground forces as a tracking target (nlp/track.py, "grf" term): "none" (the spheres'
    # forces follow from the motion alone), "measured" (the plates: `grf_file` /
    # `grf_setup`, set per sequence from `--grf` / `--grf-setup` / `--c3d`) or "estimated"
    # (the `inverse` method's per-foot estimate of the same sequence). Each foot's vertical
    # and fore-aft force is tracked with `grf_weight` on its squared error in body weights,
    # the mediolateral one at nlp/track.py's `grf_mediolateral` multiple of it.
    track_grf: str = "none"
    # Ground faster than this (inverse's estimate of the sequence: a treadmill's belt) is
    # solved in the belt's frame (solve.py); overground estimates are ~0.
    treadmill_min_m_s: float = 0.2
    # Raise each sphere so that the sole meets the floor in stance as the motion puts it
    # there (solve.py `_foot_lifts`, foot_spheres.sole_lifts): the spheres placed for this
    # subject's motion, not only its foot size.
    level_feet: bool = True
    # 1e4: an error of 10 % BW on one foot costs as much as 0.1 rad on one coordinate (the
    # states' weight 1e4 on rad^2). With 1e2 (10 % BW ~ 0.01 rad) the motion barely gave:
    # on the Rajagopal walk the spheres' total vertical force (the body's vertical
    # acceleration) stayed 19 % BW RMS from the estimate's, each foot 13-17, and the
    # chunk ended with the grf term 7 % of the objective. Measured per chunk
    # (validate_rajagopal_track.py --grf estimated --grf-weight W, docs/validation.md "Track
    # on real gait"), per foot vs the plates, right / left % BW, with 1e2 / 1e3 / 1e4: walk 0
    # 10.2/15.3, 6.0/6.9, 4.0/3.3; walk 1 21.9/12.5, 9.6/7.1, 3.1/4.3; run 0 34.7/30.7,
    # 31.8/42.5, 11.0/10.4 (inverse's own estimate: 3.2/3.2, 2.1/2.8, 7.8/6.5), every chunk
    # converged, the motion 0.011-0.014 rad / 1.6-1.8 cm RMS from IK (0.008-0.011 rad /
    # 0.9-1.7 cm with 1e2; limits 0.1 rad, 5 cm).
    # The price was running's rounds: 11 (264 CPU s) instead of 3 (65 CPU s); walking's stay
    # 3 (52-56 CPU s against 59-64); `grf_first_weight` below brings running to 7.
    grf_weight: float = 1e4
    # The force term's weight until the first round is accepted (None: `grf_weight` from
    # the start); the chunk ends only at `grf_weight`. At 1e4 from the start the running
    # chunk's rounds were held by the trust region: every round stepped its full radius
    # (0.05 rad, then 0.025, 0.0125), OpenSim's defect after the first was 640 N, two rounds
    # were rejected and six stopped at their 50 IPOPT iterations (11 rounds, 446
    # iterations). A first round at 1e2 moves the motion near the tracked one without
    # chasing the forces through a contact law linearised 0.05 rad away: 7 rounds, 266
    # iterations, 227 -> 147 CPU s side by side, the same forces (10.9 / 10.4 % BW vs the
    # plates, 11.0 / 10.4 before); walking chunk 0 3 -> 4 rounds, 49 -> 59 CPU s, the same
    # forces (4.0 / 3.3); chunks 1 -4 / -1 CPU s, walking 1's left foot 4.3 -> 4.8 % BW.
    # Measured with validate_rajagopal_track.py --setting grf_first_weight=none against the
    # default (docs/benchmarks.md, "Running at the force-tracking weight 1e4").
    grf_first_weight: float | None = 1e2
    grf_file: str | None = None
    grf_setup: str | None = None
