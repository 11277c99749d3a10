"""Run VIBE from the user's own installation on the aligned frames.

VIBE (non-commercial licence) and its data files (SMPL, weights, the YOLO detector) are
manual downloads: musclekit never bundles or fetches them. The user points at a VIBE
checkout (`--vibe-root` or MUSCLEKIT_VIBE_ROOT) and the Python of VIBE's own environment
(`--vibe-python` or MUSCLEKIT_VIBE_PYTHON; default `<root>/vibe-env/bin/python`, where
VIBE's install_pip.sh puts it). Before anything runs, `check_vibe_install` lists every
missing piece at once, with where to get it.

Only the aligned frames are fed to VIBE (written as a 10 fps clip, one frame per distinct
`source_frame`), not every native frame. VIBE's demo drops tracklets shorter than 25
frames; at 10 fps that is 2.5 s of uninterrupted tracking, so shorter sequences are
refused up front with a clear message instead of silently coming back empty.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from musclekit.errors import MissingDependencyError, UnitFailedError

VIBE_REPO = "https://github.com/mkocabas/VIBE"
VIBE_MIN_TRACK_FRAMES = 25  # MIN_NUM_FRAMES in VIBE's demo.py
VIBE_DATA_DIR = Path("data") / "vibe_data"

# File in <root>/data/vibe_data -> what it is and where it comes from.
VIBE_DATA_FILES: dict[str, str] = {
    "vibe_model_wo_3dpw.pth.tar": "VIBE weights",
    "SMPL_NEUTRAL.pkl": "SMPL neutral body model (licensed; also from smpl.is.tue.mpg.de)",
    "J_regressor_extra.npy": "SPIN extra joint regressor",
    "smpl_mean_params.npz": "SMPL mean parameters",
}
VIBE_PYTHON_MODULES = ("torch", "joblib", "smplx", "multi_person_tracker")


@dataclass(frozen=True)
class VibeInstall:
    """A usable VIBE: its checkout and the interpreter of its environment."""

    root: Path
    python: Path

    def version(self) -> str:
        """The checkout's git commit when it is a git clone, else 'unknown'."""
        head = self.root / ".git" / "HEAD"
        if not head.is_file():
            return "unknown"
        ref = head.read_text().strip()
        if ref.startswith("ref: "):
            ref_file = self.root / ".git" / ref[5:]
            return ref_file.read_text().strip()[:12] if ref_file.is_file() else "unknown"
        return ref[:12]


def yolo_weights_path() -> Path:
    # VIBE's prepare_data.sh moves the detector weights here; the tracker would otherwise
    # try to download them at run time.
    return Path.home() / ".torch" / "models" / "yolov3.weights"


