"""Activations against EMG (`musclekit compare-emg`): known answers on synthetic signals, the
messages for bad input, and the command end to end on a tiny dataset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from musclekit.errors import InputError
from musclekit.pipelines.simulate.dynamics.stage.emg_compare import compare, match_channels

MUSCLES = ["soleus_r", "tibant_r", "glmax1_r", "glmax2_r", "glmax3_r", "soleus_l"]


def _bursts(t: np.ndarray, centre: float, width: float) -> np.ndarray:
    return np.exp(-0.5 * ((t - centre) / width) ** 2)


def test_a_delayed_copy_of_the_envelope_is_found_with_its_delay() -> None:
    t_emg = np.arange(0, 2.0, 0.001)
    env = np.column_stack([_bursts(t_emg, 0.6, 0.08), _bursts(t_emg, 1.2, 0.1)])
    t = np.arange(0, 2.0, 0.02)
    act = np.zeros((len(t), len(MUSCLES)))
    act[:, 0] = 0.5 * _bursts(t - 0.04, 0.6, 0.08)  # soleus: the SOL envelope 40 ms later
    act[:, 1] = _bursts(t, 1.2, 0.1)  # tibialis anterior: no delay
    res = compare(t, act, MUSCLES, t_emg, env, ["SOL", "TA"], (0.2, 1.8), dynamics=None)
    sol, ta = res
    assert sol.muscles == ["soleus_r"] and sol.pcc > 0.999
    assert sol.delay_s == pytest.approx(0.04, abs=0.006) and sol.pcc_no_delay < sol.pcc
    assert ta.delay_s == 0.0 and ta.pcc > 0.999
    assert all(abs(e) < 1.0 for e in (*ta.onset_error_pct, *ta.offset_error_pct))
    assert len(ta.onset_error_pct) == 1 and len(ta.offset_error_pct) == 1


def test_a_late_burst_shows_as_a_timing_error_in_percent_of_the_window() -> None:
    t_emg = np.arange(0, 2.0, 0.001)
    env = _bursts(t_emg, 0.8, 0.05)[:, None]
    t = np.arange(0, 2.0, 0.01)
    act = np.zeros((len(t), len(MUSCLES)))
    act[:, 1] = _bursts(t, 1.2, 0.05)  # 400 ms late: beyond any electromechanical delay
    (ta,) = compare(t, act, MUSCLES, t_emg, env, ["TA"], (0.0, 1.98), max_delay_s=0.1,
                    dynamics=None)
    assert ta.onset_error_pct[0] == pytest.approx(15.2, abs=1.0)  # (0.4 - 0.1) / 1.98 s
    assert ta.pcc < 0.5


def test_an_activation_that_follows_the_excitation_through_its_dynamics_matches_at_zero_delay() -> None:
    """EMG records excitation: a model activation that is the EMG's burst passed through the
    activation dynamics (as the solves impose) lags the envelope, and the comparison credits
    it at zero delay; the envelope itself needs a delay to match it."""
    from musclekit.emg import ActivationDynamics, activation_from_excitation

    t_emg = np.arange(0, 2.0, 0.0005)
    env = np.column_stack([_bursts(t_emg, 0.9, 0.05)])
    a = activation_from_excitation(env[:, 0], t_emg, ActivationDynamics())
    t = np.arange(0, 2.0, 0.01)
    act = np.zeros((len(t), len(MUSCLES)))
    act[:, 0] = np.interp(t, t_emg, a)
    (sol,) = compare(t, act, MUSCLES, t_emg, 3.0 * env, ["SOL"], (0.3, 1.7))  # any EMG gain
    assert sol.pcc_no_delay > 0.999 and sol.delay_s == 0.0
    assert sol.pcc_envelope_no_delay < sol.pcc_no_delay
    (raw,) = compare(t, act, MUSCLES, t_emg, env, ["SOL"], (0.3, 1.7), dynamics=None)
    assert raw.delay_s >= 0.01 and raw.pcc_no_delay == pytest.approx(sol.pcc_envelope_no_delay)


def test_activation_dynamics_rise_faster_than_they_decay_and_refuse_bad_constants() -> None:
    from musclekit.emg import ActivationDynamics, activation_from_excitation

    t = np.arange(0, 0.6, 0.001)
    step = ((t >= 0.1) & (t < 0.3)).astype(float)
    a = activation_from_excitation(step, t)
    rise = t[np.argmax(a > 0.63)] - 0.1  # about tau_a (0.5 + 1.5 a): tens of ms
    fall = t[np.flatnonzero(a > 0.37)[-1]] - 0.3
    assert 0.005 < rise < 0.04 and fall > rise and a.min() >= 0.0 and a.max() <= 1.0
    # the same at 100 Hz (an envelope on a video grid): the exponential step stays stable
    # (never beyond the excitation; an explicit Euler step of 10 ms with tau_a / 2 = 7.5 ms
    # would overshoot) and within one step's lag of the fine solution at the step's edges
    coarse = activation_from_excitation(step[::10], t[::10])
    assert coarse.min() >= 0.0 and coarse.max() <= 1.0
    assert np.abs(coarse - a[::10]).max() < 0.25
    with pytest.raises(InputError, match="time constants"):
        ActivationDynamics(activation_time_constant_s=0.0)
    with pytest.raises(InputError, match="increasing times"):
        activation_from_excitation(step, t[::-1])


def test_channels_map_to_the_models_muscles_per_side() -> None:
    assert match_channels(["GMAX"], MUSCLES, "r") == {"GMAX": ["glmax1_r", "glmax2_r", "glmax3_r"]}
    assert match_channels(["SOL"], MUSCLES, "l") == {"SOL": ["soleus_l"]}
    assert match_channels(["calf"], MUSCLES, "r", {"calf": ["soleus"]}) == {"calf": ["soleus_r"]}


def test_a_channel_that_names_no_model_muscle_is_refused() -> None:
    with pytest.raises(InputError, match=r"EMG channel 'EXT' names no model muscle: it is not in "
                                         r"the channel table .*give the mapping with --map"):
        match_channels(["EXT"], MUSCLES, "r")
    with pytest.raises(InputError, match=r"EMG channel 'VL' maps to .*none of which is a muscle "
                                         r"of the model"):
        match_channels(["VL"], MUSCLES, "r")


def test_emg_shorter_than_the_motion_is_refused() -> None:
    t = np.arange(0, 2.0, 0.02)
    t_emg = np.arange(0, 1.0, 0.001)
    with pytest.raises(InputError, match=r"the EMG \(0.000-0.999 s\) is shorter than the "
                                         r"analysed motion \(0.000-1.900 s\)"):
        compare(t, np.zeros((len(t), len(MUSCLES))), MUSCLES, t_emg,
                np.zeros((len(t_emg), 1)), ["SOL"], (0.0, 1.9))


def _dataset_and_emg(tmp_path: Path) -> tuple[Path, Path]:
    from musclekit.dataset import DatasetWriter, Provenance, SequenceInfo, StreamSpec

    t = np.arange(0, 2.0, 0.02)
    act = np.zeros((len(t), 2))
    act[:, 0] = 0.6 * _bursts(t, 0.7, 0.1)
    act[:, 1] = 0.4 * _bursts(t, 1.3, 0.1)
    spec = StreamSpec(name="activations", family="activations", rate_hz=50.0,
                      channels=["soleus_r", "tibant_r"], clock="motion")
    root = tmp_path / "ds"
    writer = DatasetWriter.create_or_open(root, name="emg-compare", streams=[spec])
    with writer.unit("u0", Provenance.for_stage("test")) as unit:
        unit.write_sequence("activations", SequenceInfo(id="walk", subject_id="S01"), t, act)
    # Raw EMG at 1 kHz: noise bursts whose envelopes follow the activations 30 ms earlier.
    rng = np.random.default_rng(0)
    te = np.arange(0, 2.0, 0.001)
    raw = np.column_stack([_bursts(te + 0.03, 0.7, 0.1), _bursts(te + 0.03, 1.3, 0.1)])
    raw = (0.05 + raw) * rng.normal(0, 1e-4, raw.shape)
    csv = tmp_path / "emg.csv"
    with open(csv, "w") as fh:
        fh.write("time,SOL (V),TA (V)\n")
        for k in range(len(te)):
            fh.write(f"{te[k]:.4f},{raw[k, 0]:.9f},{raw[k, 1]:.9f}\n")
    return root, csv


def test_compare_emg_command_end_to_end(tmp_path: Path) -> None:
    import json

    from musclekit.cli.main import main

    root, csv = _dataset_and_emg(tmp_path)
    png, out = tmp_path / "cmp.png", tmp_path / "cmp.json"
    code = main(["compare-emg", str(root), "walk", "--emg", str(csv), "--window", "0.3", "1.7",
                 "--out", str(png), "--json", str(out)])
    assert code == 0 and png.is_file()
    res = {r["channel"]: r for r in json.loads(out.read_text())}
    assert res["SOL"]["muscles"] == ["soleus_r"] and res["SOL"]["pcc"] > 0.9
    assert res["TA"]["pcc"] > 0.9 and 0.0 <= res["TA"]["delay_s"] <= 0.1
    # the envelope itself, as before issue 25: the same channels, their own numbers
    assert main(["compare-emg", str(root), "walk", "--emg", str(csv), "--window", "0.3", "1.7",
                 "--out", str(png), "--json", str(out), "--emg-as", "envelope"]) == 0
    env = {r["channel"]: r for r in json.loads(out.read_text())}
    assert env["SOL"]["pcc_no_delay"] == pytest.approx(res["SOL"]["pcc_envelope_no_delay"])


def test_compare_emg_command_bad_inputs(tmp_path: Path, capsys) -> None:
    from musclekit.cli.main import main

    root, csv = _dataset_and_emg(tmp_path)
    assert main(["compare-emg", str(root), "walk", "--emg", str(tmp_path / "no.csv")]) != 0
    assert "EMG file not found" in capsys.readouterr().err
    assert main(["compare-emg", str(root), "walk", "--emg", str(csv), "--channels", "XX"]) != 0
    assert "has no EMG channel ['XX']" in capsys.readouterr().err
    assert main(["compare-emg", str(root), "walk", "--emg", str(csv), "--side", "x"]) != 0
    assert "--side must be r or l" in capsys.readouterr().err
    assert main(["compare-emg", str(root), "walk", "--emg", str(csv), "--emg-as", "raw"]) != 0
    assert "--emg-as must be activation or envelope, got 'raw'" in capsys.readouterr().err


def test_a_side_in_the_label_picks_the_leg_and_table_names_come_first() -> None:
    muscles = ["soleus_r", "soleus_l", "recfem_r", "recfem_l", "vaslat_r", "vasmed_r",
               "gasmed_l", "gaslat_l", "tibant_r"]
    got = match_channels(["RF", "LRF", "RSOL", "SOL_L", "Right TA", "LEFT-SOL"], muscles, "r")
    assert got == {"RF": ["recfem_r"], "LRF": ["recfem_l"], "RSOL": ["soleus_r"],
                   "SOL_L": ["soleus_l"], "Right TA": ["tibant_r"], "LEFT-SOL": ["soleus_l"]}
    # Helen Hayes / French gait-lab labels (the corpus's btk_helenhayes)
    assert match_channels(["RVAS", "LJUM", "LREC"], muscles, "r") == {
        "RVAS": ["vaslat_r", "vasmed_r"], "LJUM": ["gasmed_l", "gaslat_l"], "LREC": ["recfem_l"]}
    with pytest.raises(InputError, match=r"EMG channel 'LTA' maps to .*\(side 'l'\), none of "
                                         r"which is a muscle of the model"):
        match_channels(["LTA"], muscles, "r")
    with pytest.raises(InputError, match=r"EMG channel 'RGRF' names no model muscle: .*with or "
                                         r"without a side \(R/L, Right/Left\)"):
        match_channels(["RGRF"], muscles, "r")


def test_the_pcc_deficit_splits_exactly_over_phases_and_lies_where_the_curves_differ() -> None:
    from musclekit.pipelines.simulate.dynamics.stage.emg_compare import pcc_deficit_by_phase

    t = np.arange(0, 1.0, 0.01)
    emg = _bursts(t, 0.3, 0.05) + _bursts(t, 0.8, 0.05)  # two bursts
    act = _bursts(t, 0.3, 0.05)  # the model makes only the first
    phases = {"first half": (0.0, 0.5), "second half": (0.5, 1.0)}
    d = pcc_deficit_by_phase(t, emg, act, phases)
    pcc = np.corrcoef(emg, act)[0, 1]
    assert sum(d.values()) == pytest.approx(1 - pcc, abs=1e-12)
    assert d["second half"] > 3 * d["first half"]
    assert all(np.isnan(v) for v in pcc_deficit_by_phase(t, emg, 0 * act, phases).values())
    with pytest.raises(InputError, match=r"phase 'x': 0.5-0.5 s is empty"):
        pcc_deficit_by_phase(t, emg, act, {"x": (0.5, 0.5)})
    # compare() reports it per channel at zero delay
    act_m = np.zeros((len(t), len(MUSCLES)))
    act_m[:, 0] = act
    (sol,) = compare(t, act_m, MUSCLES, t, emg[:, None], ["SOL"], (0.0, 0.99), dynamics=None,
                     phases_s=phases)
    assert sum(sol.deficit_by_phase.values()) == pytest.approx(1 - sol.pcc_no_delay, abs=1e-9)
    assert sol.deficit_by_phase["second half"] > sol.deficit_by_phase["first half"]


def test_a_burst_the_model_lacks_is_missed_not_a_timing_error_of_the_next() -> None:
    """The calf's pattern: a small early EMG burst, then the main one; the model makes only
    the main one, 20 ms late. Pairing each offset with the nearest model offset reported the
    small burst's end as a large offset error; bursts paired one to one report it missed."""
    t_emg = np.arange(0, 2.0, 0.001)
    env = (0.5 * _bursts(t_emg, 0.6, 0.03) + _bursts(t_emg, 1.0, 0.06))[:, None]
    t = np.arange(0, 2.0, 0.01)
    act = np.zeros((len(t), len(MUSCLES)))
    act[:, 0] = _bursts(t, 1.02, 0.06) + 0.8 * _bursts(t, 1.6, 0.04)  # + one the EMG lacks
    (sol,) = compare(t, act, MUSCLES, t_emg, env, ["SOL"], (0.2, 1.8), max_delay_s=0.0,
                     dynamics=None)
    assert sol.missed_bursts == 1 and sol.extra_bursts == 1
    finite = [e for e in (*sol.onset_error_pct, *sol.offset_error_pct) if np.isfinite(e)]
    assert len(finite) == 2 and all(0 < e < 2.0 for e in finite)  # 20 ms of 1.6 s: 1.25 %
    assert sol.max_timing_error_pct < 2.0
    np.testing.assert_array_equal(sol.onset_error_no_delay_pct, sol.onset_error_pct)  # no delay


