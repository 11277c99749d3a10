"""Raw sEMG in align: decide raw or envelope, check the channels, compute the envelopes once,
and lay out the native-rate streams (`emg_raw`, `imu`, `analog`).

The envelope comes from the shared chain in `musclekit.emg`. It is computed once per channel
before the clock is solved, at an intermediate rate (>= 25x the envelope cut-off): the offset
refinement reads it like a sensor's envelope, and once the clock is known it is resampled
(anti-aliased) onto the grid. A dropout in a raw channel (a gap of more than 1.5 sample
periods) splits it into segments that are filtered separately, so no filter runs across
missing data; segments shorter than `MIN_SEGMENT_S` are left out and counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from musclekit import emg as emgproc
from musclekit.errors import InputError
from musclekit.pipelines.align.emg_csv import EmgChannel, EmgRecording

EMG_KINDS = ("auto", "raw", "envelope")
MIN_SEGMENT_S = 1.0
# Raw sEMG at the electrode stays well below this (a few mV at most, before any gain);
# larger values in a declared voltage unit mean the header's unit is wrong.
MAX_RAW_ELECTRODE_V = 0.1


@dataclass
class KindChoice:
    """Raw or envelope for the whole recording, why, and what each channel looked like."""

    kind: str
    source: str  # "data" or "--emg-kind"
    reason: str
    per_channel: dict[str, str] = field(default_factory=dict)


def _rate_hz(ch: EmgChannel) -> float:
    return 1.0 / ch.sample_period_s if np.isfinite(ch.sample_period_s) and ch.sample_period_s > 0 else 0.0


def check_not_constant(rec: EmgRecording) -> None:
    """An sEMG channel that never changes is a disconnected electrode or an unused input:
    its 'envelope' would be silence or filter ringing, not muscle activity. Such channels are
    left out with a warning naming them (a Nexus export lists every input of a 16-sensor
    base, used or not); when no sEMG channel changes at all, the file is refused."""
    flat = []
    for ch in rec.channels:
        finite = ch.values[np.isfinite(ch.values)]
        if finite.size and float(np.ptp(finite)) == 0.0:
            flat.append((ch, float(finite[0]), finite.size))
    if not flat:
        return
    if len(flat) == len(rec.channels):
        ch, value, n = flat[0]
        raise InputError(
            f"{rec.path}: sEMG channel {ch.name!r} is constant ({value:g} in all {n} samples)"
            + (f", and so is every other sEMG channel ({len(flat) - 1} more)" if len(flat) > 1 else "")
            + ": a disconnected electrode or an unused input. Leave it out with --channels "
            "(list the channels to keep)"
        )
    names = ", ".join(f"{ch.name!r} ({value:g} in all {n} samples)" for ch, value, n in flat)
    rec.warnings.append(
        f"{len(flat)} of {len(rec.channels)} sEMG channels are constant, left out (a disconnected "
        f"electrode or an unused input): {names}")
    gone = {id(ch) for ch, _, _ in flat}
    rec.channels = [ch for ch in rec.channels if id(ch) not in gone]


def choose_kind(rec: EmgRecording, requested: str) -> KindChoice:
    """`auto`: every sEMG channel classified by rate and content (`musclekit.emg.classify_kind`);
    they must agree. `raw` / `envelope`: as requested (the per-channel reasons are still kept)."""
    if requested not in EMG_KINDS:
        raise InputError(f"--emg-kind {requested!r}: use auto, raw or envelope")
    check_not_constant(rec)
    decisions = {ch.name: emgproc.classify_kind(ch.values, _rate_hz(ch)) for ch in rec.channels}
    per_channel = {name: f"{d.kind}: {d.reason}" for name, d in decisions.items()}
    if requested != "auto":
        return KindChoice(requested, "--emg-kind", f"--emg-kind {requested}", per_channel)
    kinds = {d.kind for d in decisions.values()}
    if len(kinds) > 1:
        moved = _slow_channels_beside_raw(rec, decisions)
        if moved:
            per_channel = {name: f"{d.kind}: {d.reason}" for name, d in decisions.items()}
            return KindChoice("raw", "data", next(d for d in decisions.values() if d.kind == "raw").reason
                              + f" (most channels; {len(moved)} slow ones moved to analog)", per_channel)
        raw = [n for n, d in decisions.items() if d.kind == "raw"]
        env = [n for n, d in decisions.items() if d.kind == "envelope"]
        raise InputError(
            f"{rec.path}: some sEMG channels look raw ({', '.join(raw)}) and others like envelopes "
            f"({', '.join(env)}); e.g. {env[0]}: {decisions[env[0]].reason}. Say which they are "
            "with --emg-kind raw or --emg-kind envelope, or keep one kind with --channels"
        )
    first = next(iter(decisions.values()))
    return KindChoice(first.kind, "data", first.reason, per_channel)


# Below this share of variance above 20 Hz a channel is smooth beyond doubt; between it and
# `emgproc.RAW_HF_SHARE` a channel is ambiguous (a quiet electrode whose baseline drifts).
SMOOTH_HF_SHARE = 0.2


def _slow_channels_beside_raw(rec: EmgRecording, decisions: dict) -> list[str]:
    """A lab export at a raw rate whose sEMG-named channels are mostly raw, with some smooth
    ones (a DAQ's other analog inputs, e.g. Nexus's `Imported Analog EMG - Voltage` 1-6 next
    to 16 Delsys sensors): the recording is raw. Smooth channels (< 20 % of variance above
    20 Hz) are not sEMG of this recording: they move to the `analog` stream, with a warning
    naming them; ambiguous ones (a quiet electrode with baseline drift) stay raw sEMG.
    Returns the moved names, or [] when raw channels are not the majority (then the file is
    refused as before: raw and envelope channels mixed)."""
    raw = [n for n, d in decisions.items() if d.kind == "raw"]
    smooth = [n for n, d in decisions.items() if d.kind == "envelope" and
              (not np.isfinite(d.hf_share) or d.hf_share < SMOOTH_HF_SHARE)]
    if not raw or len(raw) <= len(smooth):
        return []
    rates = {_rate_hz(ch) for ch in rec.channels if ch.name in smooth}
    if min(rates, default=0.0) < emgproc.MIN_RAW_RATE_HZ:
        return []  # slow channels by rate: envelopes sent by a sensor, a real mix
    for ch in [c for c in rec.channels if c.name in smooth]:
        ch.kind = "other"
        rec.channels.remove(ch)
        rec.others.append(ch)
    shares = ", ".join(f"{n!r} ({100 * decisions[n].hf_share:.0f} %)" for n in smooth)
    rec.warnings.append(
        f"{len(smooth)} of {len(decisions)} sEMG-named channels are smooth (share of variance "
        f"above 20 Hz in brackets) while {len(raw)} are raw sEMG: not sEMG of this recording "
        f"(other analog inputs), kept in the analog stream: {shares}. To treat them as sEMG "
        "envelopes, align them alone with --channels and --emg-kind envelope")
    for n in smooth:
        decisions.pop(n)
    return smooth


def check_raw(rec: EmgRecording, cfg: emgproc.EmgProcessing) -> None:
    """Before anything is written: the rate allows the band-pass, and values in a declared
    voltage unit are plausible for electrode sEMG (else the unit is mixed up)."""
    for ch in rec.channels:
        used, note = cfg.for_rate(_rate_hz(ch))
        if note and "band_hz_used" not in rec.notes:
            rec.notes["band_hz_used"] = note  # the default band lowered for a slow device
        used.check_rate(_rate_hz(ch), where=f"{rec.path}: sEMG channel {ch.name!r}")
        if ch.unit == "V" and ch.unit_declared and "ADC" not in ch.unit_declared:
            finite = ch.values[np.isfinite(ch.values)]
            level = float(np.percentile(np.abs(finite - np.median(finite)), 99)) if finite.size else 0.0
            if level > MAX_RAW_ELECTRODE_V:
                raise InputError(
                    f"{rec.path}: sEMG channel {ch.name!r} is declared in {ch.unit_declared} but its "
                    f"values reach {level / _unit_factor(ch.unit_declared):.4g} {ch.unit_declared} "
                    f"({level:.3g} V, 99th percentile): raw sEMG stays below a few mV, so the unit "
                    "in the header is wrong (values in uV or ADC counts?). Fix the unit in the "
                    "header, or leave the column out with --channels"
                )


def _unit_factor(declared: str) -> float:
    from musclekit.pipelines.align.channels import parse_unit

    info = parse_unit(declared)
    return info.factor if info else 1.0


@dataclass
class Segment:
    """A stretch of uniformly sampled raw data: envelope samples at `rate_hz` from `t0_ns`,
    fitted to the raw timestamps (so timestamp jitter does not enter the filters)."""

    t0_ns: int
    rate_hz: float
    envelope: np.ndarray
    edge_s: float  # filter start-up span at each end (one envelope cut-off period)

    @property
    def end_ns(self) -> int:
        return self.t0_ns + int(round((self.envelope.size - 1) / self.rate_hz * 1e9))


@dataclass
class RawEnvelopes:
    """Envelopes of every sEMG channel (same order as the recording), with what was dropped."""

    channels: list[list[Segment]]
    native_rate_hz: float
    intermediate_rate_hz: float
    short_segments_dropped: int

    def analysis_recording(self, rec: EmgRecording) -> EmgRecording:
        """The recording as envelope samples, for the offset refinement and drift estimate."""
        chans = []
        for ch, segs in zip(rec.channels, self.channels, strict=True):
            if not segs:
                continue
            t = np.concatenate([s.t0_ns + np.round(np.arange(s.envelope.size) * 1e9 / s.rate_hz).astype(np.int64)
                                for s in segs])
            v = np.concatenate([s.envelope for s in segs])
            chans.append(replace(ch, time_ns=t, values=v, lines=np.zeros(t.size, np.int64),
                                 sample_period_s=1.0 / segs[0].rate_hz))
        return replace(rec, channels=chans)

    def on_grid(self, to_video_s, grid_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(G, C) envelope values on the grid (NaN outside every segment) and a (G,) mask of
        rows within a filter start-up span of a segment end (values there are less certain).

        to_video_s: maps epoch ns on the sensor clock to video-clock seconds (the solved clock).
        """
        values = np.full((grid_s.size, len(self.channels)), np.nan)
        edge = np.zeros(grid_s.size, bool)
        for j, segs in enumerate(self.channels):
            for seg in segs:
                t0 = float(to_video_s(np.array([seg.t0_ns]))[0])
                t1 = float(to_video_s(np.array([seg.end_ns]))[0])
                # The rate on the video clock differs from the sensor's by the drift (ppm).
                rate = (seg.envelope.size - 1) / (t1 - t0) if t1 > t0 else seg.rate_hz
                col = emgproc.resample_to_grid(seg.envelope, rate, t0, grid_s)
                ok = np.isfinite(col)
                values[ok, j] = col[ok]
                edge |= ok & ((grid_s < t0 + seg.edge_s) | (grid_s > t1 - seg.edge_s))
        return values, edge