def check_vibe_install(root: Path | str | None, python: Path | str | None = None) -> VibeInstall:
    """Return the install, or raise MissingDependencyError naming every missing piece."""
    root = root or os.environ.get("MUSCLEKIT_VIBE_ROOT")
    python = python or os.environ.get("MUSCLEKIT_VIBE_PYTHON")
    get_vibe = (f"clone {VIBE_REPO}, create its environment with scripts/install_pip.sh "
                "(or install_conda.sh) and fetch its data with scripts/prepare_data.sh "
                "(VIBE and SMPL are licensed for non-commercial research only; musclekit "
                "never downloads them)")
    if root is None:
        raise MissingDependencyError(
            "--backend vibe needs your own VIBE installation: pass --vibe-root PATH (or set "
            f"MUSCLEKIT_VIBE_ROOT) to a VIBE checkout. To get one: {get_vibe}. Without VIBE, "
            "use --backend mediapipe, or import an existing result with --vibe-output"
        )
    root = Path(root).expanduser()
    if not (root / "demo.py").is_file() or not (root / "lib").is_dir():
        raise MissingDependencyError(
            f"--vibe-root {root} is not a VIBE checkout (no demo.py and lib/ there). "
            f"To get one: {get_vibe}"
        )
    python = Path(python).expanduser() if python else root / "vibe-env" / "bin" / "python"
    problems: list[str] = []
    data_dir = root / VIBE_DATA_DIR
    for name, what in VIBE_DATA_FILES.items():
        if not (data_dir / name).is_file():
            problems.append(f"{data_dir / name} ({what})")
    if problems:
        problems[-1] += (" -- all from VIBE's scripts/prepare_data.sh (vibe_data.zip), "
                         f"unpacked into {data_dir}")
    yolo = yolo_weights_path()
    if not yolo.is_file():
        problems.append(f"{yolo} (YOLOv3 detector weights used by VIBE's tracker; "
                        "prepare_data.sh moves data/vibe_data/yolov3.weights there)")
    if shutil.which("ffmpeg") is None:
        problems.append("the ffmpeg program on PATH (VIBE's demo.py extracts frames with it)")
    if not python.is_file():
        problems.append(f"{python} (the Python of VIBE's environment: pass --vibe-python or "
                        "set MUSCLEKIT_VIBE_PYTHON; install_pip.sh creates <root>/vibe-env)")
    else:
        check = subprocess.run(
            [str(python), "-c", "import " + ", ".join(VIBE_PYTHON_MODULES)],
            cwd=root, capture_output=True, text=True, timeout=300,
        )
        if check.returncode != 0:
            last = (check.stderr.strip().splitlines() or ["no output"])[-1]
            problems.append(f"VIBE's Python {python} cannot import "
                            f"{', '.join(VIBE_PYTHON_MODULES)} ({last}); install VIBE's "
                            "requirements into that environment")
    if problems:
        raise MissingDependencyError(
            f"VIBE at {root} is incomplete; missing: " + "; ".join(problems)
        )
    return VibeInstall(root=root, python=python)


def write_frames_clip(frames_rgb: Iterable[np.ndarray], path: Path, fps: int = 10) -> int:
    """Write frames as a near-lossless H.264 clip for VIBE; returns the number written.

    Odd sizes are padded at the right/bottom (H.264 4:2:0 needs even sizes), which keeps
    pixel coordinates unchanged.
    """
    n = 0
    with av.open(str(path), "w") as out:
        stream = None
        for frame in frames_rgb:
            h, w = frame.shape[:2]
            if stream is None:
                stream = out.add_stream("libx264", rate=fps)
                stream.width, stream.height = w + w % 2, h + h % 2
                stream.pix_fmt = "yuv420p"
                stream.options = {"crf": "12", "preset": "veryfast"}
            if w % 2 or h % 2:
                frame = np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)))
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                out.mux(packet)
            n += 1
        if stream is not None:
            for packet in stream.encode():
                out.mux(packet)
    return n


def run_vibe(install: VibeInstall, clip: Path, workdir: Path, timeout_s: float = 6 * 3600
             ) -> Path:
    """Run VIBE's demo.py on `clip`; returns the path of the vibe_output.pkl it wrote."""
    out_dir = workdir / "vibe_out"
    out_dir.mkdir(parents=True, exist_ok=True)
    cmd = [str(install.python), "demo.py", "--vid_file", str(clip.resolve()),
           "--output_folder", str(out_dir.resolve()), "--no_render"]
    try:
        done = subprocess.run(cmd, cwd=install.root, capture_output=True, text=True,
                              timeout=timeout_s)
    except subprocess.TimeoutExpired as err:
        raise UnitFailedError(f"VIBE did not finish within {timeout_s:.0f} s on {clip}") from err
    result = out_dir / clip.stem / "vibe_output.pkl"
    if done.returncode != 0 or not result.is_file():
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-8:])
        raise UnitFailedError(
            f"VIBE failed on {clip} (exit code {done.returncode}; command: {' '.join(cmd)} "
            f"in {install.root}); its last output:\n{tail}"
        )
    return result
