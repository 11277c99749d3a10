"""What each recorded column is (EMG, accelerometer, gyroscope, ...) and its unit in SI.

Sensor exports name the kind and the unit in the column header, in a few styles:
`L_TA: EMG 1 (mV)` (Delsys), `RT TIB.ANT., uV` (Noraxon), `EXG Channel 0` / `Accel Channel 1`
(OpenBCI, units fixed by the format), `emg3` (Myo, ADC counts). The kind comes from the name;
where the name says nothing, from the unit; a column that says neither is sEMG, as align has
always assumed. Values are converted to SI when read (V, m/s^2, rad/s, T); the unit the file
declared is kept in the metadata next to the SI one.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

from musclekit.errors import InputError

ChannelKind = Literal["emg", "acc", "gyro", "mag", "other", "index"]
# Which stream each kind is written to (index columns are counters: checked, not stored).
STREAM_OF_KIND = {"emg": "emg", "acc": "imu", "gyro": "imu", "mag": "imu", "other": "analog"}

_G = 9.80665  # standard gravity, m/s^2 per g

# unit text (lower case) -> (SI unit, factor to SI, physical quantity)
_UNITS: dict[str, tuple[str, float, str]] = {
    "v": ("V", 1.0, "voltage"), "volt": ("V", 1.0, "voltage"), "volts": ("V", 1.0, "voltage"),
    "mv": ("V", 1e-3, "voltage"), "uv": ("V", 1e-6, "voltage"), "µv": ("V", 1e-6, "voltage"),
    "μv": ("V", 1e-6, "voltage"), "nv": ("V", 1e-9, "voltage"),
    "g": ("m/s^2", _G, "acceleration"), "mg": ("m/s^2", _G * 1e-3, "acceleration"),
    "m/s^2": ("m/s^2", 1.0, "acceleration"), "m/s²": ("m/s^2", 1.0, "acceleration"),
    "m/s/s": ("m/s^2", 1.0, "acceleration"),
    "deg/s": ("rad/s", math.pi / 180, "angular velocity"), "°/s": ("rad/s", math.pi / 180, "angular velocity"),
    "dps": ("rad/s", math.pi / 180, "angular velocity"), "rad/s": ("rad/s", 1.0, "angular velocity"),
    "t": ("T", 1.0, "magnetic field"), "ut": ("T", 1e-6, "magnetic field"), "µt": ("T", 1e-6, "magnetic field"),
    "gauss": ("T", 1e-4, "magnetic field"),
    "a.u.": ("a.u.", 1.0, "none"), "au": ("a.u.", 1.0, "none"), "counts": ("a.u.", 1.0, "none"),
}
# The quantity each kind measures; a declared unit of another quantity is a mix-up.
_QUANTITY_OF_KIND = {"emg": "voltage", "acc": "acceleration", "gyro": "angular velocity",
                     "mag": "magnetic field"}

_UNIT_SUFFIX = re.compile(r"^(?P<name>.*?)\s*(?:\((?P<p>[^()]+)\)|\[(?P<b>[^\[\]]+)\]|,\s*(?P<c>[^,]+))\s*$")
_KIND_PATTERNS: list[tuple[ChannelKind, re.Pattern[str]]] = [
    # counters and unused columns: checked, never stored as signals
    ("index", re.compile(r"^(sample ?(index|number|no\.?|#)?|index|packet ?(index|counter)?|frame|counter"
                         r"|not used|unused)( #\d+)?$", re.I)),
    ("acc", re.compile(r"(\bacc|accel)", re.I)),
    ("gyro", re.compile(r"\bgyr", re.I)),
    ("mag", re.compile(r"\bmag(netometer)?\b", re.I)),
    ("emg", re.compile(r"(emg|\bexg)", re.I)),
    ("other", re.compile(r"(\banalog|\bother\b|\btrigger|\bfoot ?switch|\bsync\b|\bbattery|\bdigital"
                         r"|\bmarker\b|^[FM]\d*[XYZ]$|\bforce\b|\bmoment\b|\btemp)", re.I)),
]


@dataclass(frozen=True)
class UnitInfo:
    """A unit as declared and its SI form: values x `factor` = values in `si`."""

    declared: str
    si: str
    factor: float
    quantity: str


def parse_unit(text: str) -> UnitInfo | None:
    """The SI form of a unit text (`mV`, `uV`, `g`, `deg/s`, ...), None when unknown."""
    key = text.strip().lower().replace(" ", "")
    found = _UNITS.get(key)
    if found is None:
        return None
    return UnitInfo(declared=text.strip(), si=found[0], factor=found[1], quantity=found[2])


def known_units() -> str:
    return "V, mV, uV, g, mg, m/s^2, deg/s, rad/s, T, uT, a.u."


def split_unit(header: str) -> tuple[str, UnitInfo | None]:
    """`'L_TA: EMG 1 (mV)'` -> `('L_TA: EMG 1', mV)`; a suffix that is not a unit stays in the name."""
    match = _UNIT_SUFFIX.match(header.strip())
    if match:
        text = match.group("p") or match.group("b") or match.group("c") or ""
        unit = parse_unit(text)
        if unit is not None and match.group("name").strip():
            return match.group("name").strip(), unit
    return header.strip(), None


def kind_from_name(name: str) -> ChannelKind | None:
    for kind, pattern in _KIND_PATTERNS:
        if pattern.search(name.strip()):
            return kind
    return None


def kind_of(name: str, unit: UnitInfo | None) -> ChannelKind:
    """A column's kind from its name, else from its unit's quantity, else sEMG."""
    by_name = kind_from_name(name)
    if by_name is not None:
        return by_name
    if unit is not None:
        for kind, quantity in _QUANTITY_OF_KIND.items():
            if unit.quantity == quantity:
                return kind  # type: ignore[return-value]
    return "emg"


def check_unit_matches_kind(path: object, column: str, kind: ChannelKind, unit: UnitInfo | None) -> None:
    """A unit of another quantity than the column's name says (an EMG column in deg/s) is
    a mixed-up header: refuse it instead of storing a gyroscope as muscle activity."""
    if unit is None or unit.quantity == "none" or kind not in _QUANTITY_OF_KIND:
        return
    want = _QUANTITY_OF_KIND[kind]
    if unit.quantity != want:
        raise InputError(
            f"{path}: column {column!r} is named like {_KIND_WORDS[kind]} but its unit "
            f"{unit.declared!r} is a unit of {unit.quantity}, not {want}: the header's units are "
            "mixed up. Fix the header, or leave the column out with --channels"
        )


_KIND_WORDS = {"emg": "an sEMG channel", "acc": "an accelerometer", "gyro": "a gyroscope",
               "mag": "a magnetometer", "other": "another sensor", "index": "a sample counter"}
