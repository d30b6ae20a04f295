"""A one-line progress bar for the terminal: done/total, rate, time left. On a terminal it
redraws in place; in a log file it prints a line every 30 seconds."""

from __future__ import annotations

import math
import sys
import time


def format_duration(seconds: float) -> str:
    """'1:02:03' (hours may exceed 24), or '?' when unknown."""
    if not math.isfinite(seconds):
        return "?"
    whole = int(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


class Progress:
    def __init__(self, total: int, start: int = 0, unit: str = "it", stream=None) -> None:
        self.total, self.start, self.unit = total, start, unit
        self.started = time.monotonic()
        self.stream = stream or sys.stderr
        self.interactive = self.stream.isatty()
        self.last_print = 0.0

    def update(self, done: int, text: str = "") -> None:
        now = time.monotonic()
        if (
            now - self.last_print < (0.2 if self.interactive else 30)
            and done < self.total
            or done <= self.start
        ):
            return
        self.last_print = now
        elapsed = now - self.started
        rate = (done - self.start) / elapsed if elapsed >= 1.0 else 0.0  # too early to tell
        left = (self.total - done) / rate if rate > 0 else float("inf")
        width = 24
        filled = int(width * done / max(self.total, 1))
        line = (
            f"[{'#' * filled}{'.' * (width - filled)}] {done}/{self.total} {self.unit} "
            f"{rate:.2f} {self.unit}/s ETA {format_duration(left)} {text}"
        )
        self.stream.write(("\r" + line) if self.interactive else line + "\n")
        self.stream.flush()