def test_a_model_burst_broken_in_two_under_one_emg_burst_is_one_burst() -> None:
    from musclekit.pipelines.simulate.dynamics.stage.emg_compare import pair_bursts

    emg = [(0.30, 0.70)]
    act = [(0.31, 0.45), (0.52, 0.69), (1.2, 1.3)]
    assert pair_bursts(emg, act, (0.0, 2.0)) == [([0], [0, 1]), ([], [2])]
    t = np.arange(0, 2.0, 0.01)
    y_e = ((t >= 0.3) & (t < 0.7)).astype(float)
    y_a = sum(((t >= a) & (t < b)).astype(float) for a, b in act)
    got = compare(t, np.column_stack([y_a, 0 * t, 0 * t, 0 * t, 0 * t, 0 * t]), MUSCLES, t,
                  y_e[:, None], ["SOL"], (0.0, 1.99), max_delay_s=0.0, dynamics=None)[0]
    assert got.onset_error_pct == [0.5] and got.offset_error_pct == [-0.5]  # 10 ms of 1.99 s
    assert (got.missed_bursts, got.extra_bursts) == (0, 1)
    # a burst with no crossing inside the window (it runs into the start) has no onset
    assert pair_bursts([(None, 0.2)], [(None, 0.25)], (0.0, 2.0)) == [([0], [0])]


