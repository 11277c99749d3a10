"""Bad-input campaign: every `musclekit` command against the inputs a demanding new user gives.

Each case runs the real command as a subprocess with a time limit and is judged on what the
user sees:

- traceback: a Python traceback instead of an `error:` line;
- hang: still running at the case's time limit (killed; the campaign always ends);
- silent: exit 0 on an input that must be refused, or a dataset that validated before the
  command and does not after it (wrong or lost data);
- exit-0-warn: exit 0 with a warning where an error was expected (reported, not a failure
  when the expectation is "either");
- unnamed fix: refused, but the message names neither a flag nor what to do.

Inputs are generated in a temporary folder from the project's own synthetic captures and
datasets (no downloads): empty, truncated, binary, wrong file types, NaN/inf, reversed and
duplicated time, absurd numbers, unwritable and nested output paths, conflicting flags.

    python benchmarks/bad_inputs.py            # every case (about 250; ~10 min on 2 cores)
    python benchmarks/bad_inputs.py --quick    # one case in four, every command
    python benchmarks/bad_inputs.py --only align --jobs 2 --report table.md

Exit code 1 when any traceback, hang or silent result is found. docs/reliability.md holds the
table of the last full run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

FIX_WORDS = re.compile(
    r"--[a-z]|\b(give|use|pass|choose|rerun|check|remove|set|install|free|delete|retrain|"
    r"export|write|make|add|leave out|split|sort|train|copy|fix|rename|run|try|expected|"
    r"must|should|needs?|one of|not a valid|is not one of|range|at least|at most)\b|"
    r"\b(its|known|declared|available) [\w ]*:|settings:|Try '|"
    r":\s*[\w.\-]+(,\s*[\w.\-]+)+\s*$", re.I | re.M)
ERROR_LINE = re.compile(r"^(error:|Error:|Usage:|.*Invalid value|.*Missing (argument|option)|"
                        r".*No such (option|command))", re.M)


@dataclass
class Case:
    command: str  # the musclekit command (the table's row)
    name: str  # what is wrong, for the report
    argv: list[str]
    expect: str = "error"  # error | either | ok
    dataset: Path | None = None  # validated before and after (must stay readable)
    timeout_s: float = 120.0
    family: str = ""


@dataclass
class Outcome:
    case: Case
    code: int | None
    seconds: float
    output: str
    verdict: str  # ok | traceback | hang | silent | exit-0-warn | unnamed
    note: str = ""
    extra: dict = field(default_factory=dict)


# -- inputs ------------------------------------------------------------------------------------

class Workspace:
    """Valid inputs built once (a capture, an aligned dataset, a training dataset and run,
    AMASS-layout stand-ins) and the corrupted copies each case needs."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.n = 0

    def path(self, name: str) -> Path:
        self.n += 1
        p = self.root / "cases" / f"{self.n:03d}-{name}"
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def build(self) -> None:
        from musclekit.pipelines.align.synthetic import make_capture
        from musclekit.pipelines.train.config import TrainConfig
        from musclekit.pipelines.train.synthetic import SyntheticSpec, write_synthetic_dataset
        from musclekit.pipelines.train.training import train

        cap = make_capture(self.root / "cap", duration_s=5.0, dropout_s=None)
        self.emg, self.video = cap.emg_path, cap.video_path
        self.aligned = self.root / "aligned"
        _musclekit(["align", "--emg", str(self.emg), "--video", str(self.video), "--out",
                    str(self.aligned), "--subject", "S01", "--exercise", "Squat"], 300)
        self.qc_png = next((self.aligned / "qc" / "align").glob("*.png"))
        self.seq = json.loads(next((self.aligned / "meta" / "units").glob("*.json"))
                              .read_text())["sequences"][0]["id"]
        spec = SyntheticSpec(n_subjects=2, seconds=12.0, n_joints=4, n_muscles=3,
                             gaps_per_sequence=1)
        self.ds = write_synthetic_dataset(self.root / "ds", spec)
        from musclekit.dataset import open_dataset

        self.muscle = open_dataset(self.ds).streams["activations"].channels[0]
        self.run = self.root / "run"
        cfg = TrainConfig(dataset=str(self.ds), model="lstm", width=8, layers=1, window_frames=10,
                          max_steps=6, eval_every_steps=3, batch_size=16, device="cpu")
        from musclekit.progress import QUIET, set_verbosity

        set_verbosity(QUIET)
        train(cfg, self.run)
        self.amass = self.root / "synth"
        _musclekit(["simulate-synthetic", str(self.amass), "--motion", "walking",
                    "--duration-s", "0.5"], 300)
        self.npz = next(self.amass.rglob("*.npz"))
        self.rows = self.emg.read_text().splitlines()
        self.header_at = next(i for i, line in enumerate(self.rows) if line.startswith("time"))

    # file corruptions
    def text(self, name: str, text: str) -> Path:
        p = self.path(name)
        p.write_text(text)
        return p

    def bytes_(self, name: str, data: bytes) -> Path:
        p = self.path(name)
        p.write_bytes(data)
        return p

    def truncated(self, src: Path, name: str, keep: float = 0.5, mid_line: bool = True) -> Path:
        data = src.read_bytes()
        cut = int(len(data) * keep)
        if mid_line:
            cut = data.rfind(b",", 0, cut) + 2 if b"," in data[:cut] else cut
        return self.bytes_(name + src.suffix, data[:cut])

    def binary(self, name: str, suffix: str) -> Path:
        return self.bytes_(name + suffix, np.random.default_rng(self.n).bytes(4096))

    def emg_rows(self, name: str, edit) -> Path:
        head, body = self.rows[: self.header_at + 1], self.rows[self.header_at + 1:]
        return self.text(name + ".csv", "\n".join(head + edit(body)) + "\n")

    def copy(self, src: Path, name: str) -> Path:
        dst = self.path(name)
        shutil.copytree(src, dst)
        return dst

    def unwritable_file(self) -> Path:
        p = self.path("a-file")
        p.write_text("not a folder")
        return p


