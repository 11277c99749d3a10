"""Muscles in Action (MIA) clip folders, as the authors released them.

Layout (MIA paper and release; see the project's REFERENCE):

```
ROOT/{train,val}/<SubjectN>/<Exercise>/<clip>/
    emgvalues.npy   (30, 8)      sEMG envelope, 10 fps, channels l_quad, l_ham, l_lat,
                                 l_bicep, r_quad, r_ham, r_lat, r_bicep (a.u.)
    joints3d.npy    (30, 49, 3)  VIBE 3D joints (SPIN's 49, root-relative, m); the first
                                 25 are OpenPose BODY_25
    joints2d.npy    (30, 49, 2|3) image pixels (a third column is a confidence)
    pose.npy        (30, 72)     SMPL pose (axis-angle, rad)
    betas.npy       (30, 10)     SMPL shape
    predcam, origcam, bboxes, verts   not imported (camera, boxes, 6890-vertex meshes)
```

Each clip is 30 frames = 3 s at 10 fps and becomes one sequence; its split (MIA's `val`
folder is the paper's held-out test set, so it becomes `test`) is written as
`extra["clips"]`, so `musclekit train --split clips` reproduces MIA's split. One exercise
folder of one subject is one unit of work.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from musclekit.dataset import StreamSpec, SubjectInfo
from musclekit.errors import InputError
from musclekit.pipelines.importers.common import (
    ImportOptions,
    ImportResult,
    open_writer,
    provenance,
    require_path,
    safe_id,
    sequence,
)
from musclekit.pipelines.keypoints.joints import BODY25_JOINTS
from musclekit.progress import console

KIND = "mia"
FORMAT_VERSION = "MIA clip release (ICCV 2023): {train,val}/SubjectN/Exercise/clip/*.npy"
RATE_HZ = 10.0
EMG_CHANNELS = ("l_quad", "l_ham", "l_lat", "l_bicep", "r_quad", "r_ham", "r_lat", "r_bicep")
SPLITS = {"train": "train", "val": "test", "test": "test"}
SMPL_CHANNELS = [f"pose_{i}" for i in range(72)] + [f"betas_{i}" for i in range(10)]


def streams() -> list[StreamSpec]:
    joints = list(BODY25_JOINTS)
    return [
        StreamSpec(name="emg", family="semg", rate_hz=RATE_HZ, channels=list(EMG_CHANNELS),
                   units=["a.u."] * len(EMG_CHANNELS), clock="video"),
        StreamSpec(name="keypoints3d", family="keypoints3d", rate_hz=RATE_HZ, channels=joints,
                   units=["m"] * len(joints), clock="video"),
        StreamSpec(name="keypoints2d", family="keypoints2d", rate_hz=RATE_HZ, channels=joints,
                   units=["px"] * len(joints), clock="video"),
        StreamSpec(name="smpl", family="smpl", rate_hz=RATE_HZ, channels=SMPL_CHANNELS,
                   units=["rad"] * 72 + ["1"] * 10, clock="video"),
    ]


def _load(file: Path, shape_tail: tuple, optional: bool = False) -> np.ndarray | None:
    if not file.is_file():
        if optional:
            return None
        raise InputError(f"import mia: {file} is missing (every MIA clip folder has "
                         "emgvalues.npy and joints3d.npy)")
    try:
        arr = np.load(file, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise InputError(f"import mia: {file} is not a readable .npy array ({err}); the file "
                         "may be truncated") from err
    # shape_tail: per axis after frames, n (exactly n), -n (at least n) or None (any)
    ok = arr.ndim == 1 + len(shape_tail) and arr.shape[0] > 0 and all(
        want is None or (have >= -want if want < 0 else have == want)
        for have, want in zip(arr.shape[1:], shape_tail, strict=True))
    if not ok:
        want = ", ".join("any" if w is None else f"{-w}+" if w < 0 else str(w)
                         for w in shape_tail)
        raise InputError(f"import mia: {file} has shape {arr.shape}, expected "
                         f"(frames, {want})")
    return arr.astype(np.float32)


def clip_folders(root: Path) -> dict[tuple[str, str, str], list[Path]]:
    """{(split folder, subject, exercise): [clip folders]} under ROOT."""
    groups: dict[tuple[str, str, str], list[Path]] = {}
    for split in SPLITS:
        for clip_file in sorted((root / split).glob("*/*/*/emgvalues.npy")):
            clip = clip_file.parent
            key = (split, clip.parent.parent.name, clip.parent.name)
            groups.setdefault(key, []).append(clip)
    return groups


def import_source(src: Path, out: Path, options: ImportOptions) -> ImportResult:
    root = require_path(src, KIND, folder=True)
    groups = clip_folders(root)
    if not groups:
        raise InputError(f"import mia: no clip folder under {root} (expected "
                         "train/<SubjectN>/<Exercise>/<clip>/emgvalues.npy or val/...)")
    source = options.source or KIND
    specs = streams()
    writer = open_writer(out, KIND, specs, description="Muscles in Action clips, imported")
    result = ImportResult(out=out, kind=KIND, format_version=FORMAT_VERSION,
                          streams=[s.name for s in specs])
    done = 0
    for (split, subject, exercise), clips in groups.items():
        if options.limit and done >= options.limit:
            break
        unit_id = safe_id(f"mia-{split}-{subject}-{exercise}")
        ids = [safe_id(f"{subject}_{exercise}_{split}_{c.name}") for c in clips]
        done += len(clips)
        if writer.is_done(unit_id):
            result.skipped += ids
            continue
        files = [f for c in clips for f in (c / "emgvalues.npy", c / "joints3d.npy")]
        prov = provenance(KIND, FORMAT_VERSION, root, files, split_folder=split,
                          subject=subject, exercise=exercise)
        with writer.unit(unit_id, prov) as unit:
            unit.add_subject(SubjectInfo(id=safe_id(subject)))
            for clip, seq_id in zip(clips, ids, strict=True):
                _write_clip(unit, clip, seq_id, subject, exercise, split, source)
        result.written += ids
    console.print(f"mia: {len(result.written)} clip(s) imported, {len(result.skipped)} "
                  "already there")
    return result


def _write_clip(unit, clip: Path, seq_id: str, subject: str, exercise: str, split: str,
                source: str) -> None:
    emg = _load(clip / "emgvalues.npy", (len(EMG_CHANNELS),))
    n = emg.shape[0]
    j3 = _load(clip / "joints3d.npy", (-25, 3))
    j2 = _load(clip / "joints2d.npy", (-25, None), optional=True)
    pose = _load(clip / "pose.npy", (72,), optional=True)
    betas = _load(clip / "betas.npy", (10,), optional=True)
    for name, arr in (("joints3d", j3), ("joints2d", j2), ("pose", pose), ("betas", betas)):
        if arr is not None and arr.shape[0] != n:
            raise InputError(f"import mia: {clip}: {name}.npy has {arr.shape[0]} frames, "
                             f"emgvalues.npy {n}; the clip is inconsistent")
    seq = sequence(seq_id, subject, source, exercise, mia_clip=str(clip.name),
                   mia_split_folder=split,
                   clips=[{"start_frame": 0, "n_frames": n, "split": SPLITS[split]}])
    t = np.arange(n) / RATE_HZ
    unit.write_sequence("emg", seq, t, emg)
    k = len(BODY25_JOINTS)
    v3 = np.concatenate([j3[:, :k, :], np.full((n, k, 1), np.nan, np.float32)], axis=2)
    unit.write_sequence("keypoints3d", seq, t, v3)
    if j2 is not None and j2.shape[2] in (2, 3):
        conf = j2[:, :k, 2:3] if j2.shape[2] == 3 else np.full((n, k, 1), np.nan, np.float32)
        unit.write_sequence("keypoints2d", seq, t, np.concatenate([j2[:, :k, :2], conf], axis=2))
    if pose is not None and betas is not None:
        unit.write_sequence("smpl", seq, t, np.concatenate([pose, betas], axis=1))
