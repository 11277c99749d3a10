"""Scores of a dataset's sequences, read from its streams; and the quality warnings they give."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from musclekit.errors import FormatError, InputError
from musclekit.pipelines.score import metrics
from musclekit.pipelines.score import thresholds as th
from musclekit.pipelines.score.names import foot_markers, left_right_pairs, muscle_groups


@dataclass(frozen=True)
class Score:
    """One measure of one sequence. value None: not applicable (`note` says why)."""
    name: str
    value: float | None
    unit: str
    limit: float | None
    flagged: bool
    note: str = ""

    def shown(self) -> str:
        if self.value is None:
            return "-"
        return f"{self.value:.3g}"


@dataclass
class SequenceScores:
    sequence_id: str
    scores: dict[str, Score] = field(default_factory=dict)

    def flagged(self) -> list[Score]:
        return [s for s in self.scores.values() if s.flagged]

    def to_json(self) -> dict:
        return {"sequence": self.sequence_id,
                "scores": {k: {"value": s.value, "unit": s.unit, "limit": s.limit,
                               "flagged": s.flagged, "note": s.note}
                           for k, s in self.scores.items()}}


# name: (unit, limit, what a flag means) -- the order is the table's.
MEASURES: dict[str, tuple[str, float, str]] = {
    "foot_sliding": ("m/s", th.SLIDING_LIMIT_M_S,
                     "the planted foot slides on the floor (median {v:.2f} m/s while in contact)"),
    "penetration": ("m", th.PENETRATION_LIMIT_M,
                    "the feet go {cm:.1f} cm below the floor (95th percentile)"),
    "floating": ("share", th.FLOATING_SHARE_LIMIT,
                 "no foot is within {contact_cm:.0f} cm of the floor in {pct:.0f} % of the frames"),
    "com_outside_bos": ("share", th.COM_OUTSIDE_SHARE_LIMIT,
                        "the centre of mass is outside the base of support in {pct:.0f} % of "
                        "the static frames"),
    "asymmetry": ("%", th.ASYMMETRY_LIMIT_PCT,
                  "left/right range of motion differs by {v:.0f} % ({detail})"),
    "saturation": ("share", th.SATURATED_SHARE_LIMIT,
                   "activation saturates (>= 0.99) in {pct:.0f} % of the frames of {detail}"),
    "coactivation": ("%", th.COACTIVATION_LIMIT_PCT,
                     "co-contraction index {v:.0f} % ({detail})"),
    "residual_force": ("% BW", th.RESIDUAL_FORCE_LIMIT_PCT_BW,
                       "peak residual force {v:.1f} % of body weight"),
}


def _stream_of(ds, family: str, seq_id: str, prefer: str | None = None) -> str | None:
    names = [n for n, s in ds.streams.items() if s.family == family
             and seq_id in ds.sequence_ids(n)]
    if prefer in names:
        return prefer
    return names[0] if names else None


def _score(name: str, value: float | None, note: str = "", detail: str = "") -> Score:
    unit, limit, template = MEASURES[name]
    if value is None or not math.isfinite(value):
        return Score(name, None, unit, limit, False, note or "not computable on this sequence")
    flagged = value > limit
    message = template.format(v=value, cm=100 * value, pct=100 * value, detail=detail,
                              contact_cm=100 * th.CONTACT_HEIGHT_M) if flagged else ""
    return Score(name, float(value), unit, limit, flagged, message)


def _na(name: str, why: str) -> Score:
    unit, limit, _ = MEASURES[name]
    return Score(name, None, unit, limit, False, why)


def score_sequence(ds, seq_id: str, use_model: bool = True) -> SequenceScores:
    """Every measure of one sequence; not applicable ones carry the reason."""
    out = SequenceScores(seq_id)
    seq = ds.sequences[seq_id]
    subject = ds.subjects.get(seq.subject_id)
    mass = subject.mass_kg if subject is not None else None

    markers_stream = _stream_of(ds, "markers", seq_id, "markers")
    if markers_stream is None:
        for name in ("foot_sliding", "penetration", "floating", "com_outside_bos"):
            out.scores[name] = _na(name, "no markers stream (needs lab-frame foot markers)")
    else:
        arr = ds.sequence_array(markers_stream, seq_id)
        pos = arr.values.astype(float)
        feet = foot_markers(arr.channels)
        if not (feet["r"] or feet["l"]):
            for name in ("foot_sliding", "penetration", "floating", "com_outside_bos"):
                out.scores[name] = _na(name, "no foot markers (heel, toe, ankle) among the "
                                             f"{len(arr.channels)} markers")
        else:
            fm = metrics.foot_measures(pos, arr.time_s, feet)
            out.scores["foot_sliding"] = _score("foot_sliding", fm.sliding_m_s,
                                                "no frame with a foot in contact")
            out.scores["penetration"] = _score("penetration", fm.penetration_m)
            out.scores["floating"] = _score("floating", fm.floating_share)
            out.scores["com_outside_bos"] = _com_score(ds, seq, pos, arr.time_s, feet, use_model)

    angles = _stream_of(ds, "joint_angles", seq_id, "joint_angles")
    if angles is None:
        out.scores["asymmetry"] = _na("asymmetry", "no joint_angles stream")
    else:
        arr = ds.sequence_array(angles, seq_id)
        pairs = left_right_pairs(arr.channels)
        index = {c: i for i, c in enumerate(arr.channels)}
        worst, detail = None, ""
        for r, left in pairs:
            si = metrics.symmetry_index_pct(arr.values[:, index[r]], arr.values[:, index[left]])
            if math.isfinite(si) and (worst is None or si > worst):
                worst, detail = si, f"{r[:-2]}"
        out.scores["asymmetry"] = _score(
            "asymmetry", worst, "no left/right coordinate pair moves more than 10 degrees"
            if pairs else "no <name>_r/<name>_l coordinate pairs", detail)

    acts = _stream_of(ds, "activations", seq_id, "activations")
    if acts is None:
        out.scores["saturation"] = _na("saturation", "no activations stream")
        out.scores["coactivation"] = _na("coactivation", "no activations stream")
    else:
        arr = ds.sequence_array(acts, seq_id)
        a = arr.values.astype(float)
        share = metrics.saturation(a)
        k = int(np.argmax(share)) if share.size else 0
        over = [arr.channels[i] for i in np.flatnonzero(share > th.SATURATED_SHARE_LIMIT)]
        out.scores["saturation"] = _score(
            "saturation", float(share[k]) if share.size else None,
            detail=", ".join(over[:5]) + (f" and {len(over) - 5} more" if len(over) > 5 else ""))
        groups = muscle_groups(arr.channels)
        worst, detail = None, ""
        for (joint, side), (ago, anta) in groups.items():
            with np.errstate(invalid="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # gap frames: all NaN
                ci = metrics.coactivation_pct(np.nanmean(a[:, ago], axis=1),
                                              np.nanmean(a[:, anta], axis=1))
            if math.isfinite(ci) and (worst is None or ci > worst):
                worst, detail = ci, f"{joint}, {'right' if side == 'r' else 'left'}"
        out.scores["coactivation"] = _score(
            "coactivation", worst, "no agonist/antagonist muscle pair by name (knee, ankle)",
            detail)

    res = _stream_of(ds, "residuals", seq_id, "residuals")
    if res is None:
        out.scores["residual_force"] = _na("residual_force", "no residuals stream")
    elif not mass:
        out.scores["residual_force"] = _na("residual_force", "the subject has no mass")
    else:
        arr = ds.sequence_array(res, seq_id)
        cols = [i for i, u in enumerate(arr.units) if u == "N"]
        if not cols:
            out.scores["residual_force"] = _na("residual_force", "no residual force (N) channel")
        else:
            f = arr.values[:, cols].astype(float)
            if f.shape[1] < 3:
                f = np.pad(f, ((0, 0), (0, 3 - f.shape[1])))
            out.scores["residual_force"] = _score(
                "residual_force", metrics.residual_force_pct_bw(f[:, :3], float(mass)))
    return out


def _com_score(ds, seq, pos, time_s, feet, use_model: bool) -> Score:
    files = (seq.extra or {}).get("opensim") or {}
    model, mot = files.get("scaled_model"), files.get("ik_mot")
    if not (model and mot):
        return _na("com_outside_bos", "needs the sequence's OpenSim model and IK motion "
                                      "(opensim/<sequence>/)")
    if not use_model:
        return _na("com_outside_bos", "skipped (model not loaded)")
    model_path, mot_path = Path(ds.root) / model, Path(ds.root) / mot
    if not (model_path.is_file() and mot_path.is_file()):
        return _na("com_outside_bos", f"{model} or {mot} is missing")
    from musclekit.pipelines.score.pose import com_trajectory

    try:
        com_t, com = com_trajectory(model_path, mot_path)
    except (InputError, RuntimeError) as err:
        return _na("com_outside_bos", f"the model could not be posed: {err}")
    share, static = metrics.com_outside_share(com, com_t, pos, time_s, feet)
    if static == 0:
        return _na("com_outside_bos", "no static frame with a foot on the floor")
    return _score("com_outside_bos", share)


def score_dataset(ds, sequences: list[str] | None = None, use_model: bool = True
                  ) -> list[SequenceScores]:
    """Scores of the given sequences (default: all, sorted). Unknown ids: InputError."""
    known = sorted(ds.sequences)
    if sequences:
        unknown = [s for s in sequences if s not in ds.sequences]
        if unknown:
            raise InputError(f"sequence {unknown[0]!r} is not in {ds.root}; its sequences: "
                             + ", ".join(known[:8]) + (" ..." if len(known) > 8 else ""))
        known = list(sequences)
    return [score_sequence(ds, s, use_model) for s in known]


@dataclass(frozen=True)
class ScoreWarning:
    """Same shape as musclekit.quality.QualityWarning (kind, where, message)."""
    kind: str
    where: str
    message: str


# Posing each sequence's OpenSim model for its centre of mass costs ~0.7 s (Rajagopal2015):
# inspect and validate do it for datasets up to this many sequences; beyond, `musclekit score`
# gives com_outside_bos.
WARNINGS_MODEL_SEQUENCES = 100


def score_warnings(ds) -> list[ScoreWarning]:
    """One warning per flagged score of each sequence (kind `score_<name>`), for `inspect`,
    `validate` (and its --strict) and the quality report. Unreadable streams are validate's
    own findings and are skipped here."""
    out = []
    use_model = len(ds.sequences) <= WARNINGS_MODEL_SEQUENCES
    for seq_id in sorted(ds.sequences):
        try:
            result = score_sequence(ds, seq_id, use_model)
        except (FormatError, OSError, ValueError) as err:
            out.append(ScoreWarning("score_skipped", seq_id,
                                    f"sequence {seq_id}: scores skipped: {err}"))
            continue
        for s in result.flagged():
            out.append(ScoreWarning(f"score_{s.name}", seq_id,
                                    f"sequence {seq_id}: {s.note} (limit {s.limit:g} {s.unit}; "
                                    "docs/score.md)"))
    return out
