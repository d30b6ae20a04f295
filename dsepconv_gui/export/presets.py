"""Export presets in plain words, each saying what it does to the duration and the frame rate.

"Smoother" multiplies the frame rate and keeps the duration; "Slow motion" keeps the input's
rate and lasts longer; "Convert" retimes to a standard rate. Each preset is only a choice of
ExportSettings' timing fields; the expert fields stay available beside them."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True)
class ExportPreset:
    name: str
    factor: int | None = None
    fps: Fraction | None = None
    slow_motion: bool = False
    keep_duration: bool = False

    def output_rate(self, input_rate: Fraction) -> Fraction:
        """Frames per second of the output."""
        if self.fps is not None:
            return self.fps
        return input_rate if self.slow_motion else input_rate * self.factor

    def duration_ratio(self) -> int:
        """How many times as long as the input the output lasts."""
        return self.factor if self.slow_motion else 1


EXPORT_PRESETS = (
    ExportPreset("Smoother: 2× frame rate, same duration", factor=2, keep_duration=True),
    ExportPreset("Smoother: 4× frame rate, same duration", factor=4, keep_duration=True),
    ExportPreset(
        "Slow motion: 2× longer at the original rate",
        factor=2,
        slow_motion=True,
        keep_duration=True,
    ),
    ExportPreset(
        "Slow motion: 4× longer at the original rate",
        factor=4,
        slow_motion=True,
        keep_duration=True,
    ),
    ExportPreset(
        "Slow motion: 8× longer at the original rate",
        factor=8,
        slow_motion=True,
        keep_duration=True,
    ),
    ExportPreset("Convert to 24 fps, same duration", fps=Fraction(24)),
    ExportPreset("Convert to 30 fps, same duration", fps=Fraction(30)),
    ExportPreset("Convert to 50 fps, same duration", fps=Fraction(50)),
    ExportPreset("Convert to 60 fps, same duration", fps=Fraction(60)),
)