def test_per_muscle_dynamics_are_used_per_channel_and_every_mapped_muscle_needs_them() -> None:
    from musclekit.emg import ActivationDynamics

    t_emg = np.arange(0, 2.0, 0.001)
    env = np.column_stack([_bursts(t_emg, 0.7, 0.05), _bursts(t_emg, 1.2, 0.05)])
    t = np.arange(0, 2.0, 0.01)
    act = np.zeros((len(t), len(MUSCLES)))
    act[:, 0] = _bursts(t, 0.72, 0.05)
    act[:, 1] = _bursts(t, 1.22, 0.05)
    slow, fast = ActivationDynamics(0.015, 0.060, 10.0), ActivationDynamics(0.010, 0.040, 0.1)
    one = compare(t, act, MUSCLES, t_emg, env, ["SOL", "TA"], (0.3, 1.7), dynamics=slow)
    per = compare(t, act, MUSCLES, t_emg, env, ["SOL", "TA"], (0.3, 1.7),
                  dynamics={"soleus_r": slow, "tibant_r": fast})
    assert per[0].pcc_no_delay == pytest.approx(one[0].pcc_no_delay, abs=1e-12)
    assert per[1].pcc_no_delay != pytest.approx(one[1].pcc_no_delay, abs=1e-6)
    with pytest.raises(InputError, match=r"EMG channel 'TA': no activation dynamics given for "
                                         r"the model muscles \['tibant_r'\]"):
        compare(t, act, MUSCLES, t_emg, env, ["SOL", "TA"], (0.3, 1.7),
                dynamics={"soleus_r": slow})


