"""A frame or window size written as "WxH" (e.g. 1920x1080), as the command lines take it."""

from __future__ import annotations

from dsepconv_gui.base.errors import InputError

MAX_SIDE = 16384


def parse_width_height(text: str) -> tuple[int, int]:
    """ "WxH" (either case of x) as (width, height), each from 1 to MAX_SIDE; InputError
    saying what is wrong otherwise."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise InputError(f"{text!r} is not WxH (e.g. 1920x1080)") from None
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        raise InputError(f"{text!r}: width and height from 1 to {MAX_SIDE}")
    return width, height
