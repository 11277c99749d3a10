"""Simulated muscle activations against measured EMG: `musclekit compare-emg`.

The EMG goes through the same chain `align` uses for raw sEMG (`musclekit.emg`: offset
removal, 20-450 Hz band-pass, full-wave rectification, 6 Hz zero-lag envelope), then is
normalised to its peak in the analysed window, as is the field's practice when no maximum
voluntary contraction was recorded. Each EMG channel is matched to one or more model muscles
(the mean of their activations: a surface electrode over gluteus maximus sees all three of
the model's bundles); the default table below covers the usual lower-limb electrode sites,
and `--map FILE.toml` replaces it. A label that carries its side (RSOL, L_TA, SOL_R, Right
VL, as Helen Hayes and many lab exports write them) is matched to that leg's muscles.

What is compared with the model's activation is the EMG's activation, not its envelope:
surface EMG records the neural excitation, and a muscle's activation follows its excitation
through the activation dynamics (De Groote et al. 2016's first-order model, the one the
`inverse` and `track` solves impose between their excitations and activations). Each
envelope, normalised to its peak in the window, drives those dynamics
(`musclekit.emg.activation_from_excitation`); that is the first stage of an EMG-driven model
(Buchanan et al. 2004, J Appl Biomech 20:367). Comparing the raw envelope with the activation
instead asks the activation to follow the excitation without its lag, which on real gait
costs PCC at zero delay (docs/validation.md, section 4). `dynamics=None` compares the
envelope itself.

Whose constants: the solves take each muscle's from the model as `dgf_model_processor` makes
it (a Millard or Thelen muscle converted to DeGroote-Fregly keeps its own time constants:
10 / 40 ms on Rajagopal2016, with OpenSim's default tanh smoothing 0.1), so the comparison
that matches the solve passes them per muscle (`muscle_dynamics(model_file)` as `dynamics`).
Without the model, `ActivationDynamics()`: De Groote et al.'s 15 / 60 ms.

Per channel, over the analysed window (a gait cycle, typically):
- PCC between the EMG's activation and the model's. What lag remains (the force of a muscle
  with a compliant tendon builds up after its activation; a rigid-tendon solve puts the
  activation where the force is) is reported as the delay in [0, max_delay_s] that fits
  best, with its PCC, next to the PCC at zero delay.
- Onsets and offsets: where each curve crosses `threshold` of its range (rising: onset,
  falling: offset), after the same delay and at zero delay. EMG bursts (intervals above the
  threshold) and activation bursts are grouped (`pair_bursts`: overlapping bursts belong
  together, a lone burst goes with the nearest lone one of the other curve), and each
  group's onset and offset errors are the activation's minus the EMG's, in % of the window.
  An EMG burst with no partner counts as missed, an activation burst with none as extra:
  pairing each crossing with the nearest crossing of its kind instead reported a small EMG
  burst the model lacks as a large error of the next burst's offset.
- Where the shapes differ: with named phases (e.g. of the gait cycle), the zero-delay 1 - PCC
  split exactly over them (`pcc_deficit_by_phase`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from musclekit.emg import ActivationDynamics, activation_from_excitation
from musclekit.errors import InputError

# EMG channel label (upper case, as lab exports name electrodes) -> model muscle stems; the
# side suffix (_r / _l) is added. Names of Rajagopal2015 / LaiUhlrich2022 / Gait2392 models.
DEFAULT_MAP: dict[str, list[str]] = {
    "SOL": ["soleus"], "GAS": ["gasmed", "gaslat", "med_gas", "lat_gas"],
    "GM": ["gasmed", "med_gas"], "GL": ["gaslat", "lat_gas"], "TA": ["tibant", "tib_ant"],
    "MH": ["semimem", "semiten"], "BF": ["bflh", "bfsh", "bifemlh", "bifemsh"],
    "VL": ["vaslat", "vas_lat"], "VM": ["vasmed", "vas_med"], "RF": ["recfem", "rect_fem"],
    "GMAX": ["glmax1", "glmax2", "glmax3", "glut_max1", "glut_max2", "glut_max3"],
    "GMED": ["glmed1", "glmed2", "glmed3", "glut_med1", "glut_med2", "glut_med3"],
    "PL": ["perlong", "per_long"], "ADDL": ["addlong", "add_long"],
    # Helen Hayes / French gait-lab labels (the corpus's btk_helenhayes: LREC, RVAS, LISC ...):
    # REC(tus femoris), VAS(tus: the electrode over the vastus lateralis or medialis, both
    # superficial), TIB(ialis anterior), JUM(eaux = gastrocnemii), ISC(hio-jambiers: the medial
    # hamstrings, beside BIC = biceps femoris). Their GRF (grand fessier, gluteus maximus) is
    # left out: in motion files GRF means the ground reaction force.
    "REC": ["recfem", "rect_fem"], "VAS": ["vaslat", "vasmed", "vas_lat", "vas_med"],
    "TIB": ["tibant", "tib_ant"], "JUM": ["gasmed", "gaslat", "med_gas", "lat_gas"],
    "ISC": ["semimem", "semiten"], "BIC": ["bflh", "bfsh", "bifemlh", "bifemsh"],
}
# A side written into the label: "RSOL", "L_TA", "SOL_R", "Right VL", "LEFT-GAS".
_SIDE_WORDS = {"R": "r", "L": "l", "RIGHT": "r", "LEFT": "l"}
_SEPARATORS = " _.-"


def _label_side(label: str, table: dict[str, list[str]]) -> tuple[str, str | None]:
    """(table key, side or None) of an upper-case channel label: the label itself when the
    table has it (RF is rectus femoris, not a right 'F'), else the label without a side word
    at its start or end, when what remains is in the table."""
    if label in table:
        return label, None
    for word, side in _SIDE_WORDS.items():
        for stem in (label[len(word):] if label.startswith(word) else None,
                     label[: -len(word)] if label.endswith(word) else None):
            if stem is None:
                continue
            stem = stem.strip(_SEPARATORS)
            if stem in table:
                return stem, side
    return label, None


@dataclass
class MuscleComparison:
    channel: str
    muscles: list[str]
    pcc: float  # at the best delay within the allowance
    pcc_no_delay: float
    delay_s: float
    # per EMG burst group's onset / offset at `delay_s`, % of the window: the paired activation
    # bursts' minus the EMG's (`pair_bursts`); NaN where there is no partner or no crossing
    onset_error_pct: list[float] = field(default_factory=list)
    offset_error_pct: list[float] = field(default_factory=list)
    # the envelope itself against the activation at zero delay (no activation dynamics)
    pcc_envelope_no_delay: float = float("nan")
    # where in the window the shapes differ: 1 - pcc_no_delay split over named phases
    # (`pcc_deficit_by_phase`); empty unless compare() was given phases
    deficit_by_phase: dict[str, float] = field(default_factory=dict)
    # EMG bursts the activation does not make, and activation bursts the EMG does not show
    missed_bursts: int = 0
    extra_bursts: int = 0
    # the same on/offset errors at zero delay (the EMG's activation already lags its envelope)
    onset_error_no_delay_pct: list[float] = field(default_factory=list)
    offset_error_no_delay_pct: list[float] = field(default_factory=list)

    @property
    def max_timing_error_pct(self) -> float:
        errs = [abs(e) for e in (*self.onset_error_pct, *self.offset_error_pct) if np.isfinite(e)]
        return max(errs) if errs else float("nan")


def match_channels(channels: list[str], muscles: list[str], side: str,
                   mapping: dict[str, list[str]] | None = None) -> dict[str, list[str]]:
    """EMG channel -> the model muscles it is compared with, on `side` unless the label names
    its own (RSOL, L_TA, SOL_R, Right VL: that side). InputError for a channel that names no
    muscle of the model."""
    table = {k.upper().replace(" ", ""): v for k, v in (mapping or DEFAULT_MAP).items()}
    have = set(muscles)
    out = {}
    for ch in channels:
        label = ch.upper().strip()
        key, own_side = _label_side(label.replace(" ", ""), table)
        if key not in table:
            key, own_side = _label_side(label, table)  # "RIGHT VL": the space separates
        stems = table.get(key)
        if stems is None:
            raise InputError(
                f"EMG channel {ch!r} names no model muscle: it is not in the channel table "
                f"({', '.join(sorted(table))}), with or without a side (R/L, Right/Left) at its "
                f"start or end; give the mapping with --map FILE.toml "
                f"(e.g. {ch} = [\"soleus\"]) or leave the channel out with --channels")
        leg = own_side or side
        found = [m for m in dict.fromkeys(f"{s}_{leg}" for s in stems) if m in have]
        found += [s for s in stems if s in have and s not in found]  # names given whole
        if not found:
            raise InputError(
                f"EMG channel {ch!r} maps to {stems} (side {leg!r}), none of which is a muscle "
                f"of the model ({len(muscles)} muscles, e.g. {muscles[:4]}); fix --map or --side")
        out[ch] = found
    return out


def _bursts(t: np.ndarray, y: np.ndarray, threshold: float
            ) -> list[tuple[float | None, float | None]]:
    """Intervals where y lies above the fraction `threshold` of its range: (onset, offset),
    None where the interval runs into the window's start or end (no crossing there)."""
    lo, hi = float(np.nanmin(y)), float(np.nanmax(y))
    above = y > lo + threshold * (hi - lo)
    d = np.diff(above.astype(int))
    ons, offs = list(t[1:][d == 1]), list(t[1:][d == -1])
    if above[0]:
        ons.insert(0, None)
    if above[-1]:
        offs.append(None)
    return list(zip(ons, offs, strict=True))