def _musclekit(argv: list[str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "musclekit.cli.main", *argv], capture_output=True,
                          text=True, timeout=timeout, env=_env())


def _env() -> dict:
    env = dict(os.environ, COLUMNS="80", PYTHONWARNINGS="ignore", MPLBACKEND="Agg")
    env.setdefault("MUSCLEKIT_CONFIG", str(Path(tempfile.gettempdir()) / "mk-bad-inputs.toml"))
    return env


# -- cases ---------------------------------------------------------------------------------------

def _values(flag: str, values: list[str]) -> list[tuple[str, list[str]]]:
    return [(f"{flag} {v}", [flag, v]) for v in values]


def cases(w: Workspace) -> list[Case]:  # noqa: PLR0915 - one long list reads best
    out: list[Case] = []

    def add(command: str, name: str, argv: list[str], expect: str = "error",
            dataset: Path | None = None, family: str = "", timeout_s: float = 120.0) -> None:
        out.append(Case(command, name, argv, expect, dataset, timeout_s, family or name))

    # align: sEMG files
    emg_files = {
        "empty": w.text("empty.csv", ""),
        "header only": w.text("header.csv", w.rows[w.header_at] + "\n"),
        "one row": w.emg_rows("one-row", lambda b: b[:1]),
        "truncated mid-line": w.truncated(w.emg, "trunc", 0.6),
        "binary": w.binary("binary", ".csv"),
        "a video as CSV": w.video,
        "a PNG as CSV": w.qc_png,
        "missing": w.root / "nope.csv",
        "a folder": w.root / "cap",
        "reversed rows": w.emg_rows("reversed", lambda b: b[::-1]),
        "duplicated rows": w.emg_rows("dups", lambda b: [r for r in b for _ in (0, 1)]),
        "same time on every row": w.emg_rows(
            "sametime", lambda b: [b[0].split(",")[0] + "," + ",".join(r.split(",")[1:]) for r in b]),
        "NaN values": w.emg_rows("nan", lambda b: [r.split(",")[0] + ",nan,nan,nan,nan" for r in b]),
        "inf values": w.emg_rows("inf", lambda b: [r.split(",")[0] + ",inf,1,1,1" for r in b]),
        "all-NaN channel": w.emg_rows(
            "nanchan", lambda b: [",".join(r.split(",")[:-1] + ["nan"]) for r in b]),
        "text in values": w.emg_rows("textval", lambda b: [r.split(",")[0] + ",a,b,c,d" for r in b]),
        "garbage times": w.emg_rows("badtime", lambda b: ["yesterday," + ",".join(r.split(",")[1:])
                                                          for r in b]),
        "clock reset": w.emg_rows("reset", lambda b: b[: len(b) // 2] + b[: len(b) // 2]),
        "semicolon file": w.emg_rows("semi", lambda b: [r.replace(",", ";") for r in b]),
        "huge values (volts as uV)": w.emg_rows(
            "huge", lambda b: [r.split(",")[0] + ",1e30,1e30,1e30,1e30" for r in b]),
    }
    for name, f in emg_files.items():
        add("align", f"--emg {name}", ["align", "--emg", str(f), "--video", str(w.video),
                                        "--out", str(w.path("out")), "--no-qc"],
            expect="either" if name in ("duplicated rows", "semicolon file") else "error",
            family="sEMG file")
    videos = {
        "empty": w.bytes_("empty.mov", b""),
        "truncated": w.truncated(w.video, "trunc", 0.3, mid_line=False),
        "binary": w.binary("binary", ".mov"),
        "a CSV as video": w.emg,
        "a PNG as video": w.qc_png,
        "missing": w.root / "nope.mov",
        "a folder": w.root / "cap",
    }
    for name, f in videos.items():
        add("align", f"--video {name}", ["align", "--emg", str(w.emg), "--video", str(f),
                                          "--out", str(w.path("out")), "--no-qc"],
            expect="either" if name == "truncated" else "error", family="video file")
    base = ["align", "--emg", str(w.emg), "--video", str(w.video), "--no-qc"]
    flags = (_values("--fps", ["nan", "inf", "-1", "0", "1e6", "abc", "25"])
             + _values("--offset", ["nan", "inf", "1e12", "abc", "259200"])
             + _values("--max-lag", ["-1", "0", "nan"])
             + _values("--clip-frames", ["0", "-5", "100000"])
             + _values("--emg-tz", ["+25:00", "Mars/Base", "abc"])
             + _values("--video-start", ["garbage", "1700-01-01T00:00:00", "2026-13-40T99:00:00"])
             + _values("--emg-band", ["abc", "450,20", "1,2,3", "0,5000"])
             + _values("--emg-notch", ["-50", "nan"])
             + _values("--emg-envelope-hz", ["0", "-1", "nan"])
             + _values("--emd-ms", ["-5", "1e6"])
             + _values("--frame-tolerance-ms", ["-1", "nan"])
             + _values("--emg-tolerance-ms", ["-1"])
             + _values("--time-unit", ["furlong", "ns"])
             + _values("--emg-kind", ["banana", "raw"])
             + _values("--subject", ["a b", "../x", ""])
             + _values("--sequence-id", ["../../etc", "a/b"])
             + _values("--channels", ["nope", "l_quad=,", "l_quad=l_ham"])
             + _values("--time-col", ["nope"])
             + _values("--emg-rate", ["0", "-1", "nan"])
             + _values("--emg-units", ["furlongs"])
             + _values("--split-seed", ["abc"]))
    # Accepted as they are, or refused with a reason: both are right for these.
    either = {"--channels l_quad=l_ham", "--emg-band 0,5000", "--emg-band 450,20",
              "--emg-band 1,2,3",
              "--emg-units furlongs"}  # on sensor envelopes a label (e.g. %MVC), kept as given
    for name, argv in flags:
        add("align", name, base + argv + ["--out", str(w.path("out"))],
            expect="either" if name in either else "error", family="absurd numbers")
    add("align", "--out /proc/x", base + ["--out", "/proc/musclekit-x"], family="output path")
    add("align", "--out a file", base + ["--out", str(w.unwritable_file())], family="output path")
    add("align", "--out /dev/null", base + ["--out", "/dev/null"], family="output path")
    add("align", "--out a non-dataset folder", base + ["--out", str(w.root / "cap")],
        family="output path")
    add("align", "--out nested new folders", base + ["--out", str(w.path("a") / "b" / "c" / "d")],
        expect="ok", family="output path")
    add("align", "--out an aligned dataset, again (resume)",
        base + ["--out", str(w.copy(w.aligned, "again"))], expect="ok", family="output path")
    other = w.text("other.csv", "\n".join(w.rows).replace("l_quad", "quad_L") + "\n")
    dst = w.copy(w.aligned, "otherchan")
    add("align", "another capture with other channel names",
        ["align", "--emg", str(other), "--video", str(w.video), "--out", str(dst),
         "--sequence-id", "second", "--no-qc"], dataset=dst, family="conflicting data")
    dst = w.copy(w.ds, "alignintotrain")
    add("align", "--out a training dataset", base + ["--out", str(dst)], expect="either",
        dataset=dst, family="conflicting data")
    session = {"empty": w.text("s.toml", ""), "binary": w.binary("s", ".toml"),
               "not TOML": w.text("bad.toml", "[[capture]\nemg = "),
               "no captures": w.text("none.toml", "[align]\nfps = 10\n"),
               "missing files": w.text("miss.toml", '[[capture]]\nemg = "x.csv"\nvideo = "y.mov"\n'),
               "missing": w.root / "nope.toml"}
    for name, f in session.items():
        # A capture whose files are missing fails alone (exit 3, the reason printed).
        add("align", f"--session {name}", ["align", "--session", str(f), "--out",
                                           str(w.path("out")), "--workers", "0"],
            family="session file")
    add("align", "--session with --emg", base + ["--session", str(session["empty"]), "--out",
                                                  str(w.path("out"))], family="conflicting flags")
    add("align", "no inputs", ["align", "--out", str(w.path("out"))], family="conflicting flags")
    add("align", "--quiet --verbose", base + ["--quiet", "--verbose", "--out", str(w.path("o"))],
        family="conflicting flags")

    # keypoints
    for name, ds in {"missing": w.root / "nope", "empty folder": w.path("emptydir"),
                     "a file": w.emg, "a training dataset (no frames)": w.ds}.items():
        if name == "empty folder":
            ds.mkdir()
        add("keypoints", f"DS {name}", ["keypoints", str(ds)], family="dataset path")
    vibe = {"empty": w.bytes_("v.pkl", b""), "binary": w.binary("v", ".pkl"),
            "a CSV": w.emg, "missing": w.root / "nope.pkl", "truncated pickle":
            w.bytes_("t.pkl", __import__("pickle").dumps({"1": {"joints3d": np.zeros((3, 49, 3))}})[:40])}
    for name, f in vibe.items():
        dst = w.copy(w.aligned, "kp")
        add("keypoints", f"--vibe-output {name}", ["keypoints", str(dst), "--vibe-output", str(f)],
            dataset=dst, family="VIBE file")
    for name, argv in (_values("--backend", ["banana"]) + _values("--min-detection-confidence",
                                                                  ["-1", "2", "nan"])
                       + _values("--workers", ["-1"]) + _values("--sequence", ["nope"])
                       + _values("--vibe-root", ["/nonexistent"]) + _values("--track", ["nope"])):
        dst = w.copy(w.aligned, "kp")
        extra = ["--vibe-output", str(vibe["empty"])] if name.startswith("--track") else []
        add("keypoints", name, ["keypoints", str(dst), *argv, *extra], dataset=dst,
            family="absurd numbers")

    # train
    tbase = ["--model", "lstm", "--width", "8", "--layers", "1", "--window", "10",
             "--max-steps", "3", "--eval-every", "2", "--device", "cpu", "--no-evaluate"]
    for name, ds in {"missing": w.root / "nope", "empty folder": w.path("emptydir2"),
                     "a file": w.emg, "aligned (no muscle stream pair)": w.aligned}.items():
        if name == "empty folder":
            ds.mkdir()
        add("train", f"DS {name}", ["train", str(ds), "--out", str(w.path("run")), *tbase],
            expect="either" if name.startswith("aligned") else "error", family="dataset path")
    tflags = (_values("--task", ["banana"]) + _values("--model", ["banana"])
              + _values("--window", ["0", "1", "100000"]) + _values("--rate", ["0", "-1", "nan"])
              + _values("--stride", ["0"])
              + _values("--split", ["banana", "leave-subject-out:NOPE", "file:/nonexistent"])
              + _values("--test-fraction", ["1.5", "-0.1", "nan"]) + _values("--val-fraction", ["1"])
              + _values("--loss", ["banana"]) + _values("--lr", ["0", "-1", "nan"])
              + _values("--batch-size", ["0"]) + _values("--max-steps", ["0"])
              + _values("--time-budget", ["0", "-1"]) + _values("--eval-every", ["0"])
              + _values("--patience", ["0"]) + _values("--device", ["banana", "cuda"])
              + _values("--threads", ["0", "1000"]) + _values("--width", ["0", "3"])
              + _values("--layers", ["0"]) + _values("--kernel", ["0"])
              + _values("--dropout", ["1", "-0.1", "nan"]) + _values("--input", ["nope"])
              + _values("--target", ["nope"]))
    for name, argv in tflags:
        add("train", name, ["train", str(w.ds), "--out", str(w.path("run")), *tbase, *argv],
            expect="either" if name == "--device cuda" else "error", family="absurd numbers")
    add("train", "--heads 3 --width 32", ["train", str(w.ds), "--out", str(w.path("run")),
                                          "--model", "mint", "--heads", "3", "--width", "32"],
        family="conflicting flags")
    add("train", "--out /proc/x", ["train", str(w.ds), "--out", "/proc/musclekit-run", *tbase],
        family="output path")
    add("train", "--out a file", ["train", str(w.ds), "--out", str(w.unwritable_file()), *tbase],
        family="output path")
    add("train", "--out the dataset itself", ["train", str(w.ds), "--out", str(w.ds), *tbase],
        family="output path")
    add("train", "resume with other options", ["train", str(w.ds), "--out",
                                               str(w.copy(w.run, "run")), *tbase, "--width", "16"],
        family="conflicting flags")

    # evaluate / predict / edit
    def broken_run(name: str, edit) -> Path:
        r = w.copy(w.run, name)
        edit(r)
        return r

    runs = {
        "missing": w.root / "nope-run",
        "a dataset": w.ds,
        "empty folder": w.path("emptyrun"),
        "truncated best.pt": broken_run("trunc", lambda r: (r / "checkpoints/best.pt").write_bytes(
            (r / "checkpoints/best.pt").read_bytes()[:300])),
        "binary best.pt": broken_run("binpt", lambda r: (r / "checkpoints/best.pt").write_bytes(
            b"\0" * 100)),
        "no checkpoints": broken_run("nock", lambda r: shutil.rmtree(r / "checkpoints")),
        "run.json empty": broken_run("emptyjson", lambda r: (r / "run.json").write_text("")),
        "run.json garbage": broken_run("garbjson", lambda r: (r / "run.json").write_text("{x")),
        "run.json of another shape": broken_run("shape", lambda r: (r / "run.json").write_text(
            '{"config": 3}')),
        "normalization.json deleted": broken_run("nonorm", lambda r: (r / "normalization.json")
                                                 .unlink()),
    }
    runs["empty folder"].mkdir()
    for name, r in runs.items():
        add("evaluate", f"RUN {name}", ["evaluate", str(r), "--plots", "0"], family="run folder")
        dst = w.copy(w.ds, "pred")
        add("predict", f"RUN {name}", ["predict", str(r), str(dst)], dataset=dst,
            family="run folder")
    for name, argv in _values("--plots", ["-3", "abc", "1000000"]):
        add("evaluate", name, ["evaluate", str(w.copy(w.run, "ev")), *argv],
            expect="either" if name.endswith("1000000") else "error", family="absurd numbers")
    add("evaluate", "DS missing", ["evaluate", str(w.run), str(w.root / "nope")],
        family="dataset path")
    add("evaluate", "DS without the input stream", ["evaluate", str(w.run), str(w.aligned)],
        family="dataset path")
    for name, stream in {"the ground-truth stream": "activations", "the input stream":
                         "joint_angles", "a bad name": "Bad Name", "a path": "../x"}.items():
        dst = w.copy(w.ds, "pred")
        add("predict", f"--stream {name}", ["predict", str(w.run), str(dst), "--stream", stream],
            dataset=dst, family="conflicting data")
    add("predict", "DS missing", ["predict", str(w.run), str(w.root / "nope")],
        family="dataset path")
    dst = w.copy(w.aligned, "pred")
    add("predict", "DS without the input stream", ["predict", str(w.run), str(dst)], dataset=dst,
        family="dataset path")
    dst = w.copy(w.ds, "pred2")
    add("predict", "twice (second is a no-op)", ["predict", str(w.run), str(dst)], expect="ok",
        dataset=dst, family="repeat")
    for name, argv in (_values("--scale", ["nan", "-1", "inf", "0"])
                       + _values("--muscle", ["nope"]) + _values("--suffix", ["Bad Name"])):
        dst = w.copy(w.ds, "edit")
        args = {"--scale": "1.5", "--muscle": w.muscle, "--suffix": "edited"}
        args[argv[0]] = argv[1]
        add("edit", name, ["edit", str(w.run), str(dst), "--decoder", str(w.run),
                           *[x for kv in args.items() for x in kv]], dataset=dst,
            family="absurd numbers")
    add("edit", "--decoder missing", ["edit", str(w.run), str(w.ds), "--decoder",
                                      str(w.root / "nope"), "--muscle", w.muscle, "--scale", "2"],
        family="run folder")

    # validate / inspect / card on damaged datasets
    def damaged(name: str, edit) -> Path:
        d = w.copy(w.ds, name)
        edit(d)
        return d

    def first_shard(d: Path) -> Path:
        return sorted((d / "data").rglob("*.parquet"))[0]

    def first_record(d: Path) -> Path:
        return sorted((d / "meta" / "units").glob("*.json"))[0]

    def nan_shard(d: Path) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        from musclekit.dataset.atomic import file_sha256

        f = [p for p in (d / "data").rglob("*.parquet") if "activations" in str(p)][0]
        t = pq.read_table(f)
        name = t.column_names[-1]
        col = t.column(name).to_numpy(zero_copy_only=False).astype(np.float32)
        col[2:5] = np.nan
        t = t.set_column(t.schema.get_field_index(name), name, pa.array(col, type=pa.float32()))
        pq.write_table(t, f)
        rec = first_record(d)
        payload = json.loads(rec.read_text())
        for s in payload["shards"]:
            if (d / s["path"]) == f:
                s["sha256"], s["n_bytes"] = file_sha256(f), f.stat().st_size
        rec.write_text(json.dumps(payload))

    datasets = {
        "missing": w.root / "nope",
        "a file": w.emg,
        "empty folder": w.path("emptyds"),
        "info.json empty": damaged("i0", lambda d: (d / "meta/info.json").write_text("")),
        "info.json garbage": damaged("i1", lambda d: (d / "meta/info.json").write_text("{[")),
        "info.json binary": damaged("i2", lambda d: (d / "meta/info.json").write_bytes(b"\0\1\2")),
        "info.json future version": damaged("i3", lambda d: (d / "meta/info.json").write_text(
            (d / "meta/info.json").read_text().replace('"1.0"', '"9.0"'))),
        "shard truncated": damaged("s0", lambda d: first_shard(d).write_bytes(
            first_shard(d).read_bytes()[:200])),
        "shard deleted": damaged("s1", lambda d: first_shard(d).unlink()),
        "shard replaced by binary": damaged("s2", lambda d: first_shard(d).write_bytes(b"\0" * 999)),
        "record truncated": damaged("r0", lambda d: first_record(d).write_text(
            first_record(d).read_text()[:100])),
        "record deleted": damaged("r1", lambda d: first_record(d).unlink()),
        "NaN activations, frames not flagged": damaged("nan", nan_shard),
        "QC temp file left by a kill": damaged("qc", lambda d: ((d / "qc/align").mkdir(parents=True),
                                                                (d / "qc/align/.x.tmp.png")
                                                                .write_bytes(b"x"))),
    }
    datasets["empty folder"].mkdir()
    for name, d in datasets.items():
        # A shard without a record is a killed write's leftover: a warning, by design.
        expect = "either" if name.startswith(("QC temp", "record deleted")) else "error"
        add("validate", f"DS {name}", ["validate", str(d)], expect=expect, family="damaged dataset")
        inspect_expect = ("either" if name.startswith(("QC temp", "NaN", "shard", "record deleted"))
                          else "error")
        add("inspect", f"DS {name}", ["inspect", str(d)], expect=inspect_expect,
            family="damaged dataset")
    for name in ("missing", "a file", "empty folder", "info.json garbage", "shard deleted"):
        add("card", f"DS {name}", ["card", str(datasets[name])],
            expect="either" if name == "shard deleted" else "error", family="damaged dataset")
    add("validate", "--strict on a clean dataset", ["validate", str(w.ds), "--strict"],
        expect="either", family="flags")

    # remove
    for name, argv in {"--unit nope": ["--unit", "nope"], "--stream nope": ["--stream", "nope"],
                       "nothing to remove": [], "--unit and --stream": ["--unit", "synthetic",
                                                                         "--stream", "activations"],
                       "--stream activations": ["--stream", "activations"]}.items():
        dst = w.copy(w.ds, "rm")
        ok = name in ("--unit and --stream", "--stream activations")
        add("remove", name, ["remove", str(dst), *argv], expect="ok" if ok else "error",
            dataset=dst, family="conflicting flags")
    add("remove", "DS missing", ["remove", str(w.root / "nope"), "--unit", "x"],
        family="dataset path")

    # config, info, global
    add("config", "set an unknown key", ["config", "set", "nope", "x"], family="flags")
    add("config", "set amass-root to a missing folder", ["config", "set", "amass-root",
                                                         str(w.root / "nope")],
        expect="either", family="flags")
    add("global", "unknown command", ["bogus"], family="flags")
    add("global", "--quiet --verbose", ["--quiet", "--verbose", "info"], family="flags")

    # status / plot / compare-emg (dynamics outputs; the simulate owner's)
    for name, argv in {"status DS missing": ["status", str(w.root / "nope")],
                       "status DS without chunks": ["status", str(w.ds)],
                       "plot SEQ nope": ["plot", str(w.ds), "nope"],
                       "plot --out p.txt": ["plot", str(w.ds), "S01_Squat_000", "--out",
                                            str(w.path("p.txt"))],
                       "plot --out /proc/x.png": ["plot", str(w.ds), "S01_Squat_000", "--out",
                                                  "/proc/x.png"],
                       "plot DS aligned (no activations)": ["plot", str(w.aligned), w.seq]}.items():
        add(argv[0], name, argv, expect="either" if name == "status DS without chunks" else "error",
            family="dynamics outputs")
    for name, argv in {"DS missing": [str(w.root / "nope"), "x", "--emg", str(w.emg)],
                       "SEQ nope": [str(w.ds), "nope", "--emg", str(w.emg)],
                       "--emg missing": [str(w.ds), "S01_Squat_000", "--emg", str(w.root / "n.anc")],
                       "--emg empty": [str(w.ds), "S01_Squat_000", "--emg", str(emg_files["empty"])],
                       "--emg binary": [str(w.ds), "S01_Squat_000", "--emg", str(emg_files["binary"])],
                       "--window reversed": [str(w.ds), "S01_Squat_000", "--emg", str(w.emg),
                                             "--window", "5", "1"]}.items():
        add("compare-emg", name, ["compare-emg", *argv], family="dynamics outputs")

    # simulate (run, not fixed here: the simulate owner's)
    npz = {"empty": w.bytes_("e.npz", b""), "truncated": w.truncated(w.npz, "t", 0.5, False),
           "binary": w.binary("b", ".npz"), "a CSV": w.emg}
    for name, f in npz.items():
        dst = w.path("sim")
        add("simulate", f"--amass {name} .npz", ["simulate", "--amass", str(f), "--out", str(dst),
                                                 "--until", "ik", "--workers", "0"],
            dataset=None, family="motion file", timeout_s=180)
    trc = {"empty": w.text("e.trc", ""), "binary": w.binary("b", ".trc"),
           "a CSV": w.emg, "missing": w.root / "nope.trc"}
    for name, f in trc.items():
        add("simulate", f"--trc {name}", ["simulate", "--trc", str(f), "--out", str(w.path("sim")),
                                          "--until", "ik", "--workers", "0"],
            family="motion file", timeout_s=180)
    for name, argv in {"--model missing": ["--model", str(w.root / "nope.osim")],
                       "--model garbage": ["--model", str(w.text("m.osim", "<OpenSim"))],
                       "--mass 85070 without --static": ["--mass", "85070"],
                       "--until banana": ["--until", "banana"],
                       "--workers -1": ["--workers", "-1"],
                       "--c3d binary": ["--c3d", str(w.binary("c", ".c3d"))],
                       "--c3d empty": ["--c3d", str(w.bytes_("e.c3d", b""))]}.items():
        src = [] if name.startswith("--c3d") else ["--trc", str(trc["empty"])]
        if name in ("--until banana", "--workers -1", "--mass 85070 without --static"):
            src = ["--amass", str(w.npz)]
        add("simulate", name, ["simulate", *src, *argv, "--out", str(w.path("sim"))],
            family="absurd numbers", timeout_s=180)
    for name, argv in (_values("--duration-s", ["-1", "0", "nan", "1e9"])
                       + _values("--rate-hz", ["0", "nan"]) + _values("--motion", ["banana"])):
        add("simulate-synthetic", name, ["simulate-synthetic", str(w.path("ss")), *argv],
            family="absurd numbers", timeout_s=120)
    return out


# -- running and judging -------------------------------------------------------------------------

def _dataset_ok(path: Path | None) -> bool | None:
    if path is None or not (path / "meta" / "info.json").is_file():
        return None
    from musclekit.dataset.validate import validate_dataset

    try:
        return not [f for f in validate_dataset(path, check_hashes=False) if f.level == "error"]
    except Exception:  # noqa: BLE001 - any failure to validate is a broken dataset
        return False


def run_case(case: Case) -> Outcome:
    before = _dataset_ok(case.dataset)
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "musclekit.cli.main", *case.argv],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=_env(), start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=case.timeout_s)
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        output, _ = proc.communicate()
        code = None
    seconds = time.monotonic() - t0
    after = _dataset_ok(case.dataset)
    verdict, note = _judge(case, code, output or "", before, after)
    return Outcome(case, code, seconds, output or "", verdict, note)


