"""posekit.decode.clamp: np.clip's values, whatever the input."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from posekit.decode.clamp import clamp


def test_values_below_inside_and_above_and_nan():
    values = np.array([-2.0, -0.5, 0.0, 0.25, 0.5, 3.0, np.nan])
    out = clamp(values, -0.5, 0.5)
    np.testing.assert_array_equal(out, [-0.5, -0.5, 0.0, 0.25, 0.5, 0.5, np.nan])


@settings(max_examples=200, deadline=None)
@given(hnp.arrays(st.sampled_from([np.float64, np.float32, np.int64]),
                  hnp.array_shapes(max_dims=3, max_side=6),
                  elements=st.integers(-1000, 1000)),
       st.integers(-50, 50), st.integers(0, 100))
def test_equals_np_clip(values, low, width):
    high = low + width
    out = clamp(values, low, high)
    expected = np.clip(values, low, high)
    assert out.dtype == expected.dtype and out.shape == expected.shape
    np.testing.assert_array_equal(out, expected)
