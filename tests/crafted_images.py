"""Image files written byte by byte, so that their headers can say anything: a PNG may declare
a frame far larger than its data, carry wrong checksums, or chunks out of order."""

from __future__ import annotations

import struct
import zlib

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # PNG colour type: samples per pixel


def png_chunk(kind: bytes, data: bytes, crc_ok: bool = True) -> bytes:
    crc = zlib.crc32(kind + data) ^ (0 if crc_ok else 0xFFFFFFFF)
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc & 0xFFFFFFFF)


def ihdr(
    width: int,
    height: int,
    bit_depth: int,
    colour_type: int,
    interlace: int = 0,
    *,
    compression: int = 0,
    filter_method: int = 0,
) -> bytes:
    """An IHDR chunk's data; compression and filter method 0 are the only ones defined."""
    return struct.pack(
        ">IIBBBBB", width, height, bit_depth, colour_type, compression, filter_method, interlace
    )


def png(
    width: int,
    height: int,
    idat: bytes | None = None,
    bit_depth: int = 8,
    colour_type: int = 2,
    interlace: int = 0,
) -> bytes:
    """A PNG with the given header; by default its data is a tiny zlib stream (one zero row
    at most), far less than the header declares."""
    idat = zlib.compress(b"\0" * 16) if idat is None else idat
    return (
        PNG_SIGNATURE
        + png_chunk(b"IHDR", ihdr(width, height, bit_depth, colour_type, interlace))
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def zero_rows_png(width: int, height: int) -> bytes:
    """A complete, valid 8-bit greyscale PNG of black pixels. Its data is compressed one row at
    a time, so a 20000×20000 frame (400 MB of pixels) takes a few hundred kilobytes and never
    exists uncompressed in memory."""
    row = bytes(1 + width)  # filter byte 0, then the row's samples
    compressor = zlib.compressobj(1)
    parts = [compressor.compress(row) for _ in range(height)]
    parts.append(compressor.flush())
    return (
        PNG_SIGNATURE
        + png_chunk(b"IHDR", ihdr(width, height, 8, 0))
        + png_chunk(b"IDAT", b"".join(parts))
        + png_chunk(b"IEND", b"")
    )


def exif_orientation(orientation: int) -> bytes:
    """An EXIF block ("Exif\\0\\0" and a TIFF structure) holding one orientation tag."""
    from PIL import Image

    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


def jpeg_with_header(
    width: int, height: int, precision: int = 8, orientation: int | None = None
) -> bytes:
    """A small real JPEG (16×16) whose start-of-frame says width × height at the given sample
    precision, with an EXIF orientation segment when given."""
    import cv2
    import numpy as np

    pixels = np.random.default_rng(width ^ height).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    data = bytearray(cv2.imencode(".jpg", pixels)[1].tobytes())
    sof = data.index(b"\xff\xc0")
    data[sof + 4 : sof + 9] = struct.pack(">BHH", precision, height, width)
    if orientation is not None:
        block = exif_orientation(orientation)
        data[2:2] = b"\xff\xe1" + struct.pack(">H", len(block) + 2) + block
    return bytes(data)


def bmp(
    width: int,
    height: int,
    bits: int = 24,
    compression: int = 0,
    pixels: bytes = b"\0" * 64,
    palette_entries: int = 0,
) -> bytes:
    """A BMP (BITMAPINFOHEADER) whose header says anything; a negative height is top-down."""
    palette = bytes(4 * palette_entries)
    offset = 14 + 40 + len(palette)
    info = struct.pack(
        "<IiiHHIIiiII",
        40,
        width,
        height,
        1,
        bits,
        compression,
        len(pixels),
        2835,
        2835,
        palette_entries,
        0,
    )
    return (
        b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset) + info + palette + pixels
    )


def tiff(
    width: int,
    height: int,
    bits: int = 8,
    samples: int = 3,
    photometric: int = 2,
    compression: int = 1,
    orientation: int = 1,
    rows_per_strip: int | None = None,
    pixels: bytes = b"\0" * 64,
) -> bytes:
    """A little-endian TIFF with one strip, whose tags say anything."""
    tags = [  # (tag, type: 3 SHORT / 4 LONG, value)
        (256, 4, width),
        (257, 4, height),
        (258, 3, bits),
        (259, 3, compression),
        (262, 3, photometric),
        (273, 4, 0),
        (274, 3, orientation),
        (277, 3, samples),
        (278, 4, height if rows_per_strip is None else rows_per_strip),
        (279, 4, len(pixels)),
    ]
    ifd_size = 2 + 12 * len(tags) + 4
    data_offset = 8 + ifd_size
    entries = b"".join(
        struct.pack("<HHI", tag, kind, 1)
        + (
            struct.pack("<HH", value & 0xFFFF, 0)
            if kind == 3
            else struct.pack("<I", (data_offset if tag == 273 else value) & 0xFFFFFFFF)
        )
        for tag, kind, value in tags
    )
    return (
        b"II*\0"
        + struct.pack("<I", 8)
        + struct.pack("<H", len(tags))
        + entries
        + struct.pack("<I", 0)
        + pixels
    )
