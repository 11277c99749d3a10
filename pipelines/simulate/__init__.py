"""`musclekit simulate`: motion -> virtual markers -> OpenSim scaling, inverse kinematics
(part 1, this package) and muscle-driven optimisation (part 2, `dynamics/`)."""
