"""Measured ground reaction forces in: a lab's force file (.mot/.sto) and, optionally, its
OpenSim ExternalLoads setup (.xml), turned into musclekit's 18 per-foot channels.

Which columns act on which foot:
- with an ExternalLoads XML (`--grf-setup`): each ExternalForce's `applied_to_body` names a
  foot body of the model (a body in the right or left foot's list), its identifiers name the
  columns (`<force_identifier>x/y/z`, likewise point and torque). Forces and points must be
  expressed in ground, as force plates give them (another frame is refused with a message);
- without one, by column names (documented in docs/dynamics.md):
  `ground_force_r_vx` ... `ground_torque_l_z` (OpenSim's gait examples, OpenCap),
  `R_ground_force_vx` ... (`R_`/`L_` prefix), or `r_ground_force_vx` ... (lower case).
  Numbered plates (`1_ground_force_vx`) say nothing about the foot on them: they need the
  XML (or a file renamed to one of the layouts above).
Several ExternalForces on one foot (two plates under one foot) are summed into one force,
one centre of pressure and one free torque about the vertical.

The force file's own rate is kept for reading; `resample` brings the channels onto the
kinematics' times after the same zero-lag low-pass the kinematics get, so that loads and
accelerations are filtered alike (OpenSim's own `lowpass_cutoff_frequency_for_load_kinematics`
practice).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from musclekit.errors import InputError

# musclekit's 18 per-foot ground-force channels (stream `grf`), in this order.
SIDES = ("right", "left")
GRF_CHANNELS = [
    f"ground_force_{s}_v{a}" for s in SIDES for a in "xyz"
] + [f"ground_force_{s}_p{a}" for s in SIDES for a in "xyz"] + [
    f"ground_torque_{s}_{a}" for s in SIDES for a in "xyz"
]
GRF_UNITS = ["N"] * 6 + ["m"] * 6 + ["N m"] * 6

DEFAULT_FEET = {"right": ("calcn_r", "toes_r"), "left": ("calcn_l", "toes_l")}


LAYOUTS = (
    # format strings for side letter s ("r"/"l") and kind k ("force_v", "force_p", "torque_")
    "ground_{k0}_{s}_{k1}",  # ground_force_r_vx, ground_torque_r_x
    "{S}_ground_{k}",  # R_ground_force_vx, R_ground_torque_x
    "{s}_ground_{k}",  # r_ground_force_vx
)


@dataclass
class Applied:
    """One ExternalForce: the side it loads and the column prefixes of its force, point and
    torque (each + x/y/z)."""

    name: str
    side: str
    body: str
    force: str
    point: str
    torque: str


@dataclass
class MeasuredGrf:
    """time_s (T,) at the force file's rate; values (T, 18) in GRF_CHANNELS order (N, m, N m,
    in ground); source: what was read, for the stream's provenance."""

    time_s: np.ndarray
    values: np.ndarray
    source: dict

    def resample(self, time_s: np.ndarray, cutoff_hz: float | None) -> np.ndarray:
        """(N, 18) at `time_s`: forces and torques low-passed (zero-lag) at `cutoff_hz` like
        the kinematics, centres of pressure where the foot is loaded (NaN elsewhere)."""
        from scipy.signal import butter, filtfilt

        vals = self.values.copy()
        idx = {c: i for i, c in enumerate(GRF_CHANNELS)}
        rate = 1.0 / float(np.median(np.diff(self.time_s)))
        loads = [i for c, i in idx.items() if "_p" not in c[-3:]]
        if cutoff_hz and cutoff_hz < rate / 2 and len(self.time_s) > 15:
            b, a = butter(4, cutoff_hz / (rate / 2))
            vals[:, loads] = filtfilt(b, a, vals[:, loads], axis=0)
        out = np.column_stack([np.interp(time_s, self.time_s, vals[:, j])
                               for j in range(vals.shape[1])])
        for side in SIDES:
            unloaded = ~(out[:, idx[f"ground_force_{side}_vy"]] > 1e-6)
            for a in "xyz":
                out[unloaded, idx[f"ground_force_{side}_p{a}"]] = np.nan
        return out


