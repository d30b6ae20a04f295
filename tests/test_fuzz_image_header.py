"""Fuzzing image headers: PNG, JPEG, BMP and TIFF files written byte by byte with arbitrary
header fields (sizes up to 2^32 − 1, bit depths, colour types, interlace, chunk order, right
or wrong checksums, EXIF orientations) and almost no pixel data, read with read_image.

The only outcomes allowed are an RGB uint8 frame within the size limit or the project's
InputError; each case must be quick (a header declaring a huge frame is refused before
anything is decoded or allocated). `make test` runs a short budget; FUZZ_EXAMPLES sets a
long one (the coordinator runs 1,000 per format), and the counts are printed at the end.
"""

from __future__ import annotations

import resource
import tempfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dsepconv_gui.base.errors import InputError
from dsepconv_gui.frames.images import MAX_FRAME_PIXELS, read_image

from .crafted_images import (
    CHANNELS,
    PNG_SIGNATURE,
    bmp,
    exif_orientation,
    ihdr,
    jpeg_with_header,
    png_chunk,
    tiff,
)
from .fuzz_outcomes import FuzzOutcomes, fuzz_settings

# 30 s per case: catches a hang or a decoded bomb (a header is checked first), not a speed goal
OUTCOMES = FuzzOutcomes("decoded", time_limit=30.0, refusal=InputError)
MEMORY_LIMIT = 2 * 2**30  # growth of the process's peak memory over the whole module
FORMATS: dict[str, int] = {}

# Sizes: mostly small ones that can decode, else the limit's edges or anything a field holds.
EDGES = [0, 1, 2, 7680, 7681, 4320, 4321, 65535, 65536, 2**31 - 1, 2**32 - 1]
SMALL = st.integers(1, 40)
size = st.sampled_from(["small", "small", "small", "edge", "any"]).flatmap(
    lambda kind: {"small": SMALL, "edge": st.sampled_from(EDGES), "any": st.integers(0, 2**32 - 1)}[
        kind
    ]
)
size16 = size.map(lambda n: n if n < 65536 else n % 65536)
size31 = size.map(lambda n: n % 2**31)
orientation = st.one_of(st.integers(1, 8), st.integers(0, 65535))
# PNG: the valid bit depths of each colour type; other pairs are drawn too, less often.
PNG_DEPTHS = {0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16]}
ADAM7 = [
    (0, 0, 8, 8),
    (4, 0, 8, 8),
    (0, 4, 4, 8),
    (2, 0, 4, 4),
    (0, 2, 2, 4),
    (1, 0, 2, 2),
    (0, 1, 1, 2),
]


def rarely(draw) -> bool:
    return draw(st.integers(0, 9)) == 0


@pytest.fixture(scope="module", autouse=True)
def report_cases():
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    yield
    growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - peak_before
    formats = ", ".join(f"{name} {count}" for name, count in FORMATS.items())
    tried, rest = OUTCOMES.summary().split(" tried, ")
    print(
        f"\nimage-header fuzz: {tried} tried ({formats}), {rest}; "
        f"slowest {OUTCOMES.slowest[0]:.2f} s ({OUTCOMES.slowest[1]}); "
        f"peak memory grew by {growth / 2**20:.0f} MB"
    )
    assert growth < MEMORY_LIMIT, f"peak memory grew by {growth / 2**20:.0f} MB"


def read_crafted(name: str, data: bytes) -> None:
    """Write the bytes and read them; only a frame within the limit or InputError may come out."""
    FORMATS[Path(name).suffix] = FORMATS.get(Path(name).suffix, 0) + 1
    with tempfile.TemporaryDirectory(prefix="dsepconv-fuzz-header-") as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        with OUTCOMES.case(f"{name}, {len(data)} bytes"):
            frame = read_image(path)
            assert isinstance(frame, np.ndarray) and frame.dtype == np.uint8
            assert (
                frame.ndim == 3
                and frame.shape[2] == 3
                and frame.shape[0] >= 1
                and frame.shape[1] >= 1
            )
            assert frame.shape[0] * frame.shape[1] <= MAX_FRAME_PIXELS