def _judge(case: Case, code: int | None, output: str, before: bool | None,
           after: bool | None) -> tuple[str, str]:
    if code is None:
        return "hang", f"still running after {case.timeout_s:.0f} s"
    if "Traceback (most recent call last)" in output:
        return "traceback", _last_lines(output, 1)
    if before and after is False:
        return "silent", "the dataset validated before the command and not after it"
    if code == 0:
        if case.expect == "error":
            warned = re.search(r"^(warning|\s*warning:)", output, re.M | re.I) or "warning" in output
            return ("exit-0-warn" if warned else "silent"), _last_lines(output, 1)
        return "ok", ""
    if case.expect == "ok":
        return "silent", "refused an input that must be accepted: " + _last_lines(output, 1)
    errors = [m.start() for m in ERROR_LINE.finditer(output)]
    if not errors:
        return "unnamed", "no error line: " + _last_lines(output, 1)
    message = output[errors[0]:]
    if not FIX_WORDS.search(message):
        return "unnamed", _last_lines(message, 1)
    return "ok", ""


def _last_lines(text: str, n: int) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return " ".join(" ".join(lines[-n:]).split())[:300]


VERDICTS = ("ok", "traceback", "hang", "silent", "exit-0-warn", "unnamed")


def table(outcomes: list[Outcome]) -> str:
    rows = defaultdict(Counter)
    for o in outcomes:
        rows[o.case.command][o.verdict] += 1
    total = Counter(o.verdict for o in outcomes)
    lines = ["| command | cases | " + " | ".join(VERDICTS) + " |",
             "|---|---:|" + "---:|" * len(VERDICTS)]
    for command in sorted(rows):
        c = rows[command]
        lines.append(f"| {command} | {sum(c.values())} | "
                     + " | ".join(str(c[v]) for v in VERDICTS) + " |")
    lines.append(f"| **all** | **{len(outcomes)}** | "
                 + " | ".join(f"**{total[v]}**" for v in VERDICTS) + " |")
    return "\n".join(lines)


