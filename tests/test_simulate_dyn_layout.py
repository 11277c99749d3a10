"""The dynamics package's structure rules: the NLP layer never imports opensim, methods sit
behind a registry, payloads are typed."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from musclekit.errors import InputError
from musclekit.pipelines.simulate import dynamics

DYN = Path(dynamics.__file__).parent
NLP = DYN / "nlp"


def _imports(path: Path) -> set[str]:
    """Every module name an `import` statement in `path` names (any depth, any branch)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            out.add(base)
    return out


def test_no_module_under_nlp_imports_opensim_even_lazily() -> None:
    files = sorted(NLP.glob("*.py"))
    assert len(files) >= 4
    for f in files:
        names = _imports(f)
        assert not any(n == "opensim" or n.startswith("opensim.") for n in names), f
        # Within the package the NLP may only use itself and the pure contact law.
        for n in names:
            if n.startswith(".."):
                assert n == "..kernel.contact_law", f"{f.name} imports {n}"


def test_importing_every_nlp_module_loads_neither_opensim_nor_the_dataset_layer() -> None:
    mods = [f"musclekit.pipelines.simulate.dynamics.nlp.{f.stem}" for f in NLP.glob("*.py")]
    code = ("import importlib, sys\n"
            f"for m in {mods!r}: importlib.import_module(m)\n"
            "print(sorted(k for k in ('opensim', 'polars', 'pyarrow') if k in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_rule_breaker_would_be_caught(tmp_path: Path) -> None:
    """The static check above sees a lazy import inside a function."""
    f = tmp_path / "bad.py"
    f.write_text("def solve():\n    import opensim as osim\n    return osim\n")
    assert "opensim" in _imports(f)


def test_registry_knows_both_methods_with_their_own_settings() -> None:
    from musclekit.pipelines.simulate.dynamics.kernel.settings import SolveSettings
    from musclekit.pipelines.simulate.dynamics.methods import get_method, method_names

    assert method_names() == ("inverse", "track")
    inverse, track = get_method("inverse"), get_method("track")
    assert issubclass(inverse.settings, SolveSettings) and issubclass(track.settings, SolveSettings)
    # Each method's options live in its own settings, not in a shared grab-bag.
    assert "contact_height_on_m" in inverse.settings.__dataclass_fields__
    assert "contact_height_on_m" not in track.settings.__dataclass_fields__
    assert "trust_rad" in track.settings.__dataclass_fields__
    assert "trust_rad" not in inverse.settings.__dataclass_fields__
    assert not inverse.contact and track.contact


def test_unknown_method_and_unknown_setting_are_clear_errors() -> None:
    from musclekit.pipelines.simulate.dynamics.methods import get_method

    with pytest.raises(InputError, match=r"unknown method 'static'; choose one of inverse, track"):
        get_method("static")
    with pytest.raises(InputError, match=r"method 'inverse' has no settings \['trust_rad'\]"):
        get_method("inverse").make_settings({"trust_rad": 0.1})


def test_a_third_method_registers_without_touching_the_others(tmp_path: Path) -> None:
    """A new method is a settings class and a solver module; the worker finds it by name."""
    from musclekit.pipelines.simulate.dynamics import methods
    from musclekit.pipelines.simulate.dynamics.kernel.settings import SolveSettings

    @dataclass
    class NothingSettings(SolveSettings):
        answer: float = 42.0

    m = methods.Method(name="nothing-test", settings=NothingSettings,
                       solver_module="simulate_dyn_fixtures", contact=False, summary="test only")
    try:
        methods.register(m)
        assert methods.get_method("nothing-test") is m
        assert m.make_settings({"answer": 1.0}).answer == 1.0
        with pytest.raises(ValueError, match="registered already"):
            methods.register(methods.Method(name="nothing-test", settings=NothingSettings,
                                            solver_module="x", contact=False, summary=""))
    finally:
        methods._REGISTRY.pop("nothing-test", None)


def test_config_gives_each_method_its_own_settings() -> None:
    from musclekit.pipelines.simulate.dynamics import (
        InverseSettings,
        TrackSettings,
        config_from_cli,
    )

    assert isinstance(config_from_cli().solve, InverseSettings)
    cfg = config_from_cli(method="track", mesh_per_s=30)
    assert isinstance(cfg.solve, TrackSettings) and cfg.solve.mesh_per_s == 30
    assert cfg.prep.method == "track" and cfg.prep.contact is True


def test_chunk_task_round_trips_through_json(tmp_path: Path) -> None:
    from musclekit.pipelines.simulate.dynamics.kernel.chunks import Chunk
    from musclekit.pipelines.simulate.dynamics.methods.track.settings import TrackSettings
    from musclekit.pipelines.simulate.dynamics.stage.payloads import ChunkTask

    chunk = Chunk("S01", 2, 2.8, 4.2, 2.66, 4.34, False, True)
    task = ChunkTask(chunk=chunk, method="track", settings=TrackSettings(trust_m=0.01),
                     prep_folder="p", motion_path="m.mot", out_dir="o", time_limit_s=60.0)
    path = task.write(tmp_path / "task.json")
    back = ChunkTask.from_json(path.read_text())
    assert back == task and isinstance(back.chunk, Chunk)
    assert json.loads(path.read_text())["settings"]["trust_m"] == 0.01


def test_the_test_model_is_not_stage_code() -> None:
    assert not (DYN / "testmodel.py").exists()
    from musclekit.pipelines.simulate.opensim.test_model import build_test_model  # noqa: F401


def test_a_method_s_inputs_are_declared_and_set_by_the_stage(tmp_path: Path) -> None:
    """track warm-starts from inverse's results through a declared input, not by reading a
    sibling folder by path; inverse takes measured forces the same way."""
    from musclekit.pipelines.simulate.dynamics.stage.config import config_from_cli
    from musclekit.pipelines.simulate.dynamics.stage.jobs import SequenceJob
    from musclekit.pipelines.simulate.dynamics.stage.units import _settings_for

    job = SequenceJob(sequence=None, model_path=tmp_path / "m.osim",
                      motion_path=tmp_path / "ik.mot",
                      chunks=[], t0=0.0, t1=1.0, out_dir=tmp_path / "dyn" / "track",
                      grf_file=tmp_path / "grf.mot")
    track = _settings_for(job, config_from_cli(method="track"))
    assert track.warm_start_dir == str(tmp_path / "dyn" / "inverse")
    inverse = _settings_for(replace(job, out_dir=tmp_path / "dyn" / "inverse"), config_from_cli())
    assert not hasattr(inverse, "warm_start_dir") and inverse.grf_file == str(tmp_path / "grf.mot")
