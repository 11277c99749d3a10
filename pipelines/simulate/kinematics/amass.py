"""AMASS sequences: finding them and reading one `.npz` (SMPL-H poses, shape, translation).

AMASS stores a Z-up world; OpenSim is Y-up. `ZUP_TO_YUP` maps one to the other
(x stays, y_opensim = z_amass, z_opensim = -y_amass), a -90 degree rotation about x.
"""

from __future__ import annotations

import glob
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from musclekit.errors import InputError
from musclekit.pipelines.simulate.kinematics.bodymodel import GENDERS, N_POSE

AMASS_ROOT_ENV = "MUSCLEKIT_AMASS_ROOT"
ZUP_TO_YUP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])
_OTHER_MODELS = {72: "SMPL (24 joints x 3)", 165: "SMPL-X (55 joints x 3)",
                 159: "SMPL-H without hands in a different order"}


@dataclass
class AmassSequence:
    """One AMASS sequence: poses (T, 156) axis-angle rad, trans (T, 3) m (Z up),
    betas (B,), gender, frame rate (Hz)."""

    path: Path
    poses: np.ndarray
    trans: np.ndarray
    betas: np.ndarray
    gender: str
    rate_hz: float

    @property
    def n_frames(self) -> int:
        return int(self.poses.shape[0])

    @property
    def time_s(self) -> np.ndarray:
        return np.arange(self.n_frames) / self.rate_hz


def _text(value) -> str:
    v = np.asarray(value)
    v = v.item() if v.shape == () else v
    return v.decode() if isinstance(v, bytes) else str(v)


def open_npz(path: Path):
    """np.load of an AMASS `.npz`, with what is wrong with a damaged file said plainly."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"AMASS file {path} does not exist")
    if path.stat().st_size == 0:
        raise InputError(f"AMASS file {path} is empty (0 bytes): download it again, or remove "
                         "it from the folder")
    try:
        return np.load(path, allow_pickle=True)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise InputError(f"AMASS file {path} is not a readable .npz ({err}; truncated by an "
                         "interrupted download?): download it again, or remove it from the "
                         "folder") from None


def read_amass(path: Path) -> AmassSequence:
    """Read and check one AMASS SMPL-H `.npz`."""
    path = Path(path)
    with open_npz(path) as data:
        keys = set(data.files)
        rate_key = next((k for k in ("mocap_framerate", "mocap_frame_rate") if k in keys), None)
        missing = [k for k in ("poses", "trans", "betas", "gender") if k not in keys]
        if rate_key is None:
            missing.append("mocap_framerate (or mocap_frame_rate)")
        if missing:
            hint = (" (this looks like an AMASS shape.npz, which has no motion)"
                    if "poses" in missing and "betas" in keys else "")
            raise InputError(f"{path} is missing the AMASS keys {', '.join(missing)}{hint}; an "
                             "AMASS SMPL-H sequence has poses (N,156), trans (N,3), betas, "
                             "gender and mocap_framerate")
        poses = np.asarray(data["poses"], dtype=np.float64)
        trans = np.asarray(data["trans"], dtype=np.float64)
        betas = np.asarray(data["betas"], dtype=np.float64).reshape(-1)
        gender = _text(data["gender"]).strip().lower()
        rate_hz = float(np.asarray(data[rate_key]))
    if poses.ndim != 2:
        raise InputError(f"{path}: poses must be a (N, 156) array, got shape {poses.shape}")
    if poses.shape[1] != N_POSE:
        model = _OTHER_MODELS.get(poses.shape[1], "an unknown body model")
        raise InputError(f"{path}: poses have {poses.shape[1]} values a frame, the layout of "
                         f"{model}; musclekit needs SMPL-H poses (52 joints x 3 = 156). Use "
                         "the SMPL+H (not SMPL-X) download of AMASS")
    if poses.shape[0] == 0:
        raise InputError(f"{path}: zero-length sequence (poses has 0 frames)")
    if trans.shape != (poses.shape[0], 3):
        raise InputError(f"{path}: trans has shape {trans.shape}, expected ({poses.shape[0]}, 3) "
                         "to match poses")
    if gender not in GENDERS:
        raise InputError(f"{path}: unknown gender {gender!r}; expected one of "
                         f"{', '.join(GENDERS)}")
    if not (rate_hz > 0 and np.isfinite(rate_hz)):
        raise InputError(f"{path}: {rate_key}={rate_hz} is not a positive frame rate")
    bad = ~np.isfinite(poses).all(axis=1) | ~np.isfinite(trans).all(axis=1)
    if bad.any():
        raise InputError(f"{path}: frames {np.flatnonzero(bad)[:5].tolist()} hold NaN/inf poses "
                         "or translations")
    return AmassSequence(path=path, poses=poses, trans=trans, betas=betas, gender=gender,
                         rate_hz=rate_hz)


def _npz_under(folder: Path) -> list[Path]:
    # AMASS subject folders also hold shape.npz (betas only): it is not a sequence
    return sorted(p for p in folder.rglob("*.npz") if p.name != "shape.npz")


def resolve_sources(amass: list[str], amass_root: Path | None = None) -> list[tuple[Path, Path]]:
    """Turn --amass arguments (files, folders, globs, or sub-dataset names such as
    `BMLmovi` under --amass-root / $MUSCLEKIT_AMASS_ROOT) into (file, base folder) pairs;
    the base folder is what sequence ids are made relative to."""
    root = Path(amass_root) if amass_root else (
        Path(os.environ[AMASS_ROOT_ENV]) if os.environ.get(AMASS_ROOT_ENV) else None)
    found: list[tuple[Path, Path]] = []
    for arg in amass:
        p = Path(arg)
        if p.is_file():
            found.append((p, p.parent.parent))
        elif p.is_dir():
            found += [(f, p.parent) for f in _npz_under(p)]
        elif any(ch in arg for ch in "*?["):
            matches = sorted(Path(m) for m in glob.glob(arg, recursive=True) if m.endswith(".npz"))
            if not matches:
                raise InputError(f"--amass {arg}: the pattern matches no .npz file")
            found += [(m, m.parent.parent) for m in matches if m.name != "shape.npz"]
        elif root is not None and (root / arg).is_dir():
            found += [(f, root) for f in _npz_under(root / arg)]
        else:
            where = (f"no folder {root / arg}" if root is not None else
                     f"no --amass-root given and ${AMASS_ROOT_ENV} is not set")
            raise InputError(f"--amass {arg}: not a file, folder or pattern, and {where}. Give "
                             "the sub-dataset's folder, or --amass-root DIR with the AMASS "
                             "sub-datasets (e.g. DIR/BMLmovi)")
    if not found:
        raise InputError(f"--amass {' '.join(amass)}: no AMASS .npz sequences found")
    unique = {f.resolve(): (f, b) for f, b in found}
    return sorted(unique.values())


def sequence_id(path: Path, base: Path) -> str:
    """A dataset-safe id from the path below `base`: 'BMLmovi_Subject_1_F_MoSh_..._poses'."""
    try:
        rel = Path(path).resolve().relative_to(Path(base).resolve())
    except ValueError:
        rel = Path(Path(path).name)
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(rel.with_suffix("")).replace(os.sep, "_"))


def subject_id(path: Path) -> str:
    """AMASS keeps one subject per folder: the folder name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(path).parent.name or "subject")
