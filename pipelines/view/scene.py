"""What the viewer shows, precomputed once per sequence: poses, muscle lines, ground-force
arrows, markers and curves on one time grid (numpy; no viewer code here)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from musclekit.errors import InputError

MAX_FPS = 30.0
MAX_FRAMES = 1800
MAX_CURVES = 8
GRAVITY = 9.80665

# Stick figure from markers (MinT's 67, Plug-in-Gait) or BODY_25 keypoints: pairs kept when
# both ends exist in the stream.
_STICK = [
    ("LASI", "RASI"), ("RASI", "RPSI"), ("RPSI", "LPSI"), ("LPSI", "LASI"),
    ("RASI", "RKNE"), ("RKNE", "RANK"), ("RANK", "RHEE"), ("RHEE", "RTOE"), ("RTOE", "RANK"),
    ("LASI", "LKNE"), ("LKNE", "LANK"), ("LANK", "LHEE"), ("LHEE", "LTOE"), ("LTOE", "LANK"),
    ("C7", "RSHO"), ("C7", "LSHO"), ("RSHO", "RELB"), ("RELB", "RIWR"), ("LSHO", "LELB"),
    ("LELB", "LIWR"), ("C7", "SACR"), ("CLAV", "STRN"), ("RFHD", "LFHD"), ("RBHD", "LBHD"),
    ("Nose", "Neck"), ("Neck", "RShoulder"), ("RShoulder", "RElbow"), ("RElbow", "RWrist"),
    ("Neck", "LShoulder"), ("LShoulder", "LElbow"), ("LElbow", "LWrist"), ("Neck", "MidHip"),
    ("MidHip", "RHip"), ("RHip", "RKnee"), ("RKnee", "RAnkle"), ("RAnkle", "RHeel"),
    ("RAnkle", "RBigToe"), ("MidHip", "LHip"), ("LHip", "LKnee"), ("LKnee", "LAnkle"),
    ("LAnkle", "LHeel"), ("LAnkle", "LBigToe"),
]


@dataclass
class Scene:
    """One sequence on the viewer's grid. Positions in metres, lab frame, Y up."""
    dataset: str
    sequence_id: str
    time_s: np.ndarray                                 # (T,)
    markers: np.ndarray | None = None                  # (T, M, 3)
    marker_names: list[str] = field(default_factory=list)
    stick: list[tuple[int, int]] = field(default_factory=list)  # marker index pairs
    bodies: np.ndarray | None = None                   # (T, B, 3) body origins
    body_names: list[str] = field(default_factory=list)
    bones: list[tuple[int, int]] = field(default_factory=list)  # parent, child body
    muscle_segments: np.ndarray | None = None          # (T, S, 2, 3)
    segment_muscle: np.ndarray | None = None           # (S,) muscle index of each segment
    muscle_names: list[str] = field(default_factory=list)
    activation: np.ndarray | None = None               # (T, n muscles), NaN where unknown
    grf_arrows: np.ndarray | None = None               # (T, 2, 2, 3): foot, (start, end)
    curves: dict[str, tuple[list[str], np.ndarray]] = field(default_factory=dict)  # (T, k)
    notes: list[str] = field(default_factory=list)

    @property
    def n_frames(self) -> int:
        return len(self.time_s)

    def points(self, frame: int) -> np.ndarray:
        """Every drawn point of one frame (for framing the camera)."""
        parts = [a[frame].reshape(-1, 3) for a in (self.markers, self.bodies,
                                                  self.muscle_segments) if a is not None]
        pts = np.concatenate(parts) if parts else np.zeros((1, 3))
        return pts[np.isfinite(pts).all(axis=1)]


