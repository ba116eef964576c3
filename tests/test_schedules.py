"""The cubic pruning schedule and the cosine drop fraction at chosen steps."""

import numpy as np
import pytest

from sparserl.sparsity import cosine_drop_fraction, cubic_sparsity


@pytest.mark.parametrize(
    "step, expected",
    [
        (0, 0.0),
        (200, 0.0),
        (500, 0.9 * (1 - 0.5**3)),
        (650, 0.9 * (1 - 0.25**3)),
        (800, 0.9),
        (990, 0.9),
    ],
)
def test_cubic_sparsity(step, expected):
    # s_t = s_F (1 - (1 - (t - 200)/(800 - 200))^3), s_F = 0.9
    assert float(cubic_sparsity(step, 0.9, 200, 800)) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(
    "step, expected",
    [(0, 0.3), (200, 0.15 * (1 + np.cos(np.pi / 4))), (400, 0.15), (800, 0.0), (900, 0.0)],
)
def test_cosine_drop_fraction(step, expected):
    assert float(cosine_drop_fraction(step, 0.3, 800)) == pytest.approx(expected, abs=1e-6)
