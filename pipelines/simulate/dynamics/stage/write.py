"""Stitch one sequence's chunk results and write them to the dataset as one unit."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from musclekit.dataset import Provenance, SequenceInfo, StreamSpec
from musclekit.dataset.writer import DatasetWriter
from musclekit.pipelines.simulate.dynamics.kernel.prep import PreparedModel
from musclekit.pipelines.simulate.dynamics.kernel.result import (
    OPTIONAL_STREAMS,
    STREAMS,
    ChunkOutput,
    ChunkReport,
    load_output,
)
from musclekit.pipelines.simulate.dynamics.kernel.stitch import ChunkSeries, stitch
from musclekit.pipelines.simulate.dynamics.methods import get_method
from musclekit.pipelines.simulate.dynamics.stage.config import DynamicsConfig
from musclekit.pipelines.simulate.dynamics.stage.jobs import SequenceJob, unit_id
from musclekit.pipelines.simulate.dynamics.stage.worker import chunk_name
from musclekit.pipelines.simulate.opensim.external_loads import GRF_CHANNELS, GRF_UNITS

STREAM_FAMILY = {
    "activations": "activations",
    "muscle_forces": "muscle_forces",
    "grf": "grf",
    "joint_angles_solved": "joint_angles",
    "residuals": "residuals",
    "joint_moments": "joint_torques",
}


def channels_of(prep_folder: Path) -> ChunkOutput | None:
    """The streams' channels and units of a prepared model, without values (None when the
    preparation itself failed)."""
    import opensim as osim

    from musclekit.pipelines.simulate.opensim.model import coordinate_units

    if not (Path(prep_folder) / "prep.json").is_file():
        return None
    prep = PreparedModel.load(prep_folder)
    units = coordinate_units(osim.Model(str(Path(prep_folder) / prep.model_path)))
    res = list(prep.residuals) + list(prep.reserves)
    res_coords = list(prep.root_coordinates) + list(prep.reserves.values())
    empty = np.zeros(0)
    muscles = list(prep.muscles)
    coords = [c for c in prep.coordinates if c in units]
    return ChunkOutput(
        time_s=empty, values={},
        channels={"activations": muscles, "muscle_forces": muscles, "grf": list(GRF_CHANNELS),
                  "joint_angles_solved": coords, "residuals": res},
        units={"activations": [""] * len(muscles), "muscle_forces": ["N"] * len(muscles),
               "grf": list(GRF_UNITS), "joint_angles_solved": [units[c] for c in coords],
               "residuals": ["N" if units[c] == "m" else "N m" for c in res_coords]})


def write_sequence(writer: DatasetWriter, job: SequenceJob, reports: list[ChunkReport],
                   cfg: DynamicsConfig, prep_failed: dict, prep_folder: Path | None = None
                   ) -> bool:
    """Stitch one sequence's chunks and write its streams and chunk table as one unit;
    True when at least one chunk converged (False: every row is a gap)."""
    outputs = [
        load_output(job.out_dir, chunk_name(c)) if r.status == "converged" else None
        for c, r in zip(job.chunks, reports, strict=True)
    ]
    template = next((o for o in outputs if o is not None), None)
    solved = template is not None
    if template is None and prep_folder is not None:
        # No chunk converged: the streams still get their rows, all MISSING (a reader sees
        # the sequence was attempted and has no result, never a silent absence).
        template = channels_of(prep_folder)
    sources = {r.diagnostics.grf_source for r in reports if r.status == "converged"} - {None}
    grf_source = ("measured (force plates)" if sources == {"measured"} else
                  "estimated from the kinematics" if sources == {"estimated"} else
                  "contact model" if get_method(cfg.method).contact else ", ".join(sorted(sources)))
    streams = []
    names = [n for n in (*STREAMS, *OPTIONAL_STREAMS)
             if template is not None and n in template.channels]
    if template is not None:
        for name in names:
            units = template.units[name]
            spec_units = None if name in ("activations", "muscle_forces") else units
            streams.append(StreamSpec(
                name=name, family=STREAM_FAMILY[name], rate_hz=cfg.output_rate_hz,
                channels=list(template.channels[name]), units=spec_units, clock="motion",
                description=f"musclekit simulate dynamics ({cfg.method}), stitched chunks"
                + (f"; ground forces {grf_source}" if name == "grf" else ""),
            ))
        writer.add_streams(streams)
    seq = job.sequence
    stitched_info: dict = {}
    prov = Provenance.for_stage("simulate-dynamics", config=cfg.to_dict(),
                                inputs=[job.model_path, job.motion_path])
    with writer.unit(unit_id(job), provenance=prov) as u:
        if template is not None:
            for name in names:
                series = [
                    None if o is None or not solved else ChunkSeries(o.time_s, o.values[name])
                    for o in outputs
                ]
                st = stitch(job.chunks, series, job.t0, job.t1,
                            len(template.channels[name]), cfg.chunk, cfg.output_rate_hz)
                # No clipping: a chunk whose activations leave [0, 1] beyond the format's
                # tolerance has failed already (stage/worker.py), and the writer checks the
                # stitched range itself.
                values = st.values
                # Times on the motion's own clock, as the kinematics streams keep them (a
                # marker file that starts at 0.5 s starts every stream at 0.5 s).
                stitched_info = {"seams_s": list(st.seams_s),
                                 "gaps_s": [[a, b] for a, b in st.gaps_s],
                                 "analysed_s": float((~st.missing).sum() / cfg.output_rate_hz),
                                 "analysed_share": float((~st.missing).mean())}
                info = SequenceInfo(
                    id=seq.id, subject_id=seq.subject_id, source=seq.source, label=seq.label,
                    start_time_ns=seq.start_time_ns,
                    extra={"dynamics": {"method": cfg.method, "grf_source": grf_source,
                                        **stitched_info}},
                )
                u.write_sequence(name, info, time_s=st.time_s, values=values)
        rows = []
        for c, r in zip(job.chunks, reports, strict=True):
            row = asdict(r)
            del row["diagnostics"]
            row["extra"] = json.dumps(r.diagnostics.present())[:4000]
            row["saturated_muscles"] = ",".join(row["saturated_muscles"])
            row["chunk_id"] = c.id
            rows.append(row)
        u.write_table("chunks", pd.DataFrame(rows))
    return solved
