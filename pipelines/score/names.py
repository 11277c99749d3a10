"""Which channels are a foot's markers, a left/right pair, a muscle group: decided by name,
for the marker sets and models musclekit meets (MinT's 67 virtual markers, Plug-in-Gait,
OpenCap; Rajagopal, LaiUhlrich, Gait2392 muscle names)."""

from __future__ import annotations

import re

# Foot markers: heel, toe, metatarsal heads, ankle (malleoli); per set spelling.
_FOOT_WORDS = ("hee", "heel", "calc", "toe", "mt1", "mt2", "mt5", "mth", "ank", "ani", "mall",
               "bigtoe", "smalltoe")


def side_of(name: str) -> str | None:
    """'r', 'l' or None, from a leading R/L (RHEE, r.ASIS, r_calc) or a trailing _r/_l."""
    if re.search(r"[_.](r|R)$", name):
        return "r"
    if re.search(r"[_.](l|L)$", name):
        return "l"
    if re.match(r"^(R|r[_.]|Right|right)", name):
        return "r"
    if re.match(r"^(L|l[_.]|Left|left)", name):
        return "l"
    return None


def foot_markers(channels: list[str]) -> dict[str, list[int]]:
    """Indices of each foot's markers: {'r': [...], 'l': [...]} (empty lists when none)."""
    out: dict[str, list[int]] = {"r": [], "l": []}
    for i, name in enumerate(channels):
        side = side_of(name)
        bare = re.sub(r"^(R|L|r[_.]|l[_.]|Right|Left|right|left)", "", name)
        bare = re.sub(r"[_.](r|l|R|L)$", "", bare).lower()
        if side and any(bare.startswith(w) or bare.endswith(w) for w in _FOOT_WORDS):
            out[side].append(i)
    return out


def left_right_pairs(channels: list[str]) -> list[tuple[str, str]]:
    """(right, left) channel pairs named <base>_r / <base>_l."""
    have = set(channels)
    return [(c, c[:-2] + "_l") for c in channels if c.endswith("_r") and c[:-2] + "_l" in have]


# Agonist / antagonist groups per joint, by muscle-name stems (model-independent enough: the
# Rajagopal, LaiUhlrich and Gait2392 families share these stems; MinT prefixes them).
ANTAGONISTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "ankle": (("tibant", "tib_ant", "edl", "ext_dig", "ehl", "ext_hal"),
              ("soleus", "gasmed", "gaslat", "med_gas", "lat_gas")),
    "knee": (("vasint", "vaslat", "vasmed", "vas_int", "vas_lat", "vas_med", "recfem", "rect_fem"),
             ("bflh", "bfsh", "bifemlh", "bifemsh", "semimem", "semiten")),
}


def muscle_groups(channels: list[str]) -> dict[tuple[str, str], tuple[list[int], list[int]]]:
    """{(joint, side): (agonist indices, antagonist indices)} where both groups have muscles."""
    out = {}
    for joint, (ago, anta) in ANTAGONISTS.items():
        for side in ("r", "l"):
            def members(stems: tuple[str, ...], side: str = side) -> list[int]:
                return [i for i, c in enumerate(channels)
                        if side_of(c) == side and any(s in c.lower() for s in stems)]
            a, b = members(ago), members(anta)
            if a and b:
                out[(joint, side)] = (a, b)
    return out
