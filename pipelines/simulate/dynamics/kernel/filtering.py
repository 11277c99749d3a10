"""Filtering and differentiating a motion before the equations of motion see it.

Reading and writing .mot/.sto files is `musclekit.pipelines.simulate.opensim.files` (one file
layer for the whole package); this module only smooths and differentiates.
"""

from __future__ import annotations

import numpy as np

from musclekit.errors import InputError
from musclekit.pipelines.simulate.opensim.files import Motion


def lowpass(motion: Motion, cutoff_hz: float, order: int = 4) -> Motion:
    """Zero-lag Butterworth low-pass of every column (as OpenCap filters its coordinates).

    Raises InputError when the cut-off is not between 0 and the motion's Nyquist frequency:
    the filtered motion is differentiated twice, so returning it unfiltered would turn
    marker noise into accelerations without a word."""
    from scipy.signal import butter, filtfilt

    nyquist = motion.rate_hz / 2
    if not 0 < cutoff_hz < nyquist * (1 - 1e-9):  # rates measured from float times
        raise InputError(
            f"low-pass cut-off {cutoff_hz:g} Hz must lie between 0 and the motion's Nyquist "
            f"frequency ({nyquist:g} Hz for {motion.rate_hz:g} Hz samples): choose a "
            f"--filter-hz below {nyquist:g} (OpenCap filters at 6 Hz)")
    b, a = butter(order, cutoff_hz / (motion.rate_hz / 2))
    padlen = min(3 * max(len(a), len(b)), len(motion.time_s) - 1)
    vals = filtfilt(b, a, motion.values, axis=0, padlen=padlen)
    return Motion(motion.time_s.copy(), list(motion.names), vals)


def finite_difference(motion: Motion) -> tuple[np.ndarray, np.ndarray]:
    """Speeds and accelerations (T, C) by central differences of a smooth motion."""
    qd = np.gradient(motion.values, motion.time_s, axis=0)
    qdd = np.gradient(qd, motion.time_s, axis=0)
    return qd, qdd


__all__ = ["lowpass", "finite_difference"]