def uniform_segments(ch: EmgChannel) -> list[tuple[int, int]]:
    """[start, stop) index ranges between dropouts.

    Host timestamps of a device that samples on its own clock (packets over Bluetooth or
    USB) scatter around the true sample times without any sample being lost; only a jump
    beyond that scatter can be told from it. A dropout is an interval longer than 1.5 sample
    periods plus four times the timestamp jitter, after which the timestamps stay late: the
    median of (timestamp - k x period) over a window after it exceeds the one before it by
    at least half a period (one late stamp is not a dropout). Without jitter this is simply
    an interval over 1.5 periods.
    """
    t = ch.time_ns
    n = t.size
    if n < 2:
        return [(0, n)]
    period_ns = ch.sample_period_s * 1e9
    if not (np.diff(t) > 1.5 * period_ns).any():
        return [(0, n)]  # the common case of a wired system: nothing to examine
    resid = (t - t[0]).astype(np.float64) - np.arange(n) * period_ns
    # Jitter from residual differences 50 samples apart (independent errors: sd x sqrt(2));
    # the few dropouts barely move a median absolute deviation.
    lagged = resid[50:] - resid[:-50] if n > 100 else np.diff(resid)
    jitter = 1.4826 * float(np.median(np.abs(lagged - np.median(lagged)))) / np.sqrt(2.0)
    candidates = np.flatnonzero(np.diff(t) > 1.5 * period_ns + 4.0 * jitter)
    window = 25
    breaks = []
    for i in candidates:
        before = np.median(resid[max(0, i - window + 1): i + 1])
        after = np.median(resid[i + 1: i + 1 + window])
        if after - before >= 0.5 * period_ns:
            breaks.append(int(i) + 1)
    edges = [0, *breaks, n]
    return list(zip(edges[:-1], edges[1:], strict=True))


