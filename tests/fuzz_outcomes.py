"""What the fuzzers share: each case's outcome counted (a result, or a refusal with the
project's own error; anything else fails the test) and held to a time limit that catches a
hang or a memory bomb, not a speed goal; and the budget of examples each test draws."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, settings

from dsepconv_gui.base.errors import DSepConvError

# `make test` runs a short budget; `make fuzz` a long one (FUZZ_EXAMPLES=1000).
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
# Every fuzz test: EXAMPLES cases, none held to Hypothesis's deadline (FuzzOutcomes times them).
fuzz_settings = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


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


def summary_printer(outcomes: FuzzOutcomes, cases: str = "cases") -> Callable:
    """A module fixture that prints the outcomes' summary after the module's tests; assign it to
    a name in the test module (`report_cases = summary_printer(OUTCOMES)`) to use it."""

    @pytest.fixture(scope="module", autouse=True)
    def report_cases():
        yield
        print(f"\nfuzz: {outcomes.summary(cases)}")

    return report_cases