def _resample(t_src: np.ndarray, values: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Linear resampling along axis 0 (any trailing shape); NaN outside the source's span."""
    flat = values.reshape(len(t_src), -1).astype(float)
    out = np.full((len(t), flat.shape[1]), np.nan)
    inside = (t >= t_src[0]) & (t <= t_src[-1])
    for k in range(flat.shape[1]):
        ok = np.isfinite(flat[:, k])
        if ok.sum() >= 2:
            out[inside, k] = np.interp(t[inside], t_src[ok], flat[ok, k], left=np.nan,
                                       right=np.nan)
    return out.reshape((len(t), *values.shape[1:]))


def _stream(ds, family: str, seq_id: str, prefer: str) -> str | None:
    names = [n for n, s in ds.streams.items() if s.family == family
             and seq_id in ds.sequence_ids(n)]
    return prefer if prefer in names else (names[0] if names else None)


def build_scene(ds, seq_id: str) -> Scene:
    """Everything the viewer draws for one sequence. Refuses a sequence with nothing to
    show (no model motion, markers, keypoints, activations or ground forces)."""
    seq = ds.sequences[seq_id]
    files = (seq.extra or {}).get("opensim") or {}
    model = Path(ds.root) / files["scaled_model"] if files.get("scaled_model") else None
    mot = Path(ds.root) / files["ik_mot"] if files.get("ik_mot") else None
    has_model = bool(model and mot and model.is_file() and mot.is_file())
    markers_name = _stream(ds, "markers", seq_id, "markers") or \
        _stream(ds, "keypoints3d", seq_id, "keypoints3d")
    acts_name = _stream(ds, "activations", seq_id, "activations")
    grf_name = _stream(ds, "grf", seq_id, "grf")
    emg_name = _stream(ds, "semg", seq_id, "emg")
    if not (has_model or markers_name or acts_name or grf_name):
        have = sorted(n for n in ds.streams if seq_id in ds.sequence_ids(n))
        raise InputError(
            f"sequence {seq_id} has nothing to show: no OpenSim model with an IK motion, no "
            f"markers or keypoints3d, no activations or ground forces (its streams: "
            f"{', '.join(have) or 'none'}); view a sequence written by simulate or keypoints")
    motion = None
    if has_model:
        from musclekit.pipelines.score.pose import read_mot

        motion = read_mot(mot)
    # Time grid: the motion's own, else the markers', else the curves'.
    ref = (motion.time_s if motion is not None else
           ds.sequence_array(markers_name or acts_name or grf_name, seq_id).time_s)
    step = max(1, int(np.ceil(len(ref) / MAX_FRAMES)))
    if len(ref) > 1:
        step = max(step, int(np.ceil((1.0 / MAX_FPS) / max(np.median(np.diff(ref)), 1e-6))))
    t = ref[::step].astype(float)
    scene = Scene(str(ds.root), seq_id, t)

    if markers_name:
        arr = ds.sequence_array(markers_name, seq_id)
        scene.markers = _resample(arr.time_s, arr.values[..., :3], t)
        scene.marker_names = list(arr.channels)
        index = {n: i for i, n in enumerate(arr.channels)}
        scene.stick = [(index[a], index[b]) for a, b in _STICK if a in index and b in index]
    if has_model:
        _pose_model(scene, model, motion)
    elif files:
        scene.notes.append("no OpenSim model or IK motion on disk: stick figure from markers")
    if acts_name:
        arr = ds.sequence_array(acts_name, seq_id)
        acts = _resample(arr.time_s, arr.values, t)
        if scene.muscle_names:
            index = {n: i for i, n in enumerate(arr.channels)}
            scene.activation = np.stack(
                [acts[:, index[m]] if m in index else np.full(len(t), np.nan)
                 for m in scene.muscle_names], axis=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a muscle without any value
            mean = np.nanmean(acts, axis=0)
        top = np.argsort(-np.nan_to_num(mean, nan=-1))[:MAX_CURVES]
        scene.curves["activations"] = ([arr.channels[i] for i in top], acts[:, top])
    if emg_name:
        arr = ds.sequence_array(emg_name, seq_id)
        scene.curves["EMG"] = (list(arr.channels[:MAX_CURVES]),
                               _resample(arr.time_s, arr.values[:, :MAX_CURVES], t))
    if grf_name:
        _grf(scene, ds, grf_name, seq_id, t)
    return scene


def _pose_model(scene: Scene, model: Path, motion) -> None:
    from musclekit.pipelines.score.pose import ModelPoser

    poser = ModelPoser(model, motion)
    rows = np.clip(np.searchsorted(motion.time_s, scene.time_s), 0, len(motion.time_s) - 1)
    n_t = len(rows)
    bodies = np.empty((n_t, len(poser.bodies), 3))
    paths_per_frame = []
    for k, row in enumerate(rows):
        poser.pose(int(row))
        bodies[k] = poser.body_transforms()[0]
        paths_per_frame.append(poser.muscle_paths())
    scene.bodies, scene.body_names, scene.bones = bodies, poser.body_names, poser.bones
    scene.muscle_names = poser.muscle_names
    # A path's point count can change with the pose (conditional via points): pad each muscle
    # to its largest count with its last point (zero-length segments).
    most = [max(len(f[m]) for f in paths_per_frame) for m in range(len(poser.muscles))]
    seg_muscle = [m for m, n in enumerate(most) for _ in range(max(n - 1, 0))]
    segs = np.zeros((n_t, len(seg_muscle), 2, 3))
    for k, frame in enumerate(paths_per_frame):
        s = 0
        for m, n in enumerate(most):
            pts = frame[m]
            if n < 2:
                continue
            if len(pts) == 0:
                pts = np.zeros((n, 3))
            pts = np.concatenate([pts, np.repeat(pts[-1:], n - len(pts), axis=0)])
            segs[k, s:s + n - 1, 0] = pts[:-1]
            segs[k, s:s + n - 1, 1] = pts[1:]
            s += n - 1
    scene.muscle_segments, scene.segment_muscle = segs, np.array(seg_muscle, dtype=int)


def _grf(scene: Scene, ds, name: str, seq_id: str, t: np.ndarray) -> None:
    arr = ds.sequence_array(name, seq_id)
    index = {c: i for i, c in enumerate(arr.channels)}
    values = _resample(arr.time_s, arr.values, t)
    seq = ds.sequences[seq_id]
    subject = ds.subjects.get(seq.subject_id)
    # Arrow length: 1 m per body weight (per 1000 N without a mass).
    per_n = 1.0 / (subject.mass_kg * GRAVITY) if subject and subject.mass_kg else 1e-3
    arrows = np.full((len(t), 2, 2, 3), np.nan)
    names, curves = [], []
    for k, side in enumerate(("right", "left")):
        f = [f"ground_force_{side}_v{c}" for c in "xyz"]
        p = [f"ground_force_{side}_p{c}" for c in "xyz"]
        if not all(c in index for c in f):
            continue
        force = values[:, [index[c] for c in f]]
        names.append(f"{side} vertical (N)")
        curves.append(force[:, 1])
        if all(c in index for c in p):
            cop = values[:, [index[c] for c in p]]
            arrows[:, k, 0] = cop
            arrows[:, k, 1] = cop + force * per_n
    if names:
        scene.grf_arrows = arrows
        scene.curves["ground forces"] = (names, np.stack(curves, axis=1))


def activation_colors(activation: np.ndarray) -> np.ndarray:
    """(..., 3) uint8: blue (0) to red (1); grey where unknown."""
    a = np.clip(np.nan_to_num(activation, nan=-1.0), -1.0, 1.0)
    rgb = np.stack([40 + 215 * a, 60 + 0 * a, 255 - 215 * a], axis=-1)
    rgb[a < 0] = (150, 150, 150)
    return rgb.astype(np.uint8)
