"""Marker-set presets: the marker sets labs actually use, placed on the default model's bodies.

Each `<name>.json` lists its markers by the set's published anatomical definition (the
`landmark` of each) and a place on a Rajagopal2015 body (`body`, `location` in m in the
body's frame) taken from the model's own bony-landmark markers (see each file's `source`).
Names with `{S}` exist on both sides (`sides` gives the prefixes; `{s}` in a body name is
`r`/`l`; the left place mirrors z); `names` gives per-side names that do not follow the
pattern. `kind: tracking` marks markers whose place on the segment is arbitrary (wands,
clusters, mid-segment markers): the registration may move them further (autoscale.py).
The registration then refines every place per subject; a trial's markers that a preset does
not name are simply not used.

`--marker-set NAME` takes a preset by name (or an alias below); any other value is a path to
the lab's own OpenSim MarkerSet XML, as before.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from musclekit.errors import InputError

HERE = Path(__file__).parent
ALIASES = {"pig": "plug-in-gait", "plugingait": "plug-in-gait", "plug-in-gait-lower":
           "plug-in-gait", "plug-in-gait-full": "plug-in-gait", "davis": "helen-hayes",
           "helenhayes": "helen-hayes", "uw": "uw-lenhart", "uw-dotted": "uw-lenhart"}


@dataclass
class PresetMarker:
    name: str
    body: str
    location: np.ndarray
    landmark: str
    tracking: bool


def preset_names() -> list[str]:
    return sorted(p.stem for p in HERE.glob("*.json"))


def is_preset(value: str | None) -> bool:
    """A --marker-set value that names a preset (not an existing file)."""
    if value is None:
        return False
    key = str(value).lower()
    return (key in preset_names() or key in ALIASES) and not Path(value).is_file()


def _canonical(name: str) -> str:
    key = name.lower()
    key = ALIASES.get(key, key)
    if key not in preset_names():
        raise InputError(f"--marker-set {name}: no such preset and no such file; presets: "
                         f"{', '.join(preset_names())} (or the path of an OpenSim MarkerSet "
                         "XML)")
    return key


def load_preset(name: str) -> list[PresetMarker]:
    """The preset's markers on both sides."""
    data = json.loads((HERE / f"{_canonical(name)}.json").read_text())
    sides = data["sides"]
    out: list[PresetMarker] = []
    for m in data["markers"]:
        loc = np.asarray(m["location"], dtype=float)
        tracking = m.get("kind") == "tracking"
        if "{S}" in m["name"] or "names" in m:
            for s, prefix in sides.items():
                name = m.get("names", {}).get(s) or m["name"].replace("{S}", prefix)
                mirrored = loc * (np.array([1.0, 1.0, -1.0]) if s == "l" else 1.0)
                out.append(PresetMarker(name, m["body"].replace("{s}", s), mirrored,
                                        m["landmark"], tracking))
        else:
            out.append(PresetMarker(m["name"], m["body"], loc, m["landmark"], tracking))
    return out


def tracking_markers(name: str) -> set[str]:
    return {m.name for m in load_preset(name) if m.tracking}


def write_markerset(name: str, out_path: Path, model_path: Path | None = None) -> Path:
    """The preset as an OpenSim MarkerSet XML (markers on bodies the model lacks are left
    out; the model is the default Rajagopal2015 unless given)."""
    import opensim as osim

    bodies = None
    if model_path is not None:
        model = osim.Model(str(model_path))
        bs = model.getBodySet()
        bodies = {bs.get(i).getName() for i in range(bs.getSize())}
    ms = osim.MarkerSet()
    for m in load_preset(name):
        if bodies is not None and m.body not in bodies:
            continue
        marker = osim.Marker()
        marker.setName(m.name)
        marker.setParentFrameName(f"/bodyset/{m.body}")
        marker.set_location(osim.Vec3(*[float(x) for x in m.location]))
        ms.cloneAndAppend(marker)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    ms.printToXML(str(out_path))
    return out_path


def resolve_marker_set(value: str | None, out_dir: Path,
                       model_path: Path | None = None) -> tuple[Path | None, set[str] | None]:
    """--marker-set: a preset name -> its MarkerSet XML written into `out_dir` and the names
    of its tracking markers; a path -> itself (and None: markers are classed by name)."""
    if value is None:
        return None, None
    if is_preset(value) or not Path(value).is_file():
        name = _canonical(str(value))
        return (write_markerset(name, Path(out_dir) / f"preset_{name}.xml", model_path),
                tracking_markers(name))
    return Path(value).resolve(), None


def check_marker_set(value: str | None) -> None:
    """Refuse a --marker-set that is neither a preset nor a file, listing the presets."""
    if value is None or is_preset(value) or Path(value).is_file():
        return
    if Path(value).suffix.lower() in (".xml", ".osim") or "/" in str(value):
        raise InputError(f"--marker-set file not found: {value} (or name a preset: "
                         f"{', '.join(preset_names())})")
    _canonical(str(value))
