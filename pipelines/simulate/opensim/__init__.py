"""The one layer that talks to OpenSim: .trc/.mot/.sto files (`files`), loading models and
their coordinate units (`model`), OpenSim's log (`log`), evaluations of a model along a motion
(`evaluate`), ground forces as external loads (`external_loads`) and the small test model
shared by the tests and the demo (`test_model`). It imports nothing else of simulate."""
