"""The `musclekit inspect` summary of a dataset."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from rich import box
from rich.console import Console
from rich.table import Column, Table

from musclekit.dataset.reader import open_dataset


def dataset_summary(path: str | Path) -> dict:
    """Numbers behind `inspect`: per stream hours, sequences, channels, missing share, gaps;
    `damaged`: finished units whose files no longer match their record (size, SHA-256),
    which a rerun of their stage redoes."""
    from musclekit.dataset.integrity import dataset_damage

    ds = open_dataset(path)
    damage = dataset_damage(path)
    damaged_files = {d.path for d in damage}
    streams = {}
    for name, spec in ds.streams.items():
        items = [ds.sequence_stream(s, name) for s in ds.sequence_ids(name)]
        frames = sum(i.n_frames for i in items)
        missing = sum(i.n_missing for i in items)
        hours = sum(i.duration_s for i in items) / 3600.0
        streams[name] = {
            "family": spec.family, "rate_hz": spec.rate_hz, "channels": len(spec.channels),
            "sequences": len(items), "frames": frames, "hours": hours,
            "missing_share": missing / frames if frames else 0.0,
            "gaps": sum(len(i.gaps) for i in items),
        }
    stages = defaultdict(int)
    for record in ds.records:
        stages[(record.provenance.stage, record.provenance.package_version)] += 1
    labels = defaultdict(int)
    for seq in ds.sequences.values():
        labels[seq.label or "(none)"] += 1
    solved = {}
    chunk_files = {t.path for r in ds.records for t in r.tables if t.name == "chunks"}
    chunks = ds.read_table("chunks") if not chunk_files & damaged_files else None
    if chunks is not None and chunks.height and {"sequence_id", "status", "core_start_s", "core_end_s"} <= set(chunks.columns):
        for seq_id in sorted(set(chunks["sequence_id"].to_list())):
            rows = chunks.filter(chunks["sequence_id"] == seq_id)
            core_s = (rows["core_end_s"] - rows["core_start_s"])
            ok = rows["status"] == "converged"
            solved[seq_id] = {"converged": int(ok.sum()), "failed": int((~ok).sum()),
                              "converged_s": float(core_s.filter(ok).sum()),
                              "gap_s": float(core_s.filter(~ok).sum())}
    from musclekit.quality import dataset_quality

    quality = [{"kind": q.kind, "where": q.where, "message": q.message}
               for q in dataset_quality(ds)]
    return {
        "name": ds.info.name, "quality": quality,
        "damaged": [{"unit": d.unit_id, "path": d.path, "problem": d.problem,
                     "message": d.sentence()} for d in damage],
        "chunks": solved, "format_version": ds.info.format_version,
        "subjects": len(ds.subjects), "sequences": len(ds.sequences), "units": len(ds.records),
        "streams": streams, "labels": dict(labels),
        "provenance": [{"stage": s, "version": v, "units": n} for (s, v), n in stages.items()],
    }


def _id_column(header: str, values, justify: str = "left") -> Column:
    """A column whose cells are never truncated nor wrapped (ids the user types next)."""
    width = max([len(header)] + [len(str(v)) for v in values])
    return Column(header, no_wrap=True, min_width=width, overflow="fold",
                  justify=justify)  # type: ignore[arg-type]


def render_summary(path: str | Path, console: Console) -> dict:
    summary = dataset_summary(path)
    console.print(f"[bold]{summary['name']}[/]  format {summary['format_version']}  "
                  f"{summary['subjects']} subjects, {summary['sequences']} sequences, "
                  f"{summary['units']} finished units")
    # Ids the user types next (stream, family) are never cut: every column keeps the width
    # of its longest cell (short headers), which fits 80 columns for the usual names.
    rows = [[name, s["family"], f"{s['rate_hz']:g}" if s["rate_hz"] else "-",
             str(s["channels"]), str(s["sequences"]), f"{s['hours']:.3f}",
             f"{100 * s['missing_share']:.1f}%", str(s["gaps"])]
            for name, s in summary["streams"].items()]
    headers = ("stream", "family", "Hz", "ch", "seqs", "hours", "missing", "gaps")
    table = Table(*(_id_column(h, [r[i] for r in rows], justify="left" if i < 2 else "right")
                    for i, h in enumerate(headers)),
                  title="streams", box=box.SIMPLE_HEAD, padding=(0, 1), show_edge=False)
    for row in rows:
        table.add_row(*row)
    console.print(table)
    if summary["chunks"]:
        chunk_table = Table(_id_column("sequence", summary["chunks"]), "chunks converged",
                            "failed", "converged s", "gap s", title="muscle-driven chunks")
        for seq_id, c in summary["chunks"].items():
            chunk_table.add_row(seq_id, str(c["converged"]), str(c["failed"]),
                                f"{c['converged_s']:.2f}", f"{c['gap_s']:.2f}")
        console.print(chunk_table)
    if summary["labels"]:
        console.print("labels: " + ", ".join(f"{k} ({v})" for k, v in sorted(summary["labels"].items())))
    for item in summary["provenance"]:
        console.print(f"provenance: stage {item['stage']} (musclekit {item['version']}), "
                      f"{item['units']} units")
    for item in summary["damaged"]:
        console.print(f"[red]damaged[/]: {item['message']}", soft_wrap=True)
    from musclekit.progress import warn

    for item in summary["quality"]:
        warn(item["message"])
    return summary
