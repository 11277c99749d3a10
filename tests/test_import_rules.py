"""The layering of the code, read from every import statement (those inside functions too):
no import cycle anywhere; simulate part 1 (`kinematics`) never imports part 2 (`dynamics`);
the OpenSim layer imports nothing else of simulate; the dynamics kernel imports neither the
stage nor a method; no method imports another; `nlp` never imports opensim; the core package
imports no stage."""

from __future__ import annotations

from tests.helpers.imports import cycles, import_graph

SIM = "musclekit.pipelines.simulate"
GRAPH = import_graph()


def edges_from(prefix: str) -> list[tuple[str, str]]:
    return [(a, b) for a, deps in GRAPH.items() if a == prefix or a.startswith(prefix + ".")
            for b in deps]


def under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def test_the_graph_is_read():
    # A test that reads nothing passes anything: make sure the known modules and edges are there.
    assert f"{SIM}.dynamics.stage.run" in GRAPH
    assert f"{SIM}.kinematics.run" in GRAPH
    assert any(under(b, f"{SIM}.opensim") for _, b in edges_from(f"{SIM}.kinematics"))
    assert "benchmarks.validate_rajagopal" in GRAPH


def test_no_import_cycle():
    found = cycles(GRAPH)
    assert not found, "import cycles (break each by moving the shared piece down a layer): " + \
        "; ".join(" -> ".join(c) for c in found)


def test_part_one_does_not_import_part_two():
    bad = [(a, b) for a, b in edges_from(f"{SIM}.kinematics") if under(b, f"{SIM}.dynamics")]
    assert not bad, bad


def test_opensim_layer_imports_nothing_else_of_simulate():
    bad = [(a, b) for a, b in edges_from(f"{SIM}.opensim")
           if under(b, SIM) and not under(b, f"{SIM}.opensim")]
    assert not bad, bad


def test_kernel_imports_neither_stage_nor_methods():
    bad = [(a, b) for a, b in edges_from(f"{SIM}.dynamics.kernel")
           if under(b, f"{SIM}.dynamics.stage") or under(b, f"{SIM}.dynamics.methods")
           or under(b, f"{SIM}.dynamics.upper")]
    assert not bad, bad


def test_no_method_imports_another():
    methods = f"{SIM}.dynamics.methods"
    bad = []
    for a, b in edges_from(methods):
        mine = a[len(methods) + 1:].split(".")[0]
        if under(b, methods) and b != methods:
            theirs = b[len(methods) + 1:].split(".")[0]
            if mine and theirs != mine:
                bad.append((a, b))
    assert not bad, bad


def test_methods_and_nlp_do_not_import_the_stage():
    bad = [(a, b) for prefix in (f"{SIM}.dynamics.methods", f"{SIM}.dynamics.nlp",
                                 f"{SIM}.dynamics.upper")
           for a, b in edges_from(prefix) if under(b, f"{SIM}.dynamics.stage")]
    assert not bad, bad


def test_nlp_never_imports_opensim():
    bad = [(a, b) for a, b in edges_from(f"{SIM}.dynamics.nlp")
           if b == "opensim" or under(b, f"{SIM}.opensim")]
    assert not bad, bad


def test_core_imports_no_stage():
    bad = [(a, b) for a, b in GRAPH.items() for b in b
           if under(a, "musclekit") and not under(a, "musclekit.pipelines")
           and not under(a, "musclekit.cli") and under(b, "musclekit.pipelines")]
    assert not bad, bad


def test_a_cycle_is_found(tmp_path):
    # The detector itself: a two-module cycle and a self-contained chain.
    assert cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
