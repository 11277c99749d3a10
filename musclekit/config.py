"""User settings: where the licensed assets are and which folders commands use by default.

Each setting is looked up in this order: the command-line flag, the environment variable,
the user config file, the built-in default. The config file is TOML, at
`$MUSCLEKIT_CONFIG`, else `$XDG_CONFIG_HOME/musclekit/config.toml`, else
`~/.config/musclekit/config.toml`; `musclekit config set KEY VALUE` writes it and
`musclekit config show` prints every setting with where its value comes from.

The default dataset folder (`./musclekit-data`) is shared by `align`, `simulate` and
`train`, so that the user's commands chain without `--out`/DATASET arguments:

    musclekit align --emg raw.csv --video clip.mov     # writes ./musclekit-data
    musclekit simulate --amass BMLmovi                 # adds to ./musclekit-data
    musclekit train                                    # trains on it into ./musclekit-runs/...
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

import tomli_w

from musclekit.errors import InputError

CONFIG_ENV = "MUSCLEKIT_CONFIG"
DEFAULT_DATASET = Path("musclekit-data")
DEFAULT_RUNS = Path("musclekit-runs")


@dataclass(frozen=True)
class Setting:
    key: str
    env: str
    help: str
    is_path: bool = True
    default: Path | None = None


SETTINGS: dict[str, Setting] = {s.key: s for s in (
    Setting("amass-root", "MUSCLEKIT_AMASS_ROOT",
            "folder holding the AMASS sub-datasets (BMLmovi/, CMU/, ...)"),
    Setting("body-model", "MUSCLEKIT_BODY_MODEL",
            "SMPL-H model folder (<dir>/{male,female,neutral}/model.npz)"),
    Setting("vibe-root", "MUSCLEKIT_VIBE_ROOT", "your VIBE checkout"),
    Setting("vibe-python", "MUSCLEKIT_VIBE_PYTHON", "the Python of VIBE's environment"),
    Setting("dataset", "MUSCLEKIT_DATASET",
            "default dataset folder of align, simulate, keypoints and train",
            default=DEFAULT_DATASET),
    Setting("runs", "MUSCLEKIT_RUNS", "folder of train's default run folders",
            default=DEFAULT_RUNS),
)}


def config_path() -> Path:
    """Where the user config file is (it may not exist)."""
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV]).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base).expanduser() / "musclekit" / "config.toml"


def _setting(key: str) -> Setting:
    if key not in SETTINGS:
        raise InputError(f"unknown setting {key!r}; settings: {', '.join(SETTINGS)}")
    return SETTINGS[key]


def read_config() -> dict[str, str]:
    """The user config file's settings ({} when there is none)."""
    path = config_path()
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise InputError(f"config file {path} is not valid TOML ({err}); fix or delete it, "
                         "or rewrite a setting with `musclekit config set KEY VALUE`") from err
    unknown = sorted(k for k in data if k not in SETTINGS)
    if unknown:
        raise InputError(f"config file {path}: unknown setting(s) {', '.join(unknown)}; "
                         f"settings: {', '.join(SETTINGS)}")
    bad = sorted(k for k, v in data.items() if not isinstance(v, str))
    if bad:
        raise InputError(f"config file {path}: {', '.join(bad)} must be a quoted string")
    return dict(data)


def lookup(key: str) -> tuple[str | None, str]:
    """(value, where it comes from: 'environment ($VAR)', 'config file (PATH)', 'default'
    or 'not set') of setting `key`, without a command-line flag."""
    s = _setting(key)
    if os.environ.get(s.env):
        return os.environ[s.env], f"environment (${s.env})"
    file_values = read_config()
    if key in file_values:
        return file_values[key], f"config file ({config_path()})"
    if s.default is not None:
        return str(s.default), "default"
    return None, "not set"


def resolve_path(key: str, flag_value: Path | None) -> Path | None:
    """The flag's value if given, else the environment's, the config file's or the default."""
    if flag_value is not None:
        return Path(flag_value)
    value, _ = lookup(key)
    return Path(value).expanduser() if value else None


def default_dataset() -> Path:
    path = resolve_path("dataset", None)
    assert path is not None
    return path


def default_runs() -> Path:
    path = resolve_path("runs", None)
    assert path is not None
    return path


def set_value(key: str, value: str) -> Path:
    """Write `key = value` into the user config file (created if needed); returns its path."""
    s = _setting(key)
    if not value.strip():
        raise InputError(f"{key}: give a value (use `musclekit config unset {key}` to remove it)")
    if s.is_path:
        value = str(Path(value).expanduser().resolve())
    data = read_config()
    data[key] = value
    return _write(data)


def unset_value(key: str) -> Path:
    _setting(key)
    data = read_config()
    data.pop(key, None)
    return _write(data)


def _write(data: dict[str, str]) -> Path:
    path = config_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
        tmp.write_text("# musclekit user settings (musclekit config set/show/unset)\n"
                       + tomli_w.dumps(dict(sorted(data.items()))), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as err:
        raise InputError(f"cannot write the config file {path} ({err.strerror}); set "
                         f"${CONFIG_ENV} to a writable file path") from err
    return path


def check_writable(path: Path, flag: str = "--out") -> None:
    """Refuse, before any work, an output folder that cannot be written: a file in its place,
    or a nearest existing folder without write permission (probed with a temporary file,
    removed at once)."""
    import errno
    import tempfile

    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError(f"{flag} {path}: exists and is not a folder; choose another path")
    probe_dir = path
    while not probe_dir.exists():
        if probe_dir.parent == probe_dir:
            break
        probe_dir = probe_dir.parent
    try:
        with tempfile.TemporaryFile(dir=probe_dir, prefix=".musclekit-write-probe-"):
            pass
    except OSError as err:
        if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise InputError(f"{flag} {path}: cannot write into {probe_dir} (permission "
                             "denied or read-only file system); choose a folder you can "
                             "write (nothing was written)") from err
        if err.errno == errno.ENOSPC:
            raise InputError(f"{flag} {path}: no space left in {probe_dir}; free space or "
                             "choose a folder on another disk (nothing was written)") from err
        # /proc, /sys and the like exist but take no new files (ENOENT, EINVAL ...).
        raise InputError(f"{flag} {path}: {probe_dir} does not accept new files "
                         f"({err.strerror or err}; a virtual or special file system?); choose "
                         "a folder you can write (nothing was written)") from err


def dataset_argument(path: Path | None) -> Path:
    """A command's DATASET argument: the given folder, else the default dataset folder,
    which must exist (a reading command cannot start from nothing)."""
    if path is not None:
        return Path(path)
    default = default_dataset()
    if not default.exists():
        raise InputError(f"no DATASET given and the default dataset folder {default} does not "
                         "exist here; give the dataset folder, run `musclekit align` or "
                         "`musclekit simulate` first (they write it), or set it with "
                         "`musclekit config set dataset DIR`")
    return default
