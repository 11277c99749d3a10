"""A Scene as a self-contained HTML player (no network, no server) or an MP4 (side view and
curves, for papers)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from musclekit.errors import InputError
from musclekit.pipelines.view.scene import Scene, activation_colors

MAX_HTML_FRAMES = 900


def _writable(path: Path, what: str) -> Path:
    path = Path(path)
    if path.is_dir():
        raise InputError(f"--{what} {path} is a folder; give a file name, e.g. {path}/view.{what}")
    if not path.parent.is_dir():
        raise InputError(f"--{what} {path}: the folder {path.parent} does not exist; create it "
                         "or choose another path")
    try:
        with open(path, "ab"):
            pass
    except OSError as err:
        raise InputError(f"--{what} {path} cannot be written ({err.strerror}); choose a folder "
                         "you can write") from err
    return path


def _r(a: np.ndarray | None, digits: int = 3):
    return None if a is None else np.round(np.nan_to_num(a, nan=np.nan), digits).tolist()


def scene_payload(scene: Scene) -> dict:
    idx = np.unique(np.linspace(0, scene.n_frames - 1,
                                min(scene.n_frames, MAX_HTML_FRAMES)).astype(int))

    def pick(a):
        return None if a is None else a[idx]

    colors = None
    if scene.muscle_segments is not None and scene.activation is not None:
        colors = activation_colors(scene.activation[idx][:, scene.segment_muscle]).tolist()

    def nan_to_none(x):
        return json.loads(json.dumps(x).replace("NaN", "null")) if x is not None else None

    return nan_to_none({
        "title": f"{scene.sequence_id} ({scene.dataset})",
        "t": _r(scene.time_s[idx]),
        "markers": _r(pick(scene.markers)), "stick": scene.stick,
        "bodies": _r(pick(scene.bodies)), "bones": scene.bones,
        "muscles": _r(pick(scene.muscle_segments)), "muscle_colors": colors,
        "grf": _r(pick(scene.grf_arrows)),
        "curves": {k: {"names": n, "values": _r(v[idx], 4)} for k, (n, v) in scene.curves.items()},
    })


_HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>musclekit view: __TITLE__</title>
<style>body{font-family:sans-serif;margin:12px}canvas{border:1px solid #ccc}
#c{display:block}.row{margin:6px 0}</style></head>
<body><div><b>__TITLE__</b> - side view (left) and front view (right), floor at y = 0;
muscles blue (inactive) to red (fully active), ground forces orange (1 m per body weight)</div>
<canvas id="v" width="900" height="420"></canvas>
<div class="row"><button id="p">play</button>
<input id="s" type="range" min="0" value="0" style="width:700px"> <span id="tl"></span></div>
<canvas id="c" width="900" height="220"></canvas>
<script id="data" type="application/json">__DATA__</script>
<script>
const D = JSON.parse(document.getElementById('data').textContent);
const v = document.getElementById('v').getContext('2d');
const c = document.getElementById('c').getContext('2d');
const s = document.getElementById('s'); const tl = document.getElementById('tl');
s.max = D.t.length - 1;
let pts = [];
for (const key of ['markers', 'bodies']) if (D[key]) for (const f of D[key]) for (const p of f) if (p[0] !== null) pts.push(p);
if (D.muscles) for (const f of D.muscles) for (const sg of f) pts.push(sg[0]);
const lo = [0,1,2].map(i => Math.min(...pts.map(p => p[i])));
const hi = [0,1,2].map(i => Math.max(...pts.map(p => p[i])));
const span = Math.max(hi[0]-lo[0], hi[1]-Math.min(lo[1],0), hi[2]-lo[2], 0.5) * 1.2;
const scale = 400 / span;
function proj(p, view) {  // view 0: side (x right, y up), 1: front (z right, y up)
  const h = view === 0 ? p[0] - (lo[0]+hi[0])/2 : p[2] - (lo[2]+hi[2])/2;
  return [225 + 450*view + h*scale, 400 - (p[1] - Math.min(lo[1], 0))*scale];
}
function line(a, b, color, w, view) {
  if (!a || !b || a[0] === null || b[0] === null) return;
  const p = proj(a, view), q = proj(b, view);
  v.strokeStyle = color; v.lineWidth = w; v.beginPath(); v.moveTo(p[0], p[1]); v.lineTo(q[0], q[1]); v.stroke();
}
function draw(k) {
  v.clearRect(0, 0, 900, 420);
  for (let view = 0; view < 2; view++) {
    line([lo[0]-span, 0, lo[2]-span], [hi[0]+span, 0, hi[2]+span], '#bbb', 1, view);
    if (D.bodies) for (const [a, b] of D.bones) line(D.bodies[k][a], D.bodies[k][b], 'rgb(20,190,60)', 5, view);
    if (D.muscles) D.muscles[k].forEach((sg, i) => {
      const col = D.muscle_colors ? D.muscle_colors[k][i] : [150,150,150];
      line(sg[0], sg[1], `rgb(${col[0]},${col[1]},${col[2]})`, 2, view); });
    if (D.markers) {
      for (const [a, b] of D.stick) line(D.markers[k][a], D.markers[k][b], D.bodies ? '#777' : 'rgb(20,190,60)', D.bodies ? 1 : 4, view);
      v.fillStyle = '#222';
      for (const p of D.markers[k]) if (p[0] !== null) { const q = proj(p, view); v.fillRect(q[0]-2, q[1]-2, 4, 4); }
    }
    if (D.grf) for (const ar of D.grf[k]) line(ar[0], ar[1], 'rgb(250,160,0)', 3, view);
  }
  tl.textContent = D.t[k].toFixed(2) + ' s';
  drawCurves(k);
}
const colors = ['#d62728','#1f77b4','#2ca02c','#ff7f0e','#9467bd','#8c564b','#e377c2','#17becf'];
function drawCurves(k) {
  c.clearRect(0, 0, 900, 220);
  const keys = Object.keys(D.curves); if (!keys.length) return;
  const w = 900 / keys.length, t0 = D.t[0], t1 = D.t[D.t.length-1] || 1;
  keys.forEach((key, j) => {
    const cv = D.curves[key]; const vals = cv.values.flat().filter(x => x !== null);
    const vmin = Math.min(...vals, 0), vmax = Math.max(...vals, 1e-9);
    const x = t => j*w + 30 + (t - t0) / (t1 - t0 || 1) * (w - 40), y = val => 190 - (val - vmin) / (vmax - vmin || 1) * 160;
    c.fillStyle = '#000'; c.fillText(key, j*w + 30, 14);
    cv.names.forEach((n, i) => {
      c.strokeStyle = colors[i % colors.length]; c.beginPath(); let on = false;
      D.t.forEach((t, f) => { const val = cv.values[f][i]; if (val === null) { on = false; return; }
        if (on) c.lineTo(x(t), y(val)); else c.moveTo(x(t), y(val)); on = true; });
      c.stroke(); c.fillStyle = colors[i % colors.length]; c.fillText(n, j*w + 30 + (i % 3) * 90, 205 + 10 * Math.floor(i / 3) - 10);
    });
    c.strokeStyle = '#000'; c.beginPath(); c.moveTo(x(D.t[k]), 20); c.lineTo(x(D.t[k]), 195); c.stroke();
  });
}
let timer = null;
s.oninput = () => draw(+s.value);
document.getElementById('p').onclick = () => {
  if (timer) { clearInterval(timer); timer = null; return; }
  const dt = D.t.length > 1 ? (D.t[1] - D.t[0]) * 1000 : 100;
  timer = setInterval(() => { s.value = (+s.value + 1) % D.t.length; draw(+s.value); }, dt);
};
draw(0);
</script></body></html>
"""


