"""benchmarks/validate_rajagopal_emg.py's --force-aim: the inverse solves inside see the
asked hand-over force aim, an unknown one is refused by name, and the rule is restored."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from musclekit.errors import InputError
from musclekit.pipelines.simulate.dynamics.methods.inverse.settings import InverseSettings

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location(
    "validate_rajagopal_emg", ROOT / "benchmarks" / "validate_rajagopal_emg.py")
emg = importlib.util.module_from_spec(spec)
sys.modules["validate_rajagopal_emg"] = emg
spec.loader.exec_module(emg)


def test_force_aim_reaches_the_inverse_settings_rule_and_is_restored() -> None:
    settings = InverseSettings(contact_height_on_m=0.02)
    assert settings.contact_rule().force_aim == "leading share"
    with emg.force_aim("com"):
        rule = settings.contact_rule()
        assert rule.force_aim == "com" and rule.height_on_m == 0.02
    assert settings.contact_rule().force_aim == "leading share"
    with emg.force_aim(None):
        assert settings.contact_rule().force_aim == "leading share"
    with pytest.raises(InputError, match="hand-over force aim 'hip'"):
        with emg.force_aim("hip"):
            pass
    assert settings.contact_rule().force_aim == "leading share"
    # the settings select the centre-of-mass aim of rule version 9 too
    assert InverseSettings(force_aim="com").contact_rule().force_aim == "com"
    with pytest.raises(InputError, match="hand-over force aim 'hip'"):
        InverseSettings(force_aim="hip").contact_rule()
