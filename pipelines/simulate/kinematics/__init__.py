"""simulate, part 1: motion in (AMASS bodies, a lab's TRC/C3D) -> markers -> OpenSim scaling
and inverse kinematics, one sequence per unit of work. Nothing here imports part 2
(`..dynamics`); what part 2 needs from a sequence is its `KinematicsRecord`."""
