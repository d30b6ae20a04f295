"""Image quality metrics on 8-bit RGB frames (H, W, 3) uint8, as the benchmarks report them."""

from __future__ import annotations

import numpy as np


def psnr_from_mse(mse: np.ndarray | float, peak: float = 255.0) -> np.ndarray | float:
    """Peak signal-to-noise ratio in dB of a mean squared error (a number or an array of
    them): 10 · log10(peak² / mse); infinite where mse is 0."""
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(peak**2 / np.asarray(mse, np.float64))


def psnr(prediction: np.ndarray, truth: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB over all pixels and channels (peak 255)."""
    mse = float(np.mean((prediction.astype(np.float64) - truth.astype(np.float64)) ** 2))
    return float(psnr_from_mse(mse))


def interpolation_error(prediction: np.ndarray, truth: np.ndarray) -> float:
    """Middlebury's interpolation error IE: root mean square difference over RGB."""
    return float(np.sqrt(np.mean((prediction.astype(np.float64) - truth.astype(np.float64)) ** 2)))


# scikit-image's default SSIM window, in pixels on a side; smaller frames get the largest odd
# window that fits. Under 3×3 there is no local structure to compare (and a 1×1 window has no
# variance).
SSIM_WINDOW = 7
SSIM_MIN_SIDE = 3


def ssim(prediction: np.ndarray, truth: np.ndarray) -> float | None:
    """Structural similarity (scikit-image, channel_axis=2, data_range=255), with a window that
    fits the frame; None for frames under SSIM_MIN_SIDE pixels on a side."""
    from skimage.metrics import structural_similarity

    side = min(prediction.shape[:2])
    if side < SSIM_MIN_SIDE:
        return None
    window = min(SSIM_WINDOW, side if side % 2 else side - 1)
    return float(
        structural_similarity(prediction, truth, channel_axis=2, data_range=255, win_size=window)
    )
