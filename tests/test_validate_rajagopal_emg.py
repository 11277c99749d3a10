"""benchmarks/validate_rajagopal_emg.py's --force-aim: the inverse solves inside see the
asked hand-over force aim, an unknown one is refused by name, and the rule is restored."""

from __future__ import annotations

from pathlib import Path

import pytest

from musclekit.errors import InputError
from musclekit.pipelines.simulate.dynamics.methods.inverse.settings import InverseSettings
from tests.helpers.benchmark_script import load_benchmark

ROOT = Path(__file__).resolve().parents[1]
emg = load_benchmark("validate_rajagopal_emg")


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
