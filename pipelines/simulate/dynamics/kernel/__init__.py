"""What every dynamics method uses (docs/dynamics.md, "Layout"): the chunk plan, model
preparation, the OpenSim evaluations, method-independent physics (ground-force estimation
and contact phases, measured forces in, the contact law, filtering), the worker that runs one
chunk in its own process, the result store, stitching, writing and the run over a dataset.

Nothing here imports opensim at module level: `contact_law` is imported by the NLP child
processes, which must never load it."""
