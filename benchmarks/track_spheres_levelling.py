"""Experiment (issue 25): `track` with each foot sphere levelled to the sole, not each foot.

`track` raises each foot's spheres as one (solve.py `_foot_lifts`, `level_feet`). This
runs `validate_rajagopal_track.py` with that replaced by foot_spheres.sole_lifts: every
sphere moved along its frame's y so that its lowest point over the frames `inverse`'s
estimate loads its foot with over half the body weight (5 % quantile) is at the same
height as the other spheres' (the motion as IK gives it). The same arguments as
validate_rajagopal_track.py; compare with its run on a separate --work folder:

    python benchmarks/track_spheres_levelling.py --work /tmp/mk_sole --trial walk run \\
        --grf none --chunks 0

Then `python benchmarks/track_spheres.py W/<trial>/track_none/chunk0000` prints each
sphere's depth and force.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import validate_rajagopal_track  # noqa: E402


def use_sole_lifts() -> None:
    """Replace track's per-foot lifts by per-sphere ones (this process only)."""
    import opensim as osim

    from musclekit.errors import InputError
    from musclekit.pipelines.simulate.dynamics.methods.track import solve
    from musclekit.pipelines.simulate.dynamics.methods.track.foot_spheres import sole_lifts
    from musclekit.pipelines.simulate.dynamics.methods.track.grf_target import (
        estimate_on_mesh,
        per_foot,
    )

    def foot_lifts(tm, ctx) -> dict[str, float]:
        motion = ctx.motion
        try:
            values, _ = estimate_on_mesh(ctx, motion.time_s)
        except InputError:
            return {}
        loads = per_foot(values)[:, :, 1]
        q = np.column_stack([motion.column(c) for c in tm.coordinates])
        bottoms, names = {}, {}
        for i, side in enumerate(solve.SIDES):
            mine = [s for s, sp in enumerate(tm.spheres) if sp.body in ctx.prep.feet.get(side, [])]
            loaded = np.flatnonzero(loads[:, i] > 0.5 * ctx.body_weight_n)
            if not mine or loaded.size < 3:
                return {}
            bottoms[side] = np.array([tm.sphere_centres(q[k])[mine, 1]
                                      - tm.sphere_bottom_offsets[mine] for k in loaded])
            names[side] = [tm.spheres[s].name for s in mine]
        lifts = sole_lifts(bottoms)
        return {n: float(x) for side in lifts for n, x in zip(names[side], lifts[side],
                                                               strict=True)}

    def lifted_model(model_file, spheres, feet, lifts, path) -> str:
        model = osim.Model(model_file)
        geometry = model.updContactGeometrySet()
        for sphere in spheres:
            if sphere.name not in lifts:
                continue
            g = osim.ContactSphere.safeDownCast(geometry.get(sphere.name))
            loc = g.get_location()
            g.set_location(osim.Vec3(loc.get(0), loc.get(1) + lifts[sphere.name], loc.get(2)))
        path.parent.mkdir(parents=True, exist_ok=True)
        model.printToXML(str(path))
        return str(path)

    solve._foot_lifts = foot_lifts
    solve._lifted_model = lifted_model


if __name__ == "__main__":
    use_sole_lifts()
    raise SystemExit(validate_rajagopal_track.main())