def write_html(scene: Scene, path: Path) -> Path:
    """One HTML file with the data and the player inside (opens offline, no server)."""
    path = _writable(path, "html")
    data = json.dumps(scene_payload(scene), separators=(",", ":")).replace("</", "<\\/")
    title = scene.sequence_id.replace("<", "").replace("&", "")
    path.write_text(_HTML.replace("__TITLE__", title).replace("__DATA__", data),
                    encoding="utf-8")
    return path


def write_mp4(scene: Scene, path: Path, fps: float | None = None) -> Path:
    """Side view (left) and the curves (right) per frame, H.264 (MPEG-4 Part 2 fallback)."""
    import av
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    path = _writable(path, "mp4")
    fps = fps or (1.0 / float(np.median(np.diff(scene.time_s))) if scene.n_frames > 1 else 10)
    fig = plt.figure(figsize=(9.6, 5.4), dpi=100)
    ax = fig.add_axes((0.03, 0.08, 0.45, 0.86))
    curve_axes = [fig.add_axes((0.56, 0.1 + i * 0.85 / max(len(scene.curves), 1), 0.42,
                               0.85 / max(len(scene.curves), 1) - 0.06))
                  for i in range(len(scene.curves))]
    pts = np.concatenate([scene.points(k) for k in range(scene.n_frames)])
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    span = max(float(np.ptp(pts[:, [0, 1]], axis=0).max()), 0.5) * 0.6
    cx = (lo[0] + hi[0]) / 2
    lines = []
    for axc, (title, (names, values)) in zip(curve_axes, scene.curves.items(), strict=True):
        for i, n in enumerate(names):
            axc.plot(scene.time_s, values[:, i], lw=1, label=n)
        axc.set_title(title, fontsize=8)
        axc.tick_params(labelsize=7)
        axc.legend(fontsize=6, loc="upper right", ncol=2)
        lines.append(axc.axvline(scene.time_s[0], color="k", lw=1))
    container = av.open(str(path), mode="w")
    codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
    stream = container.add_stream(codec, rate=max(1, round(fps)))
    stream.width, stream.height, stream.pix_fmt = 960, 540, "yuv420p"
    try:
        for k in range(scene.n_frames):
            ax.cla()
            ax.set_xlim(cx - span, cx + span)
            ax.set_ylim(min(lo[1], 0) - 0.05, min(lo[1], 0) - 0.05 + 2 * span)
            ax.set_aspect("equal")
            ax.axhline(0, color="0.7", lw=1)
            ax.set_title(f"{scene.sequence_id}  {scene.time_s[k]:.2f} s (side view)", fontsize=9)
            if scene.bodies is not None:
                for a, b in scene.bones:
                    seg = scene.bodies[k][[a, b]]
                    ax.plot(seg[:, 0], seg[:, 1], color=(0.08, 0.75, 0.24), lw=4)
            if scene.muscle_segments is not None:
                act = (scene.activation[k][scene.segment_muscle] if scene.activation is not None
                       else np.full(len(scene.segment_muscle), np.nan))
                ax.add_collection(LineCollection(scene.muscle_segments[k][:, :, :2],
                                                 colors=activation_colors(act) / 255.0, lw=1.5))
            if scene.markers is not None:
                for a, b in scene.stick:
                    seg = scene.markers[k][[a, b]]
                    ax.plot(seg[:, 0], seg[:, 1], color="0.4" if scene.bodies is not None
                            else (0.08, 0.75, 0.24), lw=1 if scene.bodies is not None else 3)
                ax.plot(scene.markers[k][:, 0], scene.markers[k][:, 1], "k.", ms=3)
            if scene.grf_arrows is not None:
                for start, end in scene.grf_arrows[k]:
                    if np.isfinite(start).all() and np.isfinite(end).all():
                        ax.annotate("", xy=(end[0], end[1]), xytext=(start[0], start[1]),
                                    arrowprops={"arrowstyle": "->", "color": "orange", "lw": 2})
            for ln in lines:
                ln.set_xdata([scene.time_s[k]] * 2)
            fig.canvas.draw()
            rgb = np.asarray(fig.canvas.buffer_rgba())[..., :3]
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    finally:
        container.close()
        plt.close(fig)
    return path
