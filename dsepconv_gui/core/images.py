"""Reading and writing still images as RGB uint8 arrays (H, W, 3); OpenCV's BGR stays in here."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from .errors import InputError


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as RGB uint8 (H, W, 3).

    Greyscale is replicated to three channels, alpha is dropped, and 16-bit images are
    scaled to 8 bits. Raises InputError naming the file when it cannot be read.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not an image")
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if image is None:
        raise InputError(f"{path}: not a readable image (empty, damaged or an unsupported format)")
    return to_rgb8(image, source=str(path))


def to_rgb8(image: np.ndarray, source: str = "image") -> np.ndarray:
    """Convert an OpenCV-decoded array (grey, BGR or BGRA; 8, 16-bit or float) to RGB uint8."""
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype in (np.float32, np.float64):
        image = np.clip(image * 255.0 + 0.5, 0, 255).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise InputError(f"{source}: unsupported pixel type {image.dtype}")
    if image.ndim == 2:
        return np.ascontiguousarray(np.repeat(image[:, :, None], 3, axis=2))
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
    if image.ndim == 3 and image.shape[2] == 1:
        return np.ascontiguousarray(np.repeat(image, 3, axis=2))
    raise InputError(f"{source}: unsupported image layout {image.shape}")


def write_image(path: str | os.PathLike, rgb: np.ndarray) -> Path:
    """Write an RGB (or greyscale) uint8 array; the format follows the file extension."""
    path = Path(path)
    if rgb.dtype != np.uint8:
        raise InputError(f"{path}: can only write uint8 images, got {rgb.dtype}")
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR) if rgb.ndim == 3 else rgb
    ext = path.suffix.lower() or ".png"
    try:
        ok, encoded = cv2.imencode(ext, bgr)
    except cv2.error:
        ok = False
    if not ok:
        raise InputError(f"{path}: cannot encode an image with extension '{ext}'")
    try:
        encoded.tofile(path)
    except OSError as exc:
        raise InputError(f"{path}: cannot write ({exc.strerror or exc})") from None
    return path
