"""Measured ground reaction forces in: lab force files and OpenSim ExternalLoads setups."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from musclekit.errors import InputError
from musclekit.pipelines.simulate.opensim.external_loads import GRF_CHANNELS, read_measured_grf
from musclekit.pipelines.simulate.opensim.files import Motion, write_mot

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "rajagopal2016"
IDX = {c: i for i, c in enumerate(GRF_CHANNELS)}


def _plates(path: Path, layout: str = "ground_force_{s}_v{a}", n: int = 200) -> Path:
    """Two plates, right loaded in the first half, left in the second; known COPs."""
    t = np.arange(n) / 1000.0
    cols, vals = [], []
    for s, on in (("r", t < 0.1), ("l", t >= 0.1)):
        for kind, v in (("force_v", (10.0, 700.0, -5.0)), ("force_p", (0.3, 0.0, 0.1)),
                        ("torque_", (0.0, 2.0, 0.0))):
            for a, x in zip("xyz", v, strict=True):
                name = {"ground_force_{s}_v{a}": f"ground_{kind.split('_')[0]}_{s}_{kind.split('_')[1]}{a}",
                        "{S}_ground_{k}{a}": f"{s.upper()}_ground_{kind}{a}"}[layout]
                cols.append(name)
                vals.append(np.where(on, x, 0.0))
    return write_mot(path, Motion(t, cols, np.column_stack(vals)))


@pytest.mark.parametrize("layout", ["ground_force_{s}_v{a}", "{S}_ground_{k}{a}"])
def test_force_files_map_to_feet_by_column_names(tmp_path: Path, layout: str) -> None:
    m = read_measured_grf(_plates(tmp_path / "grf.mot", layout))
    assert m.values.shape == (200, 18) and m.source["kind"] == "measured"
    r = m.values[:100]
    assert np.allclose(r[:, IDX["ground_force_right_vy"]], 700.0)
    assert np.allclose(r[:, IDX["ground_force_right_px"]], 0.3)
    assert np.allclose(r[:, IDX["ground_torque_right_y"]], 2.0)
    assert np.allclose(r[:, IDX["ground_force_left_vy"]], 0.0)
    assert np.allclose(m.values[100:, IDX["ground_force_left_vy"]], 700.0)


def test_resampling_filters_the_loads_and_drops_unloaded_cops(tmp_path: Path) -> None:
    m = read_measured_grf(_plates(tmp_path / "grf.mot"))
    t = np.linspace(0.01, 0.19, 10)
    v = m.resample(t, None)
    assert np.isnan(v[t > 0.1, IDX["ground_force_right_px"]]).all()
    assert np.allclose(v[t < 0.09, IDX["ground_force_right_px"]], 0.3)


def test_numbered_plates_need_a_setup(tmp_path: Path) -> None:
    t = np.arange(10) / 100
    f = write_mot(tmp_path / "p.mot", Motion(t, [f"1_ground_force_v{a}" for a in "xyz"],
                                            np.zeros((10, 3))))
    with pytest.raises(InputError, match=r"its plates are numbered \(1\) and say nothing about "
                                         r"the foot on them; pass OpenSim's ExternalLoads setup "
                                         r"with --grf-setup"):
        read_measured_grf(f)


def test_a_file_with_unknown_columns_is_refused(tmp_path: Path) -> None:
    t = np.arange(10) / 100
    f = write_mot(tmp_path / "p.mot", Motion(t, ["Fx", "Fy"], np.zeros((10, 2))))
    with pytest.raises(InputError, match="cannot tell which columns act on which foot"):
        read_measured_grf(f)
    with pytest.raises(InputError, match="force file not found"):
        read_measured_grf(tmp_path / "missing.mot")


def _setup(tmp_path: Path, body: str = "calcn_r", frame: str = "ground") -> Path:
    import opensim  # noqa: F401
    import opensim as osim

    _plates(tmp_path / "grf.mot")
    loads = osim.ExternalLoads()
    loads.setDataFileName("grf.mot")
    for name, b, s in (("Right_GRF", body, "r"), ("Left_GRF", "calcn_l", "l")):
        ef = osim.ExternalForce()
        ef.setName(name)
        ef.set_applied_to_body(b)
        ef.set_force_expressed_in_body(frame)
        ef.set_point_expressed_in_body("ground")
        ef.set_force_identifier(f"ground_force_{s}_v")
        ef.set_point_identifier(f"ground_force_{s}_p")
        ef.set_torque_identifier(f"ground_torque_{s}_")
        loads.cloneAndAppend(ef)
    path = tmp_path / "loads.xml"
    loads.printToXML(str(path))
    return path


def test_an_external_loads_setup_names_the_data_and_the_feet(tmp_path: Path) -> None:
    m = read_measured_grf(None, _setup(tmp_path), model_bodies={"calcn_r", "calcn_l", "pelvis"})
    assert np.allclose(m.values[:100, IDX["ground_force_right_vy"]], 700.0)
    assert m.source["setup"].endswith("loads.xml")


def test_a_setup_naming_a_body_the_model_lacks_is_refused(tmp_path: Path) -> None:
    setup = _setup(tmp_path, body="foot_r")
    with pytest.raises(InputError, match=r"ExternalForce 'Right_GRF' is applied to body "
                                         r"'foot_r', which the model does not have"):
        read_measured_grf(None, setup, model_bodies={"calcn_r", "calcn_l"})
    with pytest.raises(InputError, match=r"is applied to 'foot_r', not to a foot body"):
        read_measured_grf(None, setup)


def test_forces_expressed_in_a_body_frame_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"gives its force in body 'calcn_r'; musclekit reads "
                                         r"force plates expressed in ground"):
        read_measured_grf(None, _setup(tmp_path, frame="calcn_r"))


@pytest.mark.skipif(not (DATA / "ExpData").is_dir(), reason="../shared/data/rajagopal2016 absent")
def test_the_labs_walking_and_running_plates_read_alike_with_and_without_setup() -> None:
    for trial in ("walk", "run"):
        by_name = read_measured_grf(DATA / "ExpData" / f"grf_{trial}.mot")
        by_setup = read_measured_grf(None, DATA / "ID" / f"grf_{trial}.xml")
        assert np.array_equal(by_name.values, by_setup.values)
        peak = by_name.values[:, IDX["ground_force_right_vy"]].max()
        assert 800 < peak < 2500  # N: walking ~1.1 BW, running ~2.5-3 BW