Burst = tuple[float | None, float | None]


def pair_bursts(emg: list[Burst], act: list[Burst], window_s: tuple[float, float]
                ) -> list[tuple[list[int], list[int]]]:
    """EMG bursts and activation bursts (each in time order) grouped into pairs of groups:
    (EMG burst indices, activation burst indices), either list possibly empty.

    Bursts that overlap in time belong together, through chains of overlaps (a model burst
    broken in two under one EMG burst is one group, and the other way round). A group of one
    kind only is then paired with the nearest group of the other kind only, in time order (a
    pair never crosses another): a burst that came far too late is still the same burst.
    What is left over is an EMG burst the model does not make (missed) or one it makes that
    the EMG does not show (extra): never the partner of another burst's crossing, which
    would report a missing burst as a timing error."""
    lo, hi = window_s

    def span(b: Burst) -> tuple[float, float]:
        return (lo if b[0] is None else b[0], hi if b[1] is None else b[1])

    parent = list(range(len(emg) + len(act)))  # union-find over EMG then activation bursts

    def root(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for i, e in enumerate(emg):
        e0, e1 = span(e)
        for j, a in enumerate(act):
            a0, a1 = span(a)
            if min(e1, a1) > max(e0, a0):
                parent[root(len(emg) + j)] = root(i)
    groups: dict[int, tuple[list[int], list[int]]] = {}
    for i in range(len(emg)):
        groups.setdefault(root(i), ([], []))[0].append(i)
    for j in range(len(act)):
        groups.setdefault(root(len(emg) + j), ([], []))[1].append(j)
    both = [g for g in groups.values() if g[0] and g[1]]
    only_e = [g for g in groups.values() if not g[1]]
    only_a = [g for g in groups.values() if not g[0]]

    def centre(g: tuple[list[int], list[int]]) -> float:
        spans = [span(emg[i]) for i in g[0]] + [span(act[j]) for j in g[1]]
        return (min(a for a, _ in spans) + max(b for _, b in spans)) / 2

    def crosses(ie: int, ja: int) -> bool:  # first indices of a candidate against made pairs
        return any((g[0][0] - ie) * (g[1][0] - ja) < 0 for g in both)

    candidates = sorted((abs(centre(ge) - centre(ga)), k, m)
                        for k, ge in enumerate(only_e) for m, ga in enumerate(only_a))
    used_e: set[int] = set()
    used_a: set[int] = set()
    for _, k, m in candidates:
        if k in used_e or m in used_a or crosses(only_e[k][0][0], only_a[m][1][0]):
            continue
        both.append((only_e[k][0], only_a[m][1]))
        used_e.add(k)
        used_a.add(m)
    out = both + [g for k, g in enumerate(only_e) if k not in used_e]
    out += [g for m, g in enumerate(only_a) if m not in used_a]
    return sorted(out, key=centre)


def _timing(t: np.ndarray, emg: np.ndarray, act: np.ndarray, threshold: float,
            window_s: tuple[float, float]) -> tuple[list[float], list[float], int, int]:
    """On- and offset errors (% of the window) per EMG burst group with a crossing, and the
    numbers of missed and extra burst groups (`pair_bursts`)."""
    b_e, b_a = _bursts(t, emg, threshold), _bursts(t, act, threshold)
    span = window_s[1] - window_s[0]
    on, off, missed, extra = [], [], 0, 0
    for ge, ga in pair_bursts(b_e, b_a, window_s):
        if not ge:
            extra += 1
            continue
        missed += not ga
        e0, e1 = b_e[ge[0]][0], b_e[ge[-1]][1]
        a0, a1 = (b_a[ga[0]][0], b_a[ga[-1]][1]) if ga else (None, None)
        if e0 is not None:
            on.append(round(100 * (a0 - e0) / span, 1) if a0 is not None else float("nan"))
        if e1 is not None:
            off.append(round(100 * (a1 - e1) / span, 1) if a1 is not None else float("nan"))
    return on, off, missed, extra


def _pcc(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.std(a[ok]) == 0 or np.std(b[ok]) == 0:
        return float("nan")
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def pcc_deficit_by_phase(time_s: np.ndarray, emg: np.ndarray, act: np.ndarray,
                         phases_s: dict[str, tuple[float, float]]) -> dict[str, float]:
    """1 - PCC of two curves on `time_s`, split exactly over the named phases [start, end) s.

    With both curves standardised (z = (x - mean) / std), PCC = mean(z_emg z_act), so
    1 - PCC = sum over samples of (z_emg - z_act)^2 / (2 N): each sample's share adds up, and
    a phase's share says how much of the missing correlation lies there. Samples outside
    every phase are left out (the shares then sum to less than 1 - PCC). NaN when a curve
    is flat or has fewer than 3 finite samples."""
    ok = np.isfinite(emg) & np.isfinite(act)
    if ok.sum() < 3 or np.std(emg[ok]) == 0 or np.std(act[ok]) == 0:
        return {name: float("nan") for name in phases_s}
    t, x, y = time_s[ok], emg[ok], act[ok]
    sq = ((x - x.mean()) / x.std() - (y - y.mean()) / y.std()) ** 2 / (2 * ok.sum())
    out = {}
    for name, (lo, hi) in phases_s.items():
        if not hi > lo:
            raise InputError(f"phase {name!r}: {lo:g}-{hi:g} s is empty (start < end needed)")
        out[name] = float(sq[(t >= lo) & (t < hi)].sum())
    return out


def muscle_dynamics(model_file: str | Path) -> dict[str, ActivationDynamics]:
    """Each muscle's activation dynamics as the `inverse` and `track` solves use them: the
    model through `dgf_model_processor` (DeGroote-Fregly muscles), its time constants and
    tanh smoothing. InputError for a file OpenSim cannot read."""
    import opensim as osim

    from musclekit.pipelines.simulate.opensim.evaluate import dgf_model_processor

    if not Path(model_file).is_file():
        raise InputError(f"model file not found: {model_file}")
    model = dgf_model_processor(str(model_file)).process()
    muscles = model.getMuscles()
    out = {}
    for i in range(muscles.getSize()):
        d = osim.DeGrooteFregly2016Muscle.safeDownCast(muscles.get(i))
        out[d.getName()] = ActivationDynamics(d.get_activation_time_constant(),
                                              d.get_deactivation_time_constant(),
                                              d.get_activation_dynamics_smoothing())
    return out


def _channel_dynamics(dynamics: ActivationDynamics | Mapping[str, ActivationDynamics],
                      channel: str, muscles: list[str]) -> ActivationDynamics:
    """One channel's dynamics: the given ones, or (per muscle) its first mapped muscle's."""
    if isinstance(dynamics, ActivationDynamics):
        return dynamics
    missing = [m for m in muscles if m not in dynamics]
    if missing:
        raise InputError(f"EMG channel {channel!r}: no activation dynamics given for the model "
                         f"muscles {missing} (pass every mapped muscle's, e.g. muscle_dynamics())")
    return dynamics[muscles[0]]


def compare(time_s: np.ndarray, activations: np.ndarray, muscles: list[str],
            emg_time_s: np.ndarray, envelopes: np.ndarray, channels: list[str],
            window_s: tuple[float, float], side: str = "r",
            mapping: dict[str, list[str]] | None = None, max_delay_s: float = 0.1,
            threshold: float = 0.3,
            dynamics: ActivationDynamics | Mapping[str, ActivationDynamics] | None
            = ActivationDynamics(),
            phases_s: dict[str, tuple[float, float]] | None = None) -> list[MuscleComparison]:
    """Compare activations (T, M) on `time_s` with EMG envelopes (E, C) on `emg_time_s`
    (same clock) over `window_s` (module docstring); `dynamics` turns the envelopes into
    the EMG's activations: one for every channel, or per model muscle (a channel takes its
    first mapped muscle's; `muscle_dynamics`); None compares the envelopes themselves. `phases_s` (name ->
    (start, end) s, e.g. the phases of a gait cycle) splits each zero-delay 1 - PCC over
    them (`pcc_deficit_by_phase`)."""
    lo, hi = window_s
    if hi <= lo:
        raise InputError(f"analysis window {lo}-{hi} s is empty")
    if emg_time_s[0] > lo + 1e-6 or emg_time_s[-1] < hi - 1e-6:
        raise InputError(
            f"the EMG ({emg_time_s[0]:.3f}-{emg_time_s[-1]:.3f} s) is shorter than the analysed "
            f"motion ({lo:.3f}-{hi:.3f} s): give a window the EMG covers (--window START END) "
            "or check the EMG offset (--emg-offset-s)")
    w = (time_s >= lo - 1e-9) & (time_s <= hi + 1e-9)
    if w.sum() < 5:
        raise InputError(f"fewer than 5 activation frames in the window {lo}-{hi} s")
    t = time_s[w]
    pairs = match_channels(channels, muscles, side, mapping)
    raw = np.asarray(envelopes, dtype=float)
    emg = raw
    if dynamics is not None:
        ew = (emg_time_s >= lo - 1e-9) & (emg_time_s <= hi + 1e-9)
        peak = np.nanmax(raw[ew], axis=0)
        excitation = raw / np.where(peak > 0, peak, 1.0)
        emg = np.empty_like(excitation)
        per_channel = [_channel_dynamics(dynamics, ch, pairs[ch]) for ch in channels]
        for dyn in dict.fromkeys(per_channel):  # channels with the same dynamics: one pass
            cols = [c for c, d in enumerate(per_channel) if d == dyn]
            emg[:, cols] = activation_from_excitation(excitation[:, cols], emg_time_s, dyn)
    delays = np.arange(0.0, max_delay_s + 1e-9, 0.005)
    out = []
    for c, ch in enumerate(channels):
        cols = [muscles.index(m) for m in pairs[ch]]
        act = np.nanmean(activations[w][:, cols], axis=1)
        scores = []
        for d in delays:
            env = np.interp(t - d, emg_time_s, emg[:, c])
            scores.append(_pcc(env, act))
        best = int(np.nanargmax(scores)) if np.isfinite(scores).any() else 0
        d = float(delays[best])
        on, off, missed, extra = _timing(t, np.interp(t - d, emg_time_s, emg[:, c]), act,
                                         threshold, (lo, hi))
        at_zero = np.interp(t, emg_time_s, emg[:, c])
        on0, off0, _, _ = _timing(t, at_zero, act, threshold, (lo, hi))
        deficit = pcc_deficit_by_phase(t, at_zero, act, phases_s) if phases_s else {}
        out.append(MuscleComparison(ch, pairs[ch], scores[best], scores[0], d, on, off,
                                    _pcc(np.interp(t, emg_time_s, raw[:, c]), act), deficit,
                                    missed, extra, on0, off0))
    return out


def plot_comparison(path, time_s: np.ndarray, window_s: tuple[float, float],
                    curves: dict[str, tuple[np.ndarray, np.ndarray, list[str]]],
                    emg_time_s: np.ndarray, envelopes: np.ndarray, channels: list[str],
                    results: dict[str, list[MuscleComparison]], title: str,
                    dynamics: ActivationDynamics | Mapping[str, ActivationDynamics] | None
                    = ActivationDynamics()):
    """Small multiples, one panel per EMG channel over the window in % of it: the envelope
    (grey, normalised to its peak), the EMG's activation from it (black, with `dynamics`) and each named activation set's mean of the mapped
    muscles (`curves`: label -> (time, activations, muscles)), each normalised to its peak."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lo, hi = window_s
    n = len(channels)
    cols = 5 if n > 6 else n
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.3 * rows), sharex=True,
                             squeeze=False)
    colours = ["tab:red", "tab:blue", "tab:green"]
    for i, ch in enumerate(channels):
        ax = axes.ravel()[i]
        te = (emg_time_s >= lo) & (emg_time_s <= hi)
        x = 100 * (emg_time_s[te] - lo) / (hi - lo)
        env = envelopes[te, i]
        ax.fill_between(x, 0, env / max(env.max(), 1e-12), color="0.75", label="EMG envelope")
        if dynamics is not None:  # what compare() compares: the EMG's activation
            first = next(iter(results.values()))
            mapped = next(r for r in first if r.channel == ch).muscles
            act_emg = activation_from_excitation(envelopes[:, i] / max(env.max(), 1e-12),
                                                 emg_time_s,
                                                 _channel_dynamics(dynamics, ch, mapped))[te]
            ax.plot(x, act_emg / max(act_emg.max(), 1e-12), color="k", lw=0.9,
                    label="EMG's activation")
        for k, (label, (t, act, muscles)) in enumerate(curves.items()):
            res = next(r for r in results[label] if r.channel == ch)
            tw = (t >= lo) & (t <= hi)
            a = np.nanmean(act[tw][:, [muscles.index(m) for m in res.muscles]], axis=1)
            ax.plot(100 * (t[tw] - lo) / (hi - lo), a / max(np.nanmax(a), 1e-12),
                    color=colours[k % 3], lw=1.3, label=f"{label} (PCC {res.pcc:.2f})")
        ax.set_title(ch, fontsize=9)
        ax.set_ylim(0, 1.08)
        ax.legend(fontsize=5.5, loc="upper right")
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    for ax in axes[-1]:
        ax.set_xlabel("% of window")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