def _columns_by_layout(names: list[str]) -> list[Applied] | None:
    """The per-side column prefixes when the file follows one of LAYOUTS."""
    for layout in LAYOUTS:
        found = []
        for s, S in (("r", "R"), ("l", "L")):
            def col(kind: str, _s=s, _S=S, layout=layout) -> str:
                k0, _, k1 = kind.partition("_")
                return layout.format(s=_s, S=_S, k=kind, k0=k0, k1=k1)
            prefixes = {k: col(k) for k in ("force_v", "force_p", "torque_")}
            if all(f"{p}{a}" in names for p in prefixes.values() for a in "xyz"):
                found.append(Applied(name=f"{S}_GRF", side="right" if s == "r" else "left",
                                     body="", force=prefixes["force_v"],
                                     point=prefixes["force_p"], torque=prefixes["torque_"]))
        if len(found) == 2:
            return found
    return None


def _from_setup(xml_path: Path, feet: dict[str, list[str]], model_bodies: set[str] | None
                ) -> tuple[list[Applied], str]:
    """The ExternalForces of an OpenSim ExternalLoads file and its data file name."""
    import opensim as osim

    if not xml_path.is_file():
        raise InputError(f"external loads setup not found: {xml_path}")
    try:
        loads = osim.ExternalLoads(str(xml_path), True)
    except RuntimeError as err:
        raise InputError(f"{xml_path}: not an OpenSim ExternalLoads file ({err})") from None
    applied = []
    for i in range(loads.getSize()):
        ef = loads.get(i)
        name, body = ef.getName(), ef.get_applied_to_body()
        if model_bodies is not None and body not in model_bodies:
            raise InputError(
                f"{xml_path}: ExternalForce {name!r} is applied to body {body!r}, which the "
                f"model does not have (its foot bodies: {sorted(b for v in feet.values() for b in v)}); "
                "fix <applied_to_body> or pass the model the setup was written for")
        side = next((s for s, bodies in feet.items() if body in bodies), None)
        if side is None:
            raise InputError(
                f"{xml_path}: ExternalForce {name!r} is applied to {body!r}, not to a foot "
                f"body ({feet}); only ground reaction forces under the feet are supported")
        for what in ("force", "point"):
            frame = getattr(ef, f"get_{what}_expressed_in_body")()
            if frame != "ground":
                raise InputError(
                    f"{xml_path}: ExternalForce {name!r} gives its {what} in body {frame!r}; "
                    "musclekit reads force plates expressed in ground (set "
                    f"<{what}_expressed_in_body>ground</...>)")
        applied.append(Applied(name, side, body, ef.get_force_identifier(),
                               ef.get_point_identifier(), ef.get_torque_identifier()))
    if not applied:
        raise InputError(f"{xml_path}: the ExternalLoads file has no ExternalForce")
    return applied, loads.getDataFileName()


