"""What a dynamics run did, for its summary line and exit code."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from musclekit.errors import ExitCode


@dataclass
class DynamicsReport:
    """What a run did: chunk counts, sequences written, failures with reasons."""

    chunks_done: int = 0
    chunks_skipped: int = 0
    chunks_failed: dict[str, str] = field(default_factory=dict)
    sequences_written: list[str] = field(default_factory=list)
    # written with every row a gap: no chunk converged
    sequences_unsolved: list[str] = field(default_factory=list)
    sequences_skipped: list[str] = field(default_factory=list)
    chunk_seconds: list[float] = field(default_factory=list)
    upper_written: list[str] = field(default_factory=list)
    upper_skipped: list[str] = field(default_factory=list)
    upper_failed: dict[str, str] = field(default_factory=dict)
    # track: per solved chunk, its contact forces against inverse's per-foot estimate
    # (ChunkDiagnostics.grf_vs_estimate)
    contact_agreement: dict[str, dict] = field(default_factory=dict)

    def exit_code(self) -> ExitCode:
        return (ExitCode.PARTIAL if self.chunks_failed or self.upper_failed
                or self.sequences_unsolved else ExitCode.OK)

    def contact_lines(self) -> list[str]:
        """One line per track chunk: how far its contact forces are from the estimate, so a
        user sees a chunk whose contact wandered off."""
        return [f"  {uid}: contact force vs inverse's estimate, vertical RMSE "
                + ", ".join(f"{s} {a[f'{s}_rmse_bw_pct']:.1f} % BW (PCC {a[f'{s}_pcc']})"
                            for s in ("right", "left"))
                for uid, a in sorted(self.contact_agreement.items())]

    def summary(self) -> str:
        timing = ""
        if self.chunk_seconds:
            median, p90 = np.percentile(self.chunk_seconds, [50, 90])
            timing = f"; solve time per chunk median {median:.1f} s, p90 {p90:.1f} s"
        upper = ""
        if self.upper_written or self.upper_skipped or self.upper_failed:
            upper = (f"; upper body: {len(self.upper_written)} written, "
                     f"{len(self.upper_skipped)} skipped, {len(self.upper_failed)} failed")
        return (f"chunks: {self.chunks_done} solved, {self.chunks_skipped} skipped (done before), "
                f"{len(self.chunks_failed)} failed{timing}; sequences written: "
                f"{len(self.sequences_written)}"
                + (f", {len(self.sequences_unsolved)} without any solved chunk (all rows "
                   "gaps)" if self.sequences_unsolved else "") + upper)
