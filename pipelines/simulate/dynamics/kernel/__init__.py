"""What every dynamics method uses (docs/dynamics.md, "Layout"): the chunk plan, model
preparation, the shared solver settings, filtering, the contact law (pure), solution quality
measures, the result store and stitching. It imports neither `stage` nor `methods`.

Nothing here imports opensim at module level: `contact_law` is imported by the NLP child
processes, which must never load it."""
