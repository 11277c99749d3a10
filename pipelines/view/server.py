"""The browser viewer: a viser server playing a Scene under a time slider."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable

import numpy as np

from musclekit.pipelines.view.scene import Scene, activation_colors

BONE_COLOR = (20, 190, 60)     # green: the model's bodies (the browser test looks for it)
STICK_COLOR = (90, 90, 90)
MARKER_COLOR = (20, 20, 20)
GRF_COLOR = (250, 160, 0)
CURVE_COLORS = ["#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
                "#17becf"]


def _finite(points: np.ndarray) -> np.ndarray:
    return np.nan_to_num(points, nan=0.0).astype(np.float32)


class Viewer:
    def __init__(self, scene: Scene, host: str, port: int) -> None:
        import viser
        import viser.uplot as uplot

        self.scene = scene
        self.server = viser.ViserServer(host=host, port=port, verbose=False)
        s = self.server.scene
        s.set_up_direction("+y")
        s.add_grid("/floor", width=6.0, height=6.0, plane="xz", cell_size=0.5)
        pts = np.concatenate([scene.points(k) for k in range(0, scene.n_frames,
                                                             max(1, scene.n_frames // 20))])
        centre = pts.mean(axis=0) if len(pts) else np.array([0.0, 1.0, 0.0])
        extent = float(np.ptp(pts, axis=0).max()) if len(pts) else 2.0
        self.server.initial_camera.look_at = tuple(float(v) for v in centre)
        self.server.initial_camera.position = tuple(float(v) for v in centre + np.array(
            [1.2, 0.4, 1.6]) * max(extent, 1.0) * 0.8)
        self.frame = 0
        g = self.server.gui
        g.add_markdown(f"**{scene.sequence_id}**  \n{scene.dataset}")
        self.slider = g.add_slider("time (s)", min=0, max=max(scene.n_frames - 1, 1), step=1,
                                   initial_value=0)
        self.playing = g.add_checkbox("play", initial_value=False)
        self.speed = g.add_slider("speed", min=0.1, max=2.0, step=0.1, initial_value=1.0)
        self.plots = {}
        for title, (names, values) in scene.curves.items():
            series = (uplot.Series(label="time (s)"),) + tuple(
                uplot.Series(label=n, stroke=CURVE_COLORS[i % len(CURVE_COLORS)], width=1.5)
                for i, n in enumerate(names))
            self.plots[title] = g.add_uplot(
                data=self._curve_data(values, scene.n_frames - 1), series=series, title=title,
                aspect=2.0, scales={"x": uplot.Scale(time=False, auto=False,
                                                     range=(float(scene.time_s[0]),
                                                            float(scene.time_s[-1])))})
        self.slider.on_update(lambda _: self.show(int(self.slider.value)))
        self.show(0)

    def _curve_data(self, values: np.ndarray, upto: int) -> tuple[np.ndarray, ...]:
        shown = values.astype(float).copy()
        shown[upto + 1:] = np.nan  # the curves run up to the current frame
        return (self.scene.time_s.astype(float),) + tuple(shown[:, i]
                                                          for i in range(shown.shape[1]))

    def show(self, k: int) -> None:
        """Draw frame k (re-adding a node under the same name replaces it)."""
        sc, s = self.scene, self.server.scene
        self.frame = k
        with self.server.atomic():
            if sc.markers is not None:
                s.add_point_cloud("/markers", _finite(sc.markers[k]), colors=MARKER_COLOR,
                                  point_size=0.02, point_shape="circle")
                if sc.stick:
                    seg = sc.markers[k][np.array(sc.stick)]
                    color = BONE_COLOR if sc.bodies is None else STICK_COLOR
                    s.add_line_segments("/stick", _finite(seg), colors=color, thickness=0.02
                                        if sc.bodies is None else 0.006)
            if sc.bodies is not None and sc.bones:
                s.add_line_segments("/bodies", _finite(sc.bodies[k][np.array(sc.bones)]),
                                    colors=BONE_COLOR, thickness=0.03)
                s.add_point_cloud("/joints", _finite(sc.bodies[k]), colors=BONE_COLOR,
                                  point_size=0.05, point_shape="circle")
            if sc.muscle_segments is not None and len(sc.segment_muscle):
                act = (sc.activation[k][sc.segment_muscle] if sc.activation is not None
                       else np.full(len(sc.segment_muscle), np.nan))
                colors = np.repeat(activation_colors(act)[:, None, :], 2, axis=1)
                s.add_line_segments("/muscles", _finite(sc.muscle_segments[k]), colors=colors,
                                    thickness=0.012)
            if sc.grf_arrows is not None:
                arrows = sc.grf_arrows[k]
                ok = np.isfinite(arrows).all(axis=(1, 2))
                if ok.any():
                    s.add_arrows("/grf", arrows[ok].astype(np.float32), colors=GRF_COLOR,
                                 shaft_radius=0.01, head_radius=0.025, head_length=0.05)
            self.slider.label = f"time {sc.time_s[k]:.2f} s"
            for title, (_, values) in sc.curves.items():
                self.plots[title].data = self._curve_data(values, k)

    def run(self, serve_for_s: float | None = None, on_ready: Callable[[str], None] | None = None
            ) -> None:
        """Serve until Ctrl-C, SIGTERM or serve_for_s seconds; always stops the server."""
        stop = threading.Event()
        previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
        if on_ready:
            on_ready(f"http://{self.server.get_host()}:{self.server.get_port()}")
        started = time.monotonic()
        dt = float(np.median(np.diff(self.scene.time_s))) if self.scene.n_frames > 1 else 0.1
        try:
            while not stop.is_set():
                if serve_for_s is not None and time.monotonic() - started > serve_for_s:
                    break
                if self.playing.value and self.scene.n_frames > 1:
                    self.slider.value = (self.frame + 1) % self.scene.n_frames
                    stop.wait(dt / float(self.speed.value))
                else:
                    stop.wait(0.1)
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)
            self.server.stop()
