"""Command lines for `dsepconv` in tests: the words every call repeats, so that a test spells out
only the options it is about."""

from __future__ import annotations

from pathlib import Path

TINY_MODEL = "random:tiny"  # an untrained tiny network: fast, and no model file needed


def with_model(model: str | Path | None) -> list[str]:
    """`--model MODEL`: a file, or random:PRESET; none at all for None (the default model)."""
    return [] if model is None else ["--model", str(model)]


def export_args(clip: str | Path, out: str | Path, *extra: str, model=TINY_MODEL) -> list[str]:
    """`export CLIP -o OUT EXTRA… --model MODEL` (no --model when `model` is None)."""
    return ["export", str(clip), "-o", str(out), *extra, *with_model(model)]


def interpolate_args(
    frames: tuple[str | Path, str | Path], out: str | Path, *extra: str, model=TINY_MODEL
) -> list[str]:
    """`interpolate A B -o OUT EXTRA… --model MODEL` (no --model when `model` is None)."""
    return ["interpolate", *map(str, frames), "-o", str(out), *extra, *with_model(model)]
