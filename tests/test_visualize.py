"""Flow colours, heat maps and montages."""

import numpy as np

from dsepconv_gui.frames.visualize import (
    color_wheel,
    color_wheel_legend,
    flow_to_color,
    heatmap,
    montage,
)


def test_color_wheel_has_the_middlebury_55_hues_starting_at_red():
    wheel = color_wheel()
    assert wheel.shape == (55, 3)
    np.testing.assert_allclose(wheel[0], [1, 0, 0])


def test_flow_colors_encode_direction_and_length():
    zero = np.zeros((1, 1))
    one = np.ones((1, 1))
    assert (flow_to_color(zero, zero, 1.0) == 255).all()  # no motion is white
    right = flow_to_color(zero, one, 1.0)[0, 0].astype(int)
    left = flow_to_color(zero, -one, 1.0)[0, 0].astype(int)
    down = flow_to_color(one, zero, 1.0)[0, 0].astype(int)
    assert right[0] > 200 and right[1] < 60  # red
    assert left[0] < 60 and left[2] > 150  # cyan-blue
    assert down[0] > 200 and down[1] > 100 and down[2] < 60  # orange-yellow
    half = flow_to_color(zero, one * 0.5, 1.0)[0, 0].astype(int)
    assert 100 < half[1] < 200  # half length: half saturated
    assert (flow_to_color(zero, one * 5, 1.0) == flow_to_color(zero, one, 1.0)).all()


def test_legend_is_white_outside_the_disc():
    legend = color_wheel_legend(64)
    assert legend.shape == (64, 64, 3)
    assert (legend[0, 0] == 255).all() and not (legend[32, 60] == 255).all()


def test_heatmap_and_montage():
    values = np.linspace(0, 1, 10).reshape(2, 5)
    image = heatmap(values, 0.0, 1.0)
    assert image.shape == (2, 5, 3) and image.dtype == np.uint8
    assert not (image[0, 0] == image[1, 4]).all()
    grid = montage([image] * 5, columns=2, gap=1)
    assert grid.shape == (3 * 2 + 2, 2 * 5 + 1, 3)