def raw_envelopes(rec: EmgRecording, cfg: emgproc.EmgProcessing) -> RawEnvelopes:
    """The envelope of every sEMG channel, segment by segment (see the module docstring)."""
    out: list[list[Segment]] = []
    dropped = 0
    mid = native = 0.0
    for ch in rec.channels:
        segs = []
        for lo, hi in uniform_segments(ch):
            n = hi - lo
            if n < 2:
                dropped += 1
                continue
            # A line through the timestamps (least squares, closed form): the device's own
            # rate on the sensor clock, robust to timestamp jitter and rounding. Every
            # step-th sample is plenty for two parameters and keeps this cheap at kHz rates.
            step = max(1, n // 100_000)
            k = np.arange(0, n, step, dtype=np.float64)
            t_rel = (ch.time_ns[lo:hi:step] - ch.time_ns[lo]).astype(np.float64)
            k_mean, t_mean = float(k.mean()), float(t_rel.mean())
            slope = float(((k - k_mean) * (t_rel - t_mean)).sum() / ((k - k_mean) ** 2).sum())
            icept = t_mean - slope * k_mean
            rate = 1e9 / slope
            if n / rate < MIN_SEGMENT_S:
                dropped += 1
                continue
            env, mid, first_s = emgproc.decimated_envelope(ch.values[lo:hi], rate, cfg.for_rate(rate)[0])
            native = rate
            t0_ns = int(ch.time_ns[lo] + round(icept + first_s * 1e9))
            segs.append(Segment(t0_ns=t0_ns, rate_hz=mid, envelope=env,
                                edge_s=1.0 / cfg.envelope_hz))
        out.append(segs)
    if not any(out):
        raise InputError(
            f"{rec.path}: no stretch of raw sEMG lasts {MIN_SEGMENT_S:g} s without a dropout, too short "
            "for the envelope filters"
        )
    return RawEnvelopes(channels=out, native_rate_hz=native, intermediate_rate_hz=mid,
                        short_segments_dropped=dropped)


def native_table(channels: list[EmgChannel]) -> tuple[np.ndarray, np.ndarray, float]:
    """Channels at their native rate as one table: (T,) epoch ns of the samples of the channel
    with the most of them, (T, C) values (each channel's nearest sample within half its
    period, else NaN: never interpolated), and the median rate in Hz."""
    base = max(channels, key=lambda ch: ch.time_ns.size)
    t = base.time_ns
    values = np.full((t.size, len(channels)), np.nan)
    for j, ch in enumerate(channels):
        if ch.time_ns.size == t.size and np.array_equal(ch.time_ns, t):
            values[:, j] = ch.values
            continue
        pos = np.clip(np.searchsorted(ch.time_ns, t), 1, max(ch.time_ns.size - 1, 1))
        before, after = ch.time_ns[pos - 1], ch.time_ns[np.minimum(pos, ch.time_ns.size - 1)]
        pick = np.where(np.abs(t - before) <= np.abs(after - t), pos - 1, pos)
        pick = np.minimum(pick, ch.time_ns.size - 1)
        ok = np.abs(ch.time_ns[pick] - t) <= 0.5 * ch.sample_period_s * 1e9
        values[ok, j] = ch.values[pick[ok]]
    rate = float(np.median([_rate_hz(ch) for ch in channels]))
    return t, values, rate
