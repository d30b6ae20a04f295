"""What the fuzzers share: each case's outcome counted (a result, or a refusal with the
project's own error; anything else fails the test) and held to a time limit that catches a
hang or a memory bomb, not a speed goal."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from dsepconv_gui.base.errors import DSepConvError


class FuzzOutcomes:
    def __init__(
        self, success: str, time_limit: float, refusal: type[Exception] = DSepConvError
    ) -> None:
        self.success, self.time_limit, self.refusal = success, time_limit, refusal
        self.tried = self.succeeded = self.refused = 0
        self.slowest = (0.0, "")

    @contextmanager
    def case(self, name: str) -> Iterator[None]:
        """`with outcomes.case(name): ...` runs one case; a refusal counts, other errors fail."""
        self.tried += 1
        started = time.monotonic()
        try:
            yield
        except self.refusal:
            self.refused += 1
        else:
            self.succeeded += 1
        seconds = time.monotonic() - started
        if seconds > self.slowest[0]:
            self.slowest = (seconds, name)
        assert seconds < self.time_limit, f"{name} took {seconds:.1f} s"

    def summary(self, cases: str = "cases") -> str:
        return (
            f"{self.tried} {cases} tried, {self.succeeded} {self.success}, "
            f"{self.refused} refused with a message"
        )
