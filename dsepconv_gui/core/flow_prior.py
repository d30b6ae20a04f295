"""A classical optical-flow estimate (OpenCV DIS) as the starting point of the tap offsets.

The paper notes that with n = 1 DSepConv is flow-based warping; a model configured with
flow_prior="dis" starts every tap of frame k where DIS flow points and learns the residual
offsets, kernels and masks on top. Flows are computed on whole frames, in numpy.
"""

from __future__ import annotations

import cv2
import numpy as np

# Below this side DIS has no pyramid to work with; such frames get zero flow.
MIN_FLOW_SIDE = 16


def dis_flow(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Dense flow from source to target (RGB uint8 (H, W, 3) each) as (2, H, W) float32
    (dy, dx) in pixels: pixel p of source is at p + flow(p) in target.

    DIS with the medium preset at finest scale 0 (full resolution) and variational
    refinement, the strongest of OpenCV's DIS settings on the benchmarks.
    """
    h, w = source.shape[:2]
    if min(h, w) < MIN_FLOW_SIDE:
        return np.zeros((2, h, w), np.float32)
    estimator = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    estimator.setFinestScale(0)
    flow = estimator.calc(cv2.cvtColor(source, cv2.COLOR_RGB2GRAY), cv2.cvtColor(target, cv2.COLOR_RGB2GRAY), None)
    return np.ascontiguousarray(flow[:, :, ::-1].transpose(2, 0, 1))


def bidirectional_flow(frame1: np.ndarray, frame2: np.ndarray) -> np.ndarray:
    """(4, H, W) float32: flow 1→2 (dy, dx) then flow 2→1 (dy, dx), the network's prior input."""
    return np.concatenate([dis_flow(frame1, frame2), dis_flow(frame2, frame1)], axis=0)
