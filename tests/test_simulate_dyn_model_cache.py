"""The cache of prepared models (kernel/model_cache.py) and the mapping of polynomial paths
from one scaling of a model to another (kernel/path_map.py): keyed by content, not by where
the files lie; published whole or not at all; a damaged entry is prepared again; a mapped
model's paths stay within the documented bound on held-out poses."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import opensim as osim
import pytest

from musclekit.errors import InputError
from musclekit.pipelines.simulate.dynamics.kernel import path_fit as pf
from musclekit.pipelines.simulate.dynamics.kernel import prep as prep_module
from musclekit.pipelines.simulate.dynamics.kernel.model_cache import (
    CACHE_ENV,
    default_cache_dir,
    entry_complete,
)
from musclekit.pipelines.simulate.dynamics.kernel.prep import (
    PreparedModel,
    PrepSettings,
    _fit_inputs,
    cache_key,
    prepare_model,
    sample_poses,
)
from musclekit.pipelines.simulate.dynamics.stage.config import DynamicsConfig
from musclekit.pipelines.simulate.dynamics.stage.units import model_cache
from musclekit.pipelines.simulate.opensim.files import write_mot
from musclekit.pipelines.simulate.opensim.test_model import build_test_model, squat_motion

FEET = {"right": ("calcn_r",), "left": ("calcn_l",)}
SETTINGS = PrepSettings(feet=FEET)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("modelcache")
    model = build_test_model(d / "twoleg.osim")
    mot = write_mot(d / "squat.mot", squat_motion(1.2, period_s=1.2))
    return model, mot


@pytest.fixture(scope="module")
def prepared(inputs, tmp_path_factory) -> Path:
    model, mot = inputs
    return prepare_model(model, tmp_path_factory.mktemp("cache"), SETTINGS, mot)


def _bytes(folder: Path) -> dict[str, str]:
    """Every file's SHA-256, prep.json without what is measured run to run (timings) and
    where the model was read from."""
    out = {}
    for f in sorted(folder.rglob("*")):
        if not f.is_file():
            continue
        data = f.read_bytes()
        if f.name == "prep.json":
            info = json.loads(data)
            for key in ("seconds", "phases", "source_model"):
                info.pop(key)
            info["path_fit"].pop("seconds")
            data = json.dumps(info, sort_keys=True).encode()
        out[str(f.relative_to(folder))] = hashlib.sha256(data).hexdigest()
    return out


def test_the_cache_folder_comes_from_the_stage_the_environment_or_the_user_cache(
        monkeypatch, tmp_path):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "mine"))
    assert default_cache_dir() == tmp_path / "mine"
    assert model_cache(tmp_path / "ds", DynamicsConfig()) == tmp_path / "mine"
    assert model_cache(tmp_path / "ds", DynamicsConfig(cache_dir=str(tmp_path / "x"))) == tmp_path / "x"
    monkeypatch.delenv(CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "musclekit" / "prepared-models"


def test_the_key_is_the_content_so_another_dataset_finds_the_entry(inputs, prepared, tmp_path):
    model, mot = inputs
    elsewhere = tmp_path / "other-dataset"
    elsewhere.mkdir()
    model2 = Path(shutil.copy(model, elsewhere / "subject.osim"))
    mot2 = Path(shutil.copy(mot, elsewhere / "trial.mot"))
    assert cache_key(model2, SETTINGS, mot2) == prepared.name
    before = (prepared / "prep.json").stat().st_mtime_ns
    assert prepare_model(model2, prepared.parent, SETTINGS, mot2) == prepared
    assert (prepared / "prep.json").stat().st_mtime_ns == before  # found, not prepared again
    # Another motion is another fit: another key.
    motion = squat_motion(1.2, period_s=0.8)
    other = write_mot(tmp_path / "faster.mot", motion)
    assert cache_key(model2, SETTINGS, other) != prepared.name


@pytest.mark.timeout(600)
def test_same_inputs_give_the_same_bytes(inputs, prepared, tmp_path):
    model, mot = inputs
    again = prepare_model(model, tmp_path / "fresh", SETTINGS, mot)
    assert again.name == prepared.name
    assert _bytes(again) == _bytes(prepared)
    info = PreparedModel.load(again)
    assert set(info.files) == {"model.osim", info.path_fit["file"]}
    assert {"load", "edit", "sample", "fit", "write"} <= set(info.phases)
    assert all(p["wall_s"] >= 0 and p["cpu_s"] >= 0 for p in info.phases.values())


@pytest.mark.timeout(600)
def test_a_damaged_or_half_written_entry_is_never_used(inputs, prepared, tmp_path):
    model, mot = inputs
    cache = tmp_path / "cache"
    shutil.copytree(prepared, cache / prepared.name)
    entry = cache / prepared.name
    assert entry_complete(entry)
    with open(entry / "model.osim", "ab") as f:  # damaged after the fact
        f.write(b"<!-- truncated")
    assert not entry_complete(entry)
    assert prepare_model(model, cache, SETTINGS, mot) == entry
    assert entry_complete(entry) and _bytes(entry) == _bytes(prepared)
    (entry / "prep.json").unlink()  # a folder without its description is no entry
    assert not entry_complete(entry)
    assert prepare_model(model, cache, SETTINGS, mot) == entry
    assert _bytes(entry) == _bytes(prepared)
    assert [p.name for p in cache.iterdir()] == [prepared.name]  # no temporary folder left


def test_a_failed_preparation_leaves_nothing_behind(inputs, tmp_path, monkeypatch):
    model, mot = inputs

    def broken(*args, **kwargs):
        raise RuntimeError("killed mid-fit")

    monkeypatch.setattr(prep_module, "fit_paths", broken)
    with pytest.raises(RuntimeError, match="killed mid-fit"):
        prepare_model(model, tmp_path / "cache", SETTINGS, mot)
    assert list((tmp_path / "cache").iterdir()) == []


def _rescaled(model: Path, factors: dict[str, float], out: Path) -> Path:
    m = osim.Model(str(model))
    state = m.initSystem()
    scales = osim.ScaleSet()
    bodies = m.getBodySet()
    for i in range(bodies.getSize()):
        f = factors.get(bodies.get(i).getName(), factors["*"])
        s = osim.Scale()
        s.setSegmentName(bodies.get(i).getName())
        s.setScaleFactors(osim.Vec3(f, f, f))
        s.setApply(True)
        scales.cloneAndAppend(s)
    m.scale(state, scales, True, -1.0)
    m.printToXML(str(out))
    return out


@pytest.mark.timeout(900)
def test_mapped_paths_of_a_rescaled_model_stay_within_the_bound(inputs, prepared, tmp_path):
    model, mot = inputs
    uniform = _rescaled(model, {"*": 1.1}, tmp_path / "uniform.osim")
    legs = _rescaled(model, {"*": 1.0, "femur_r": 1.15, "femur_l": 1.15, "tibia_r": 0.95,
                             "tibia_l": 0.95}, tmp_path / "legs.osim")
    for subject in (uniform, legs):
        folder = prepare_model(subject, tmp_path / "cache", SETTINGS, mot, template=prepared)
        assert folder.name == cache_key(subject, SETTINGS, mot, prepared)
        assert folder.name != cache_key(subject, SETTINGS, mot)  # mapped is not fresh
        info = PreparedModel.load(folder)
        mapping = info.path_fit["mapping"]
        assert mapping["template"] == prepared.name
        assert mapping["mapped"] + len(mapping["refitted"]) == 12
        if subject == uniform:
            # One scale factor for every body scales every length: nothing to refit.
            assert mapping["refitted"] == []
            scales = [m["scale"] for m in info.path_fit["muscles"].values()]
            # (the template's own fit error moves the estimate by up to ~0.2 %)
            np.testing.assert_allclose(scales, 1.1, rtol=5e-3)
        # Held-out poses (half way between the fitted frames, another seed): the mapped
        # paths against the subject's own geometric paths.
        m, _, _, cols, rotational, sampled, _ = _fit_inputs(subject, [mot], SETTINGS)
        frames = sampled[::SETTINGS.path_fit_samples_per_frame]
        between = sample_poses((frames[:-1] + frames[1:]) / 2, [c in rotational for c in cols],
                               np.deg2rad(SETTINGS.path_fit_range_deg), 3,
                               seed=SETTINGS.path_fit_seed + 1)
        errors = pf.held_out_errors(m, cols, between,
                                    [pf.read_path_set(folder / info.path_fit["file"])],
                                    solver_arms=False)[0]
        assert len(errors) == 12
        for name, e in errors.items():
            assert e["length_rms_m"] <= pf.HELD_OUT_LENGTH_RMS_BOUND_M, name
            assert e["moment_arm_dl_rms_m"] <= pf.HELD_OUT_MOMENT_ARM_RMS_BOUND_M, name
    # Same inputs, same bytes, mapped too.
    again = prepare_model(legs, tmp_path / "cache2", SETTINGS, mot, template=prepared)
    assert _bytes(again) == _bytes(tmp_path / "cache" / again.name)


def test_a_template_of_another_model_is_refused(inputs, prepared, tmp_path):
    model, mot = inputs
    other = build_test_model(tmp_path / "upper.osim", upper=True)
    with pytest.raises(InputError, match="is not a scaling of this model"):
        prepare_model(model, tmp_path / "cache", SETTINGS, mot,
                      template=prepare_model(other, tmp_path / "c0", SETTINGS, mot))
    with pytest.raises(InputError, match="is not a prepared model with polynomial paths"):
        prepare_model(model, tmp_path / "cache", SETTINGS, mot, template=tmp_path / "nothing")
    assert not os.listdir(tmp_path / "cache")
