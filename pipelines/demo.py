"""The embedded main job: every stage end to end on data the project generates itself.

Each stage contributes a `run_demo` in `pipelines/<stage>/demo.py`; this module chains them,
validates every dataset they write, prints what came out and writes `demo-summary.json`.
Everything runs offline on procedural stand-ins (no licensed downloads).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from musclekit.dataset.summary import render_summary
from musclekit.dataset.validate import validate_dataset
from musclekit.errors import ExitCode, MusclekitError
from musclekit.progress import console


def _check(path: str | Path) -> None:
    findings = validate_dataset(path)
    errors = [f for f in findings if f.level == "error"]
    if errors:
        raise MusclekitError(f"demo dataset {path} failed validation: {errors[0]}")
    kinds = sorted({f.where.split(")")[0].removeprefix("quality (") for f in findings
                    if f.where.startswith("quality (")})
    note = f" (quality warnings, expected on generated data: {', '.join(kinds)})" if kinds else ""
    console.print(f"[green]valid[/] {path}{note}")


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    if hasattr(value, "item"):
        return _jsonable(value.item())
    return str(value)


def _step(title: str, results: dict, key: str, fn: Callable[[], dict]) -> dict:
    console.rule(f"[bold]musclekit demo: {title}")
    start = time.perf_counter()
    result = fn()
    result = dict(result)
    result.setdefault("seconds", round(time.perf_counter() - start, 1))
    if result.get("dataset"):
        _check(result["dataset"])
    results[key] = _jsonable(result)
    return result


def _command(args: list[str]) -> None:
    """Run one `musclekit` command line as a user would type it; a failure stops the demo."""
    from musclekit.cli.main import main

    console.print(f"[bold]$ musclekit {' '.join(args)}")
    code = main(args)
    if code != 0:
        raise MusclekitError(f"demo chain: `musclekit {' '.join(args)}` failed (exit {code})")


def run_chain(workdir: Path, quick: bool = False) -> dict:
    """The user's flow on one dataset, through the real command lines: an AMASS-layout
    stand-in (`simulate-synthetic`), `simulate` (kinematics, then muscle-driven dynamics,
    on the project's small test model so that it takes seconds), `train` on the
    activations it produced (evaluated against the baselines)."""
    from musclekit.dataset import open_dataset
    from musclekit.pipelines.simulate.opensim.test_model import build_test_model
    from musclekit.pipelines.train.evaluate import evaluate_run
    from musclekit.pipelines.train.run import RunFolder

    workdir = Path(workdir)
    assets, dataset, run = workdir / "assets", workdir / "dataset", workdir / "run"
    model = build_test_model(workdir / "test-model.osim")
    motions = ["squat"] if quick else ["squat", "walking"]
    _command(["simulate-synthetic", str(assets), "--duration-s", "1.6" if quick else "2.0",
              "--rate-hz", "30", *[a for m in motions for a in ("--motion", m)]])
    _command(["simulate", "--amass", "Synthetic", "--amass-root", str(assets / "amass"),
              "--body-model", str(assets / "body"), "--model", str(model), "--out",
              str(dataset), "--workers", "0", "--method", "inverse", "--chunk-s", "0.8",
              "--buffer-s", "0.1", "--mesh-per-s", "25", "--max-iterations", "500",
              "--foot-bodies-right", "calcn_r", "--foot-bodies-left", "calcn_l"])
    _command(["train", str(dataset), "--out", str(run), "--model", "mint", "--width", "32",
              "--layers", "1", "--heads", "4", "--window", "10", "--lr", "3e-3",
              "--batch-size", "32", "--eval-every", "10", "--time-budget",
              "3" if quick else "8", "--device", "cpu"])
    ds = open_dataset(dataset)
    meta = RunFolder.open(run).meta
    overall = evaluate_run(run).overall()
    return {"dataset": str(dataset), "run": str(run), "streams": sorted(ds.streams),
            "sequences": sorted(ds.sequence_ids("activations")),
            "input_stream": meta["data"]["inputs"]["stream"],
            "target_stream": meta["data"]["targets"]["stream"],
            "steps": meta.get("steps"),
            "rmse": {name: m["rmse"] for name, m in overall.items()}}


def run_demo(out: Path, quick: bool = False) -> int:
    """Run the demo into `out`; returns the exit code."""
    from musclekit.pipelines.align.demo import run_demo as align_demo
    from musclekit.pipelines.keypoints.demo import run_demo as keypoints_demo
    from musclekit.pipelines.simulate.dynamics.stage.demo import run_demo as dynamics_demo
    from musclekit.pipelines.simulate.kinematics.demo import run_demo as kinematics_demo
    from musclekit.pipelines.train.demo import run_demo as train_demo

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    results: dict[str, Any] = {}

    aligned = _step("align (sEMG + phone video -> 10 fps grid)", results, "align",
                    lambda: align_demo(out / "align"))
    console.print(f"offset recovered: {aligned['offset_s']:.3f} s (truth {aligned['true_offset_s']:.3f} s, "
                  f"error {aligned['offset_error_ms']:.0f} ms, from {aligned['offset_source']}); "
                  f"QC plot {aligned['qc_png']}")

    capture = _step("keypoints (MediaPipe, offline) on aligned frames", results, "keypoints",
                    lambda: keypoints_demo(out / "keypoints", duration_s=3.0 if quick else 6.0))

    kin = _step("simulate: AMASS-layout motion -> markers -> OpenSim scale + IK", results,
                "simulate_kinematics",
                lambda: kinematics_demo(out / "simulate", duration_s=0.5 if quick else 0.8))
    for seq_id, item in kin["sequences"].items():
        console.print(f"  {seq_id}: IK marker RMS {item['ik_rms_mean_mm']} mm, largest joint angle "
                      f"error {item['max_joint_error_deg']} deg ({item['worst_joint']})")

    dyn = _step("simulate: chunked muscle-driven optimisation (inverse, small model)", results,
                "simulate_dynamics", lambda: dynamics_demo(out / "dynamics"))
    console.print(f"  {dyn['chunks_converged']}/{dyn['chunks_total']} chunks converged, median solve "
                  f"{dyn['median_solve_s']:.1f} s, largest pelvis residual moment "
                  f"{dyn['max_residual_moment_nm']:.2f} N m, largest reserve "
                  f"{dyn['max_reserve_nm']:.2f} N m, saturated muscles: "
                  f"{', '.join(dyn['saturated_muscles']) or 'none'}; plot {dyn['plot']}")

    # Two trainings: on a generated dataset whose activations are a known nonlinear function
    # of the motion (the model must beat the baselines), and on the demo capture itself
    # (a few seconds of keypoints -> sEMG: too little data to learn much; shown for the path).
    for key, title, dataset in (
        ("train_known_function", "train on generated motion -> activations (known function)", None),
        ("train_capture", "train on the aligned capture (keypoints -> sEMG)", capture["dataset"]),
    ):
        trained = _step(f"{title}, a few seconds", results, key,
                        lambda dataset=dataset, key=key: train_demo(
                            dataset, out / key, seconds=3.0 if quick else 8.0))
        for name, metrics in trained["metrics"].items():
            console.print(f"  {name:>12}: RMSE {metrics['rmse']:.4g} on {metrics['n_windows']} "
                          "test windows")

    _step("one chain, as a user types it: simulate (AMASS -> kinematics -> dynamics) -> "
          "train on the activations it produced", results, "chain",
          lambda: run_chain(out / "chain", quick=quick))
    chain = results["chain"]
    console.print(f"  {chain['input_stream']} -> {chain['target_stream']} on "
                  f"{len(chain['sequences'])} simulated sequence(s): RMSE "
                  + ", ".join(f"{k} {v:.4g}" for k, v in chain["rmse"].items()
                              if isinstance(v, float)))

    render_summary(capture["dataset"], console)
    summary_file = out / "demo-summary.json"
    summary_file.write_text(json.dumps(results, indent=2) + "\n")
    console.rule(f"[bold green]demo finished in {time.perf_counter() - start:.0f} s: {summary_file}")
    return int(ExitCode.OK)