RAJAGOPAL_MODEL = (Path(__file__).resolve().parents[2] / "shared" / "data" / "rajagopal2016"
                   / "Rajagopal2016.osim")


@pytest.mark.skipif(not RAJAGOPAL_MODEL.is_file(), reason=f"real data not present: "
                    f"{RAJAGOPAL_MODEL} (the shared Rajagopal 2016 folder)")
def test_the_solves_dynamics_come_from_the_model_as_they_convert_it(tmp_path: Path) -> None:
    """Rajagopal2016's Millard muscles keep their 10 / 40 ms when converted to DeGroote-Fregly
    muscles, with OpenSim's default smoothing: not the 15 / 60 ms of ActivationDynamics()."""
    from musclekit.pipelines.simulate.dynamics.stage.emg_compare import muscle_dynamics

    dyn = muscle_dynamics(RAJAGOPAL_MODEL)
    assert len(dyn) == 80
    soleus = dyn["soleus_r"]
    assert (soleus.activation_time_constant_s, soleus.deactivation_time_constant_s,
            soleus.smoothing) == pytest.approx((0.010, 0.040, 0.1))
    with pytest.raises(InputError, match="model file not found"):
        muscle_dynamics(tmp_path / "none.osim")


@pytest.mark.skipif(not RAJAGOPAL_MODEL.is_file(), reason=f"real data not present: "
                    f"{RAJAGOPAL_MODEL} (the shared Rajagopal 2016 folder)")
