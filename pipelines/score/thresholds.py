"""The limits `musclekit score` flags against, one place each; docs/score.md gives the sources.

Heights are in the dataset's lab frame (Y up, floor at y = 0; docs/format.md), of markers on
the skin, which sit a little above the sole.
"""

from __future__ import annotations

# A foot is in contact while one of its markers is within this height of the floor: the 5 cm
# foot-contact height of motion-generation metrics (GMD, Karunratanakul et al. 2023; PhysDiff,
# Yuan et al. 2023 use the same order).
CONTACT_HEIGHT_M = 0.05
# Foot sliding: median horizontal speed of the planted foot's stillest marker over the contact
# frames. GMD's skating limit is 2.5 cm per frame at 20 fps (0.5 m/s) for generated motion; a
# planted foot measured by markers moves < 1-2 cm/s, so musclekit flags 10 cm/s.
SLIDING_LIMIT_M_S = 0.10
# Floor penetration: how far the lowest foot marker goes below the floor (95th percentile of
# per-frame depth). Marker noise is millimetres; 1 cm is musclekit's choice.
PENETRATION_LIMIT_M = 0.01
# Floating: the feet's lowest marker stays above the contact height in more than this share of
# the frames. Running and jumping have flight phases (~30-40 % of a running stride), so only a
# sequence mostly off the floor is flagged.
FLOATING_SHARE_LIMIT = 0.5
# Static: whole-body centre of mass slower than this (horizontally), at least one foot down.
STATIC_SPEED_M_S = 0.05
# Centre of mass outside the base of support (convex hull of the contact feet's markers, grown
# by this margin because the sole extends beyond the markers) in more than this share of the
# static frames: a static pose that would fall over.
BOS_MARGIN_M = 0.03
COM_OUTSIDE_SHARE_LIMIT = 0.1
# Left/right asymmetry: symmetry index (Robinson et al. 1987) of each coordinate pair's range of
# motion, only on ranges above MIN_ROM_RAD; healthy gait stays below ~10-15 % (Herzog et al.
# 1989); musclekit flags 25 %, since many exercises are asymmetric on purpose (it is a hint).
ASYMMETRY_LIMIT_PCT = 25.0
MIN_ROM_RAD = 0.17  # 10 degrees
# Activation saturation: a >= SATURATED_ACTIVATION (the dynamics stage's own saturation test) in
# more than SATURATED_SHARE_LIMIT of the frames of one muscle.
SATURATED_ACTIVATION = 0.99
SATURATED_SHARE_LIMIT = 0.05
# Co-activation: co-contraction index (Falconer and Winter 1985) of agonist/antagonist group
# means; walking reaches 20-40 % at the knee and ankle; flagged above 60 % (musclekit's choice).
COACTIVATION_LIMIT_PCT = 60.0
# Residual forces: peak residual force at the root as % body weight; Hicks et al. 2015 ("Is my
# model good enough?") ask for peak residual forces below 5 % of the peak external force.
RESIDUAL_FORCE_LIMIT_PCT_BW = 5.0
GRAVITY_M_S2 = 9.80665
