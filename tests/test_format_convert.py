"""No conversion between format versions: format 1.0 is the only layout musclekit ever wrote.

`musclekit convert` used to rewrite only the version string while the reader sent users of
other versions to it. It is gone; these tests hold the reader's advice for another major
version to what is true, and keep the command and its advice out of the CLI and the docs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from musclekit.cli.main import main
from musclekit.dataset import DatasetWriter, open_dataset
from musclekit.dataset.metadata import FORMAT_MAJOR, FORMAT_VERSION
from musclekit.errors import ExitCode, FormatVersionError
from tests.helpers.format_factories import emg_spec, rewrite_record, write_emg_dataset

ROOT = Path(__file__).resolve().parents[1]


def _set_info(root: Path, **keys) -> Path:
    info = root / "meta" / "info.json"
    payload = json.loads(info.read_text())
    payload.update(keys)
    info.write_text(json.dumps(payload))
    return info


def test_the_format_has_one_major_version():
    # If this fails, a new major version exists: it needs a real converter from 1.x (and the
    # 1.x layout documented in docs/format.md), not the advice below.
    assert (FORMAT_MAJOR, FORMAT_VERSION) == (1, "1.0")


def test_older_major_says_no_musclekit_wrote_it_and_what_to_do(tmp_path):
    root = write_emg_dataset(tmp_path / "d")
    info = _set_info(root, format_version="0.3")
    with pytest.raises(FormatVersionError) as err:
        open_dataset(root)
    message = str(err.value)
    assert message.startswith(f"{info}: dataset format 0.3, but no musclekit ever wrote it")
    assert "format 1.0 is the first, and there is nothing to convert from" in message
    assert "rerun the stage that made this dataset with this musclekit into a new --out folder" \
        in message
    assert "musclekit.dataset.DatasetWriter" in message
    assert "musclekit convert" not in message


def test_older_major_in_one_completion_record_names_that_record(tmp_path):
    root = write_emg_dataset(tmp_path / "d")
    rewrite_record(root, "u0", lambda p: p.update(format_version="0.9"))
    with pytest.raises(FormatVersionError, match=r"units/u0\.json: dataset format 0\.9, but no "
                                                 r"musclekit ever wrote it"):
        open_dataset(root)


def test_newer_major_says_upgrade_only(tmp_path):
    root = write_emg_dataset(tmp_path / "d")
    info = _set_info(root, format_version="2.0")
    with pytest.raises(FormatVersionError) as err:
        open_dataset(root)
    assert str(err.value) == (f"{info}: dataset format 2.0, newer than this musclekit reads (1.0); "
                              "upgrade with `pip install -U musclekit`")


def test_writer_refuses_to_add_to_an_older_major(tmp_path):
    root = write_emg_dataset(tmp_path / "d")
    _set_info(root, format_version="0.3")
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    with pytest.raises(FormatVersionError, match="no musclekit ever wrote it"):
        DatasetWriter.create_or_open(root, streams=[emg_spec()])
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before


def test_newer_minor_is_read_as_it_is_with_a_warning(tmp_path):
    # Why no converter is needed within major 1: an older reader loads a newer minor version.
    root = write_emg_dataset(tmp_path / "d")
    _set_info(root, format_version="1.7", added_in_1_7={"x": 1})
    with pytest.warns(UserWarning, match=r"ignoring keys unknown to format 1\.0: .*added_in_1_7"):
        ds = open_dataset(root)
    assert ds.info.name == "emg-test"
    assert ds.sequence_array("emg", "seq0").values.shape == (30, 3)


def test_validate_prints_the_same_advice(tmp_path, capsys):
    root = write_emg_dataset(tmp_path / "d")
    _set_info(root, format_version="0.3")
    assert main(["validate", str(root)]) == ExitCode.ERROR
    err = " ".join(capsys.readouterr().err.split())
    assert "no musclekit ever wrote it" in err and "rerun the stage" in err
    assert "musclekit convert" not in err


def test_convert_is_not_a_command(tmp_path, capsys):
    root = write_emg_dataset(tmp_path / "d")
    assert main(["convert", str(root), str(tmp_path / "d2")]) == ExitCode.USAGE
    assert not (tmp_path / "d2").exists()
    capsys.readouterr()
    assert main(["--help"]) == 0
    assert "convert" not in capsys.readouterr().out


def test_docs_do_not_send_users_to_convert():
    for doc in ["README.md", "docs/cli.md", "docs/format.md", "docs/architecture.md"]:
        assert "musclekit convert" not in (ROOT / doc).read_text(), doc
    assert "There is no conversion command" in (ROOT / "docs/format.md").read_text()
