"""nlp/reuse.py: a solver's parameter patterns (no CasADi needed for these)."""

from __future__ import annotations

import numpy as np
from scipy import sparse

from musclekit.pipelines.simulate.dynamics.nlp.reuse import Parameters, SparsePattern, structure_key


def _csc(entries: dict[tuple[int, int], float], shape=(3, 4)):
    rows, cols = zip(*entries, strict=True) if entries else ((), ())
    return sparse.csc_matrix((list(entries.values()), (rows, cols)), shape=shape)


def test_pattern_covers_widens_and_lays_out_values_in_compressed_column_order() -> None:
    a = _csc({(0, 0): 1.0, (2, 0): 2.0, (1, 3): 3.0})
    pattern = SparsePattern.of(a)
    assert pattern.covers(a) and pattern.covers(_csc({(2, 0): 5.0}))
    assert not pattern.covers(_csc({(1, 1): 1.0}))  # a non-zero outside
    assert not pattern.covers(_csc({(0, 0): 1.0}, shape=(4, 4)))  # another shape
    # values in CasADi's order (column by column, rows ascending); zeros where absent
    np.testing.assert_array_equal(pattern.values(_csc({(1, 3): 7.0, (0, 0): 4.0})),
                                  [4.0, 0.0, 7.0])
    wide = pattern.union(_csc({(1, 1): 9.0}))
    assert wide.covers(a) and wide.covers(_csc({(1, 1): 1.0}))
    np.testing.assert_array_equal(wide.values(a), [1.0, 2.0, 0.0, 3.0])


def test_parameters_layout_and_structure_key() -> None:
    m = {"L": _csc({(0, 0): 1.0, (1, 3): 2.0})}
    v = {"b": np.arange(3.0)}
    layout = Parameters.of(m, v)
    assert layout.size() == 5
    np.testing.assert_array_equal(layout.values(m, v), [1.0, 2.0, 0.0, 1.0, 2.0])
    grown = {"L": _csc({(2, 2): 1.0})}
    assert not layout.covers(grown, v)
    assert layout.widened(grown, v).covers(grown, v)
    assert not layout.covers(m, {"b": np.arange(4.0)})  # another length
    key = structure_key({"q_ref": np.ones((2, 3)), "names": ["a"]}, {"states": 1e4})
    assert key == structure_key({"q_ref": np.ones((2, 3)), "names": ["a"]}, {"states": 1e4})
    assert key != structure_key({"q_ref": np.ones((2, 3)), "names": ["a"]}, {"states": 1e3})
    assert key != structure_key({"q_ref": np.zeros((2, 3)), "names": ["a"]}, {"states": 1e4})