def read_measured_grf(grf_path: str | Path | None, setup_path: str | Path | None = None,
                      feet: dict[str, list[str]] | None = None,
                      model_bodies: set[str] | None = None) -> MeasuredGrf:
    """Read measured ground reaction forces (module docstring). `grf_path` may be None when
    the setup names its data file (relative to the setup's folder)."""
    from musclekit.pipelines.simulate.opensim.files import read_mot

    feet = feet or {"right": ["calcn_r", "toes_r"], "left": ["calcn_l", "toes_l"]}
    applied, data_name = None, ""
    if setup_path is not None:
        applied, data_name = _from_setup(Path(setup_path), feet, model_bodies)
    if grf_path is None:
        if not data_name or data_name == "Unassigned":
            raise InputError(f"{setup_path}: names no <datafile>; pass the force file with --grf")
        grf_path = Path(setup_path).parent / data_name
    grf_path = Path(grf_path)
    if not grf_path.is_file():
        raise InputError(f"force file not found: {grf_path}")
    data = read_mot(grf_path, rotational=set())
    names = data.names
    if applied is None:
        applied = _columns_by_layout(names)
        if applied is None:
            numbered = sorted({m.group(1) for n in names if (m := re.match(r"^(\d+)_ground_force", n))})
            hint = (f"its plates are numbered ({', '.join(numbered)}) and say nothing about the "
                    "foot on them" if numbered else f"its columns are {names[:6]}...")
            raise InputError(
                f"{grf_path}: cannot tell which columns act on which foot: {hint}; pass "
                "OpenSim's ExternalLoads setup with --grf-setup (which plate loads which "
                "body), or name the columns ground_force_r_vx ... ground_torque_l_z")
    for a in applied:
        missing = [f"{p}{x}" for p in (a.force, a.point, a.torque) for x in "xyz"
                   if f"{p}{x}" not in names]
        if missing:
            raise InputError(f"{grf_path}: the columns of {a.name} ({a.side} foot) are missing: "
                             f"{missing[:6]}; the file has {names[:8]}...")
    T = len(data.time_s)
    values = np.zeros((T, len(GRF_CHANNELS)))
    idx = {c: i for i, c in enumerate(GRF_CHANNELS)}

    def cols(prefix: str) -> np.ndarray:
        return np.column_stack([data.column(f"{prefix}{x}") for x in "xyz"])

    for side in SIDES:
        mine = [a for a in applied if a.side == side]
        if not mine:
            continue
        F = sum(cols(a.force) for a in mine)
        M = sum(np.cross(cols(a.point), cols(a.force)) + cols(a.torque) for a in mine)
        loaded = F[:, 1] > 1e-6
        height = float(np.median(np.concatenate([cols(a.point)[:, 1] for a in mine])))
        cop = np.full((T, 3), np.nan)
        torque = np.zeros((T, 3))
        for k in np.flatnonzero(loaded):
            cop[k], torque[k, 1] = centre_of_pressure(F[k], M[k], height)
        for i, a in enumerate("xyz"):
            values[:, idx[f"ground_force_{side}_v{a}"]] = F[:, i]
            values[:, idx[f"ground_force_{side}_p{a}"]] = np.where(loaded, cop[:, i], 0.0)
            values[:, idx[f"ground_torque_{side}_{a}"]] = torque[:, i]
    source = {"kind": "measured", "file": str(grf_path.resolve()),
              "setup": str(Path(setup_path).resolve()) if setup_path else None,
              "forces": [{"name": a.name, "side": a.side, "columns": [a.force, a.point, a.torque]}
                         for a in applied]}
    return MeasuredGrf(data.time_s, values, source)


def centre_of_pressure(force: np.ndarray, moment: np.ndarray, height: float
                       ) -> tuple[np.ndarray, float]:
    """The point on the floor plane y = `height` about which a wrench (force, moment about the
    ground origin) has no horizontal moment, and the free torque about the vertical left
    there. The force must push up (force[1] > 0)."""
    px = (moment[2] + height * force[0]) / force[1]
    pz = (height * force[2] - moment[0]) / force[1]
    return np.array([px, height, pz]), float(moment[1] - (pz * force[0] - px * force[2]))


def write_external_loads(time_s: np.ndarray, values: np.ndarray, mot_path, xml_path,
                         feet_bodies: dict[str, str]) -> None:
    """Write per-foot ground forces (T, 18) in GRF_CHANNELS order as an OpenSim ExternalLoads pair (.mot data + .xml description),
    forces and points expressed in ground, applied to the given body per side."""
    import opensim as osim

    from musclekit.pipelines.simulate.opensim.files import Motion, write_mot

    # An unloaded foot's centre of pressure is NaN in musclekit; OpenSim needs a number there
    # (the force is zero, so the point does not matter).
    write_mot(mot_path, Motion(np.asarray(time_s), list(GRF_CHANNELS), np.nan_to_num(values)),
              name="grf")
    loads = osim.ExternalLoads()
    loads.setDataFileName(str(mot_path))
    for side in SIDES:
        ef = osim.ExternalForce()
        ef.setName(f"grf_{side}")
        ef.set_applied_to_body(feet_bodies[side])
        ef.set_force_expressed_in_body("ground")
        ef.set_point_expressed_in_body("ground")
        ef.set_force_identifier(f"ground_force_{side}_v")
        ef.set_point_identifier(f"ground_force_{side}_p")
        ef.set_torque_identifier(f"ground_torque_{side}_")
        loads.cloneAndAppend(ef)
    loads.printToXML(str(xml_path))
