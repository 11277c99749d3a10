"""Quality a user must hear about in a finished dataset.

(The checks of marker files before any work are simulate's:
`pipelines/simulate/kinematics/marker_checks.py`.)
- `dataset_quality`: what a finished dataset says about its own quality (stand-in body,
  share of flagged frames, implausible IK errors, markers without values, dead markers and
  markers IK could not follow (left out or kept), subjects without mass, failed dynamics
  chunks, empty clip splits). `musclekit inspect` and
  `musclekit validate` print these as warnings (`validate --strict` exits 1 on any), and
  `simulate` prints them at the end of its run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Share of flagged frames above which a sequence gets a warning.
FLAGGED_WARN_SHARE = 0.2
# IK marker RMS error that no real fit reaches: the markers' units (or the model) are wrong.
IMPLAUSIBLE_IK_RMS_M = 0.1
LIST_AT_MOST = 5


def some(items: list[str]) -> str:
    head = ", ".join(items[:LIST_AT_MOST])
    return head + (f" and {len(items) - LIST_AT_MOST} more" if len(items) > LIST_AT_MOST else "")


@dataclass(frozen=True)
class QualityWarning:
    kind: str  # standin_body | flagged_frames | implausible_units | missing_markers |
    #            no_mass | failed_chunks | empty_split | marker_problems
    where: str
    message: str


def marker_problem_warnings(seq_id: str, kin: dict) -> list[QualityWarning]:
    """Dead markers and markers IK could not follow (simulate's `marker_problems`: marker ->
    problem, why, action), what was done about them and how to change it."""
    problems = kin.get("marker_problems")
    if not isinstance(problems, dict) or not problems:
        return []
    groups: dict[tuple[str, str], list[str]] = {}
    for name, p in sorted(problems.items()):
        if isinstance(p, dict):
            groups.setdefault((str(p.get("problem")), str(p.get("action"))), []).append(
                f"{name} ({p.get('why')})")
    setup = (kin.get("ik_setup") or {}).get("file") if isinstance(kin.get("ik_setup"), dict) \
        else None
    text = {("dead", "left out"): "markers without data left out of IK",
            ("dead", "kept"): "markers without data kept because the IK setup applies them "
                              "(--drop-dead-markers leaves them out)",
            ("outlier", "left out"): "markers IK could not follow, left out "
                                     "(--drop-outlier-markers)",
            ("outlier", "kept"): "markers IK could not follow, kept (--drop-outlier-markers "
                                 "leaves them out)"}
    parts = [f"{text.get(k, f'{k[0]} markers, {k[1]}')}: {', '.join(v)}"
             for k, v in groups.items()]
    return [QualityWarning("marker_problems", seq_id, f"sequence {seq_id}: " + "; ".join(parts)
                           + (f" (IK setup {setup})" if setup else ""))]


def dataset_quality(path_or_dataset, read_values: bool = True) -> list[QualityWarning]:
    """Quality warnings of a dataset (see module docstring), with the checks stages contribute
    (`contributed_checks`). read_values=False skips the checks that read shards (markers
    without values, contributed checks): metadata only, instant."""
    from musclekit.dataset.reader import Dataset, open_dataset

    ds = path_or_dataset if isinstance(path_or_dataset, Dataset) else open_dataset(path_or_dataset)
    out: list[QualityWarning] = []
    standin, flagged, implausible = [], [], []
    for seq_id, seq in sorted(ds.sequences.items()):
        kin = (seq.extra or {}).get("kinematics") or {}
        out += marker_problem_warnings(seq_id, kin)
        kind = str(kin.get("body_model_kind") or "")
        if kind.startswith("standin"):
            standin.append(seq_id)
        frames, n_flagged = kin.get("frames"), kin.get("flagged_frames")
        if isinstance(frames, int) and frames > 0 and isinstance(n_flagged, int):
            share = n_flagged / frames
            if share > FLAGGED_WARN_SHARE:
                flagged.append((seq_id, share, kin.get("flag_rms_m"), kin.get("flag_max_m")))
        rms = kin.get("ik_rms_mean_m")
        if isinstance(rms, int | float) and np.isfinite(rms) and rms > IMPLAUSIBLE_IK_RMS_M:
            implausible.append((seq_id, float(rms)))
    if standin:
        out.append(QualityWarning(
            "standin_body", some(standin),
            f"{len(standin)} sequence(s) were simulated with musclekit's procedural stand-in "
            "body, not the licensed SMPL-H model: markers, scaling and everything after are "
            f"not a real subject's ({some(standin)}); rerun with --body-model DIR for real data"))
    for seq_id, share, rms_m, max_m in flagged:
        limits = (f" (IK marker RMS above {1000 * rms_m:.0f} mm or largest error above "
                  f"{1000 * max_m:.0f} mm)" if isinstance(rms_m, int | float)
                  and isinstance(max_m, int | float) else "")
        out.append(QualityWarning(
            "flagged_frames", seq_id,
            f"{100 * share:.0f} % of the frames of sequence {seq_id} are flagged{limits}; "
            "training leaves flagged frames out unless --keep-flagged"))
    for seq_id, rms in implausible:
        out.append(QualityWarning(
            "implausible_units", seq_id,
            f"sequence {seq_id}: IK marker RMS error {rms:.3g} m, which no real fit has: the "
            "marker units are implausible (a file in mm labelled m?) or the model does not "
            "match the markers"))
    for name, spec in ds.streams.items():
        if spec.family != "markers" or not read_values:
            continue
        for seq_id in ds.sequence_ids(name):
            try:
                arr = ds.sequence_array(name, seq_id)
            except Exception:  # noqa: BLE001 - unreadable shards are validate's finding
                continue
            values = arr.values.reshape(arr.values.shape[0], len(arr.channels), -1)
            empty = [c for i, c in enumerate(arr.channels)
                     if not np.isfinite(values[:, i]).any()]
            if empty:
                out.append(QualityWarning(
                    "missing_markers", seq_id,
                    f"sequence {seq_id}: {len(empty)} marker(s) of stream {name!r} have no "
                    f"value in any frame ({some(empty)})"))
    no_mass = sorted(s for s, info in ds.subjects.items()
                     if info.mass_kg is None and any(q.subject_id == s and (q.extra or {}).get(
                         "kinematics") for q in ds.sequences.values()))
    if no_mass:
        out.append(QualityWarning(
            "no_mass", some(no_mass),
            f"subject(s) {some(no_mass)} have no mass in the dataset (marker input gives "
            "none): forces and dynamics scale with it"))
    try:
        chunks = ds.read_table("chunks")
    except Exception:  # noqa: BLE001 - a damaged table is inspect's and validate's finding
        chunks = None
    if chunks is not None and chunks.height and {"sequence_id", "status"} <= set(chunks.columns):
        for seq_id in sorted(set(chunks["sequence_id"].to_list())):
            rows = chunks.filter(chunks["sequence_id"] == seq_id)
            failed = int((rows["status"] != "converged").sum())
            if failed:
                out.append(QualityWarning(
                    "failed_chunks", seq_id,
                    f"sequence {seq_id}: {failed} of {rows.height} muscle-driven chunks failed "
                    "(their time is a gap; `musclekit status` gives the reasons)"))
    splits: dict[str, int] = {"train": 0, "val": 0, "test": 0}
    has_clips = False
    for seq in ds.sequences.values():
        for clip in (seq.extra or {}).get("clips") or []:
            if isinstance(clip, dict) and clip.get("split") in splits:
                has_clips = True
                splits[clip["split"]] += 1
    if has_clips:
        for split in ("train", "test"):
            if splits[split] == 0:
                out.append(QualityWarning(
                    "empty_split", split,
                    f"the dataset's clips hold no {split} clip ({splits['train']} train, "
                    f"{splits['val']} val, {splits['test']} test): `musclekit train --split "
                    "clips` cannot use it"))
    if read_values:
        for check in contributed_checks():
            out += check(ds)
    return out


# Stages contribute quality checks of their own (the plausibility scores of `musclekit
# score`) as entry points of group `musclekit.quality` in pyproject.toml: the core names no
# stage, and every install sees the same checks.
QUALITY_ENTRY_POINTS = "musclekit.quality"


def contributed_checks() -> list:
    """The installed stages' quality checks: callables (Dataset) -> list of warnings with
    kind, where and message."""
    from importlib.metadata import entry_points

    return [ep.load() for ep in sorted(entry_points(group=QUALITY_ENTRY_POINTS),
                                       key=lambda ep: ep.name)]
