"""`musclekit view`: the browser viewer opened in headless Chromium (screenshot not blank,
the model drawn), the HTML and MP4 exports, and bad inputs with their messages."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from musclekit import open_dataset
from musclekit.cli.main import main
from musclekit.pipelines.view.scene import build_scene
from tests.helpers.score_fixtures import rajagopal_model, write_squat_dataset


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of a process group, from /proc."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            out.append(int(entry))
    return out


def _gone(pgid: int, wait_s: float = 5.0) -> bool:
    deadline = time.monotonic() + wait_s
    while _group_members(pgid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _stop_group(proc: subprocess.Popen, sig=signal.SIGTERM, wait_s: float = 15) -> None:
    """Signal the whole group (a browser's helpers outlive its main process), then wait."""
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=wait_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)
    if not _gone(proc.pid, 5.0):
        os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def model_ds(tmp_path_factory):
    if rajagopal_model() is None:
        pytest.skip("nimblephysics' Rajagopal2015 model is not installed")
    return write_squat_dataset(tmp_path_factory.mktemp("view") / "ds", ("planted",), n=40,
                               with_model=True)


@pytest.mark.timeout(90)
def test_viewer_in_headless_chromium_shows_the_model(model_ds, tmp_path):
    chromium = _chromium()
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it with apt-get; "
                    "its install failed or was not possible here)")
    port = _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    viewer = subprocess.Popen(
        [sys.executable, "-m", "musclekit.cli.main", "view", str(model_ds), "S01_planted",
         "--port", str(port), "--serve-for", "150"], stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in viewer.stdout], daemon=True).start()
    browser = None
    try:
        url, seen, deadline = None, [], time.monotonic() + 40
        while url is None and time.monotonic() < deadline and viewer.poll() is None:
            try:
                line = lines.get(timeout=0.5)
            except queue.Empty:
                continue
            seen.append(line)
            if line.startswith("viewer: http://"):
                url = line.split()[1]
        assert url == f"http://127.0.0.1:{port}", "".join(seen)[-2000:]
        assert any("ssh -N -L" in x for x in seen + [lines.get(timeout=5)])
        # The scene arrives over the viewer's websocket, which Chromium's virtual time does
        # not wait for: on a fast machine the first screenshot can precede it. Up to three
        # shots with longer budgets; the model must show in one of them.
        bone_px = 0
        for attempt, budget_ms in enumerate((6000, 15000, 30000)):
            shot = tmp_path / f"shot{attempt}.png"
            browser = subprocess.Popen(
                [chromium, "--headless", "--no-sandbox", "--use-angle=swiftshader",
                 "--enable-unsafe-swiftshader", "--disable-dev-shm-usage", "--no-first-run",
                 f"--user-data-dir={tmp_path / f'profile{attempt}'}", "--window-size=1100,800",
                 f"--virtual-time-budget={budget_ms}", f"--screenshot={shot}", url],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            browser.wait(timeout=90)
            import matplotlib.pyplot as plt

            img = (plt.imread(shot)[..., :3] * 255).astype(int)
            assert img.std() > 10, "the screenshot is blank"
            scene_area = img[150:, :700]  # left of viser's control panel, below its toast
            # the bones' green, as lit and shaded (its lightness varies with the lighting)
            r, g, b = scene_area[..., 0], scene_area[..., 1], scene_area[..., 2]
            bone_px = int(((g - np.maximum(r, b) > 50) & (g > 120)).sum())
            if bone_px > 150:
                break
        assert bone_px > 150, f"the model's bodies are not in the screenshot ({bone_px} px)"
    finally:
        if browser is not None:
            _stop_group(browser, signal.SIGKILL, 10)
        _stop_group(viewer)
    assert viewer.returncode == 0
    assert _gone(viewer.pid), "the viewer left processes behind"
    assert browser is None or _gone(browser.pid), "chromium left processes behind"


def test_scene_poses_the_model_and_colours_muscles(model_ds):
    scene = build_scene(open_dataset(model_ds), "S01_planted")
    assert scene.bodies.shape[1] == len(scene.body_names) and "pelvis" in scene.body_names
    assert scene.muscle_segments.shape[0] == scene.n_frames and len(scene.bones) > 10
    known = [m for m in scene.muscle_names if m in ("soleus_r", "vasint_l")]
    assert known and np.isfinite(scene.activation[:, scene.muscle_names.index(known[0])]).all()
    # The knees bend: the pelvis goes down and back up.
    pelvis = scene.bodies[:, scene.body_names.index("pelvis"), 1]
    assert pelvis.min() < pelvis[0] - 0.05
    assert set(scene.curves) == {"activations", "ground forces"}
    assert np.isfinite(scene.grf_arrows).all()


def test_html_and_mp4_exports(tmp_path):
    ds = write_squat_dataset(tmp_path / "ds", ("planted",), n=20)  # stick figure, no model
    html, mp4 = tmp_path / "v.html", tmp_path / "v.mp4"
    assert main(["view", str(ds), "S01_planted", "--html", str(html), "--mp4", str(mp4)]) == 0
    text = html.read_text()
    assert "<script" in text and "http" not in text.split("<script", 1)[1]  # self-contained
    assert '"stick":[[' in text
    import av

    with av.open(str(mp4)) as container:
        assert container.streams.video[0].frames == 10  # 50 Hz shown at 25 fps


def test_bad_inputs(tmp_path, capsys):
    from tests.helpers.format_factories import write_emg_dataset

    assert main(["view", str(tmp_path / "nowhere")]) == 1
    assert f"dataset {tmp_path / 'nowhere'} does not exist" in capsys.readouterr().err
    ds = write_squat_dataset(tmp_path / "ds", ("planted",), n=10,
                             streams=("markers",))
    assert main(["view", str(ds), "S09_jump", "--html", str(tmp_path / "v.html")]) == 1
    err = capsys.readouterr().err
    assert "sequence 'S09_jump' is not in" in err and "S01_planted" in err
    emg = write_emg_dataset(tmp_path / "emg")
    assert main(["view", str(emg), "seq0", "--html", str(tmp_path / "v.html")]) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert "sequence seq0 has nothing to show" in err and "its streams: emg" in err
    assert main(["view", str(ds), "--html", str(tmp_path / "no" / "v.html")]) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert f"the folder {tmp_path / 'no'} does not exist" in err
    assert main(["view", str(ds), "--html", str(tmp_path)]) == 1
    assert "is a folder; give a file name" in " ".join(capsys.readouterr().err.split())