def problems(outcomes: list[Outcome]) -> str:
    lines = []
    for o in outcomes:
        if o.verdict != "ok":
            argv = " ".join(a if len(a) < 60 else "..." + a[-40:] for a in o.case.argv)
            lines.append(f"- **{o.verdict}** `{o.case.command}`: {o.case.name}: "
                         f"`musclekit {argv}` -> {o.note}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="One case in four (every command).")
    ap.add_argument("--only", help="Only cases of these commands (comma-separated).")
    ap.add_argument("--jobs", type=int, default=2, help="Cases run at once (default 2).")
    ap.add_argument("--timeout", type=float, help="Per-case limit in s (default per case).")
    ap.add_argument("--report", type=Path, help="Also write the table and problems (Markdown).")
    ap.add_argument("--keep", action="store_true", help="Keep the generated inputs.")
    args = ap.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="musclekit-bad-inputs-"))
    t0 = time.monotonic()
    try:
        w = Workspace(root)
        w.build()
        todo = cases(w)
        if args.only:
            keep = set(args.only.split(","))
            todo = [c for c in todo if c.command in keep]
        if args.quick:
            seen: Counter = Counter()
            quick = []
            for c in todo:
                if seen[c.command] % 4 == 0:
                    quick.append(c)
                seen[c.command] += 1
            todo = quick
        if args.timeout:
            for c in todo:
                c.timeout_s = args.timeout
        print(f"{len(todo)} cases, {args.jobs} at a time (inputs built in "
              f"{time.monotonic() - t0:.0f} s)", flush=True)
        outcomes: list[Outcome] = []
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            for i, o in enumerate(pool.map(run_case, todo), 1):
                outcomes.append(o)
                if o.verdict != "ok":
                    print(f"[{i}/{len(todo)}] {o.verdict}: {o.case.command}: {o.case.name}: "
                          f"{o.note}", flush=True)
        text = (f"{len(outcomes)} cases in {time.monotonic() - t0:.0f} s\n\n{table(outcomes)}\n\n"
                f"{problems(outcomes)}\n")
        print("\n" + text)
        if args.report:
            args.report.write_text(text)
        bad = sum(o.verdict in ("traceback", "hang", "silent") for o in outcomes)
        return 1 if bad else 0
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print(f"inputs kept in {root}")


if __name__ == "__main__":
    sys.exit(main())
