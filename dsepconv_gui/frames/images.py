"""Reading and writing still images as RGB uint8 arrays (H, W, 3); OpenCV's BGR stays in here.
The largest frame the tool accepts is defined here: a header is checked against it before
decoding."""

from __future__ import annotations

import os
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from dsepconv_gui.base.errors import InputError
from dsepconv_gui.base.input_paths import check_input_file
from dsepconv_gui.frames.orientation import Orientation, upright

# The largest frame accepted: 8K UHD. Larger frames are refused with this limit in the message.
MAX_FRAME_SIZE = (7680, 4320)
MAX_FRAME_PIXELS = MAX_FRAME_SIZE[0] * MAX_FRAME_SIZE[1]
SIZE_LIMIT = f"{MAX_FRAME_PIXELS / 1e6:.1f} megapixels ({MAX_FRAME_SIZE[0]}×{MAX_FRAME_SIZE[1]})"


def check_frame_size(width: int, height: int, source: str = "frames") -> None:
    """Raise InputError, giving the limit, for frames above MAX_FRAME_PIXELS."""
    if width * height > MAX_FRAME_PIXELS:
        raise InputError(
            f"{source} of {width}×{height} ({width * height / 1e6:.1f} megapixels) exceed the "
            f"limit of {SIZE_LIMIT}"
        )


@dataclass(frozen=True)
class ImageHeader:
    """What an image file's header says, read without decoding its pixels."""

    size: tuple[int, int]  # (width, height) as shown, after the EXIF orientation
    mode: str  # Pillow's mode: "RGB", "L", "I;16", "P", ...
    orientation: int  # EXIF orientation 1..8 (1: as stored)


# EXIF orientation: how to turn the stored pixels upright, as Pillow's ImageOps.exif_transpose
# does (the same turns as a video's display matrix). Orientations 5 to 8 swap width and height.
EXIF_ORIENTATIONS = {
    1: Orientation(0),
    2: Orientation(0, mirrored=True),
    3: Orientation(2),
    4: Orientation(2, mirrored=True),
    5: Orientation(3, mirrored=True),
    6: Orientation(3),
    7: Orientation(1, mirrored=True),
    8: Orientation(1),
}


def read_header(path: str | os.PathLike) -> ImageHeader:
    """The header of an image file (Pillow reads only the header). Raises InputError naming
    the file when it is not an image Pillow can parse, declares no pixels, or declares a frame
    above the size limit: a small file may declare a huge frame, so this comes before decoding."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        with warnings.catch_warnings():
            # DecompressionBombWarning: the size limit below is lower
            warnings.simplefilter("ignore")
            with Image.open(path) as image:
                (width, height), mode = image.size, image.mode
                # TIFF decoders (libtiff's, in Pillow and OpenCV) turn the pixels themselves, and
                # Pillow gives the turned size. Elsewhere the orientation is metadata; the base
                # class's getexif, as PNG's own loads the whole image to find a late eXIf chunk.
                orientation = (
                    1 if image.format == "TIFF" else Image.Image.getexif(image).get(0x0112, 1)
                )
    except Image.DecompressionBombError:
        raise InputError(
            f"{path}: declares a frame of more than {2 * Image.MAX_IMAGE_PIXELS / 1e6:.0f} "
            f"megapixels, above the limit of {SIZE_LIMIT}"
        ) from None
    except PermissionError:
        raise InputError(f"{path}: not readable (permission denied)") from None
    except UnidentifiedImageError:
        raise InputError(
            f"{path}: not a readable image (damaged or an unsupported format)"
        ) from None
    except (
        OSError,
        ValueError,
        SyntaxError,
        EOFError,
        struct.error,
        IndexError,
        TypeError,
        KeyError,
    ) as exc:
        raise InputError(f"{path}: not a readable image (damaged header: {exc})") from None
    if width < 1 or height < 1:
        raise InputError(f"{path}: declares a frame of {width}×{height}, which has no pixels")
    check_frame_size(width, height, f"{path}: frames")
    orientation = orientation if orientation in EXIF_ORIENTATIONS else 1
    return ImageHeader((height, width) if orientation >= 5 else (width, height), mode, orientation)


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as RGB uint8 (H, W, 3), turned upright by its EXIF orientation.

    Greyscale is replicated to three channels, alpha is dropped, and 16-bit images are
    scaled to 8 bits. Raises InputError naming the file when it cannot be read or declares
    a frame above the size limit (checked from the header, before decoding).
    """
    path = check_input_file(path, InputError, "an image")
    header = read_header(path)
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        # IMREAD_UNCHANGED keeps 16 bits and ignores the EXIF orientation, applied below.
        image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    except cv2.error as exc:
        raise InputError(
            f"{path}: not a readable image ({exc.err or 'OpenCV cannot decode it'})"
        ) from None
    if image is None or image.size == 0:
        raise InputError(f"{path}: not a readable image (empty, damaged or an unsupported format)")
    check_frame_size(image.shape[1], image.shape[0], f"{path}: frames")  # if the decoder disagreed
    rgb = to_rgb8(image, source=str(path))
    return upright(rgb, EXIF_ORIENTATIONS[header.orientation])


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


def write_image(path: str | os.PathLike, rgb: np.ndarray, suffix: str | None = None) -> Path:
    """Write an RGB (or greyscale) uint8 array; the format follows `suffix` (default: the
    file's extension; PNG when there is none). A temporary written for a destination takes
    the destination's suffix."""
    path = Path(path)
    if rgb.dtype != np.uint8:
        raise InputError(f"{path}: can only write uint8 images, got {rgb.dtype}")
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR) if rgb.ndim == 3 else rgb
    ext = (path.suffix if suffix is None else suffix).lower() or ".png"
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
