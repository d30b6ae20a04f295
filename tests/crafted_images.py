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


def ihdr(width: int, height: int, bit_depth: int = 8, colour_type: int = 2, interlace: int = 0,
         compression: int = 0, filter_method: int = 0) -> bytes:
    return struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, compression, filter_method, interlace)


def png(width: int, height: int, idat: bytes | None = None, bit_depth: int = 8, colour_type: int = 2,
        interlace: int = 0) -> bytes:
    """A PNG with the given header; by default its data is a tiny zlib stream (one zero row
    at most), far less than the header declares."""
    idat = zlib.compress(b"\0" * 16) if idat is None else idat
    return (PNG_SIGNATURE + png_chunk(b"IHDR", ihdr(width, height, bit_depth, colour_type, interlace))
            + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b""))


def zero_rows_png(width: int, height: int) -> bytes:
    """A complete, valid 8-bit greyscale PNG of black pixels. Its data is compressed one row at
    a time, so a 20000×20000 frame (400 MB of pixels) takes a few hundred kilobytes and never
    exists uncompressed in memory."""
    row = bytes(1 + width)  # filter byte 0, then the row's samples
    compressor = zlib.compressobj(1)
    parts = [compressor.compress(row) for _ in range(height)]
    parts.append(compressor.flush())
    return (PNG_SIGNATURE + png_chunk(b"IHDR", ihdr(width, height, 8, 0)) + png_chunk(b"IDAT", b"".join(parts))
            + png_chunk(b"IEND", b""))