def png_data_size(width: int, height: int, depth: int, colour: int, interlace: int) -> int:
    """Bytes of filtered rows the header asks for (each row has a filter byte first)."""
    passes = ADAM7 if interlace == 1 else [(0, 0, 1, 1)]
    total = 0
    for x0, y0, dx, dy in passes:
        w, h = (width - x0 + dx - 1) // dx, (height - y0 + dy - 1) // dy
        if w > 0 and h > 0:
            total += h * (1 + (w * CHANNELS.get(colour, 3) * max(depth, 1) + 7) // 8)
    return total


@st.composite
def png_files(draw) -> bytes:
    width, height = draw(size), draw(size)
    if rarely(draw):
        colour, depth = (
            draw(st.sampled_from([0, 2, 3, 4, 6, 1, 7, 255])),
            draw(st.sampled_from([0, 1, 3, 8, 16, 255])),
        )
    else:
        colour = draw(st.sampled_from(sorted(PNG_DEPTHS)))
        depth = draw(st.sampled_from(PNG_DEPTHS[colour]))
    interlace = draw(st.sampled_from([0, 1, 2])) if rarely(draw) else draw(st.sampled_from([0, 1]))
    header = ihdr(
        width,
        height,
        depth,
        colour,
        interlace,
        compression=1 if rarely(draw) else 0,
        filter_method=1 if rarely(draw) else 0,
    )
    # Pixel data: when the frame is small, the rows it asks for (random filter bytes and
    # samples, sometimes cut short), else a few bytes, compressed or not.
    needed = png_data_size(width, height, depth, colour, interlace)
    if needed <= 1 << 16 and not rarely(draw):
        seed = draw(st.binary(min_size=1, max_size=64))
        rows = (seed * (needed // len(seed) + 1))[: needed if not rarely(draw) else needed // 2]
        idat = zlib.compress(rows)
    else:
        idat = draw(st.one_of(st.binary(max_size=32), st.binary(max_size=32).map(zlib.compress)))
    chunks = [(b"IHDR", header), (b"IDAT", idat)]
    if colour == 3 or rarely(draw):
        entries = draw(st.integers(0, 256)) if rarely(draw) else 2 ** min(max(depth, 1), 8)
        chunks.insert(1, (b"PLTE", draw(st.binary(min_size=3 * entries, max_size=3 * entries))))
    if draw(st.booleans()):
        chunks.insert(1, (b"eXIf", exif_orientation(draw(orientation))[6:]))
    if rarely(draw):
        chunks = draw(st.permutations(chunks))  # out of order: IHDR not first, IDAT before PLTE
    crc_ok = [not rarely(draw) for _ in range(len(chunks) + 1)]
    body = b"".join(
        png_chunk(kind, data, ok) for (kind, data), ok in zip(chunks, crc_ok, strict=False)
    )
    return PNG_SIGNATURE + body + png_chunk(b"IEND", b"", crc_ok[-1])


@fuzz_settings  # EXAMPLES per format
@given(data=png_files())
def test_png_headers_decode_or_are_refused(data):
    read_crafted("crafted.png", data)


@fuzz_settings
@given(
    width=size16,
    height=size16,
    precision=st.sampled_from([8, 8, 8, 8, 12, 16, 0, 255]),
    turn=st.one_of(st.none(), orientation),
)
def test_jpeg_headers_decode_or_are_refused(width, height, precision, turn):
    read_crafted("crafted.jpg", jpeg_with_header(width, height, precision, turn))


@st.composite
def bmp_files(draw) -> bytes:
    width = draw(size31) if not rarely(draw) else draw(st.integers(-(2**31), 0))
    height = draw(size31) * draw(st.sampled_from([1, -1]))  # negative: rows top-down
    if rarely(draw):
        bits, compression = (
            draw(st.sampled_from([0, 7, 64, 16, 32])),
            draw(st.sampled_from([1, 2, 3, 4, 5, 6, 99])),
        )
    else:
        bits, compression = draw(st.sampled_from([1, 4, 8, 24, 32])), 0
    palette = (
        2**bits if bits <= 8 and not rarely(draw) else draw(st.sampled_from([0, 2, 16, 256, 4096]))
    )
    row = (abs(width) * bits + 31) // 32 * 4
    needed = row * abs(height)
    seed = draw(st.binary(min_size=1, max_size=64))
    pixels = (
        (seed * (needed // len(seed) + 1))[:needed]
        if needed <= 1 << 16 and not rarely(draw)
        else seed
    )
    return bmp(width, height, bits, compression, pixels, palette)


@fuzz_settings
@given(data=bmp_files())
def test_bmp_headers_decode_or_are_refused(data):
    read_crafted("crafted.bmp", data)


@st.composite
def tiff_files(draw) -> bytes:
    width, height = draw(size), draw(size)
    if rarely(draw):
        bits, samples = (
            draw(st.sampled_from([0, 1, 3, 16, 32, 64])),
            draw(st.sampled_from([0, 1, 2, 3, 4, 9])),
        )
        photometric, compression = (
            draw(st.sampled_from([0, 1, 2, 3, 5, 6, 99])),
            draw(st.sampled_from([1, 2, 5, 7, 8, 32773, 9])),
        )
    else:
        samples = draw(st.sampled_from([1, 3, 4]))
        bits, photometric, compression = (
            draw(st.sampled_from([8, 16])),
            (1 if samples == 1 else 2),
            1,
        )
    rows = draw(size) if rarely(draw) else None
    needed = width * height * samples * max(bits, 1) // 8
    seed = draw(st.binary(min_size=1, max_size=64))
    pixels = (
        (seed * (needed // len(seed) + 1))[:needed]
        if needed <= 1 << 16 and not rarely(draw)
        else seed
    )
    return tiff(
        width, height, bits, samples, photometric, compression, draw(orientation), rows, pixels
    )


@fuzz_settings
@given(data=tiff_files())
def test_tiff_headers_decode_or_are_refused(data):
    read_crafted("crafted.tif", data)