@pytest.mark.parametrize("smoothing", [None, 10.0])
def test_the_inverse_solve_and_the_comparison_see_the_same_smoothing(monkeypatch,
                                                                     smoothing) -> None:
    """The activation dynamics smoothing set where the model is converted reaches both the
    `inverse` solve's model (a changed setting not served from its in-process cache) and
    muscle_dynamics; None keeps OpenSim's default 0.1."""
    import opensim as osim

    from musclekit.pipelines.simulate.dynamics.methods.inverse import setup
    from musclekit.pipelines.simulate.dynamics.stage.emg_compare import muscle_dynamics
    from musclekit.pipelines.simulate.opensim import evaluate

    monkeypatch.setattr(evaluate, "ACTIVATION_DYNAMICS_SMOOTHING", smoothing)
    muscles = setup._models(str(RAJAGOPAL_MODEL)).model.getMuscles()
    solved = {muscles.get(i).getName(): osim.DeGrooteFregly2016Muscle.safeDownCast(
        muscles.get(i)).get_activation_dynamics_smoothing() for i in range(muscles.getSize())}
    compared = {m: d.smoothing for m, d in muscle_dynamics(RAJAGOPAL_MODEL).items()}
    assert len(solved) == 80
    assert compared == solved
    assert list(solved.values()) == pytest.approx([0.1 if smoothing is None else smoothing] * 80)


def test_compare_emg_takes_each_muscles_dynamics_from_the_model(tmp_path: Path, capsys) -> None:
    """The EMG goes through the dynamics the solve had (the model's 15 / 60 ms here), named on
    the console; a model without the activations' muscles and a missing one are refused."""
    from musclekit.cli.main import main
    from musclekit.pipelines.simulate.opensim.test_model import build_test_model

    root, csv = _dataset_and_emg(tmp_path)
    model = build_test_model(tmp_path / "m.osim")
    base = ["compare-emg", str(root), "walk", "--emg", str(csv), "--window", "0.3", "1.7",
            "--out", str(tmp_path / "c.png")]
    assert main(base) == 0
    assert "no model with the dataset, De Groote's 15 / 60 ms" in capsys.readouterr().err
    assert main(base + ["--model", str(model)]) == 0
    assert f"each muscle's, from {model} (15 / 60 ms)" in capsys.readouterr().err
    assert main(base + ["--model", str(tmp_path / "none.osim")]) != 0
    assert "model file not found" in capsys.readouterr().err
    other = root.parent / "ds2"
    other.mkdir()
    from musclekit.dataset import DatasetWriter, Provenance, SequenceInfo, StreamSpec
    spec = StreamSpec(name="activations", family="activations", rate_hz=50.0,
                      channels=["quad_r", "ham_r"], clock="motion")
    w = DatasetWriter.create_or_open(other, name="x", streams=[spec])
    t = np.arange(0, 2.0, 0.02)
    with w.unit("u0", Provenance.for_stage("test")) as unit:
        unit.write_sequence("activations", SequenceInfo(id="walk", subject_id="S01"), t,
                            np.zeros((len(t), 2)))
    assert main(["compare-emg", str(other), "walk", "--emg", str(csv), "--model",
                 str(model)]) != 0
    assert "has none of the muscles the activations of 'walk' name (quad_r, ham_r" in \
        capsys.readouterr().err
