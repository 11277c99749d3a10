"""Settings of the `inverse` method."""

from __future__ import annotations

from dataclasses import dataclass

from musclekit.pipelines.simulate.dynamics.kernel.settings import SolveSettings
from musclekit.pipelines.simulate.dynamics.methods.inverse.contact_phases import ContactRule


@dataclass
class InverseSettings(SolveSettings):
    """Ground forces without plates (methods/inverse/grf.py, methods/inverse/contact_phases.py):
    contact_*: a foot point touches down within `contact_height_on_m` of its ground level and
        slower than `contact_speed_on_m_s`, and lifts off above `contact_height_off_m` or
        faster than `contact_speed_off_m_s` (hysteresis).
    cop_margin_m: how far beyond the hull of a foot's contact points its centre of pressure
        may lie; None: from the foot's contact spheres.
    cop_path: "rolling" (each stance's centre of pressure on a heel-to-toe line fitted to the
        whole-body one) or "moment" (the whole-body one frame by frame).
    force_aim: where a hand-over's foot forces point, "leading share" (the rule: the leading
        foot's tilt towards the centre of mass scaled by its load share), "com" (both at the
        centre of mass, the rule before ESTIMATE_RULE_VERSION 10) or "pivot".
    grf_file, grf_setup: measured forces (applied instead of estimated when given)."""

    contact_height_on_m: float = 0.03
    contact_height_off_m: float = 0.05
    contact_speed_on_m_s: float = 0.6
    contact_speed_off_m_s: float = 1.2
    cop_margin_m: float | None = None
    cop_path: str = "rolling"
    force_aim: str = "leading share"
    # Measured ground reaction forces instead of the estimate (opensim/external_loads.py):
    # the lab's force file and, optionally, its OpenSim ExternalLoads setup; set per
    # sequence from its kinematics' metadata (`--grf`, `--grf-setup`).
    grf_file: str | None = None
    grf_setup: str | None = None

    def contact_rule(self) -> ContactRule:
        return ContactRule(self.contact_height_on_m, self.contact_height_off_m,
                           self.contact_speed_on_m_s, self.contact_speed_off_m_s,
                           cop_path=self.cop_path, force_aim=self.force_aim)
