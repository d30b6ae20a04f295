"""Per-pixel fields in the formats compositing and flow tools read: Middlebury .flo for
displacements, OpenEXR (float, named channels) for motion vectors and masks, 16-bit PNG for
maps in [0, 1]."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from dsepconv_gui.base.errors import InputError

FLO_MAGIC = 202021.25  # "PIEH" as a little-endian float: the Middlebury .flo tag


def write_flo(path: Path, dy: np.ndarray, dx: np.ndarray) -> None:
    """A displacement field (dy, dx each (H, W), pixels) as Middlebury .flo: the tag, width,
    height, then (u, v) = (dx, dy) per pixel, row by row, float32 little-endian."""
    h, w = dy.shape
    header = np.array([FLO_MAGIC], "<f4").tobytes() + np.array([w, h], "<i4").tobytes()
    data = np.stack([dx, dy], axis=-1).astype("<f4").tobytes()
    _write(path, header + data)


def read_flo(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(dy, dx) from a .flo file written by write_flo (or any Middlebury .flo)."""
    raw = Path(path).read_bytes()
    if np.frombuffer(raw[:4], "<f4")[0] != FLO_MAGIC:
        raise InputError(f"{path}: not a Middlebury .flo file")
    w, h = np.frombuffer(raw[4:12], "<i4")
    uv = np.frombuffer(raw[12:], "<f4").reshape(h, w, 2)
    return uv[..., 1].copy(), uv[..., 0].copy()


def write_exr(path: Path, channels: dict[str, np.ndarray]) -> None:
    """Float32 channels of one size, by name (e.g. "forward.u", which Nuke reads as its
    motion-vector layer), ZIP-compressed."""
    import OpenEXR

    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    arrays = {name: np.ascontiguousarray(a, np.float32) for name, a in channels.items()}
    try:
        OpenEXR.File(header, arrays).write(str(path))
    except (OSError, RuntimeError) as exc:
        raise InputError(f"{path}: cannot write ({exc})") from None


def read_exr(path: Path) -> dict[str, np.ndarray]:
    import OpenEXR

    with OpenEXR.File(str(path)) as file:
        return {name: channel.pixels.copy() for name, channel in file.channels().items()}


def write_png16(path: Path, values: np.ndarray) -> None:
    """A map in [0, 1] (H, W) as a 16-bit greyscale PNG (0 → 0, 1 → 65535), clipped."""
    image = np.round(np.clip(values, 0.0, 1.0) * 65535).astype(np.uint16)
    ok, encoded = cv2.imencode(".png", image)
    if not ok:
        raise InputError(f"{path}: cannot encode")
    _write(path, encoded.tobytes())


def _write(path: Path, data: bytes) -> None:
    try:
        Path(path).write_bytes(data)
    except OSError as exc:
        raise InputError(f"{path}: cannot write ({exc.strerror or exc})") from None
