"""Running work off the UI thread: one job per channel, the newest wins, cancel at the next
check point, results and errors delivered on the UI thread as signals.

A job is a plain function `fn(context) -> value`; it calls `context.check()` between frames
or tiles (raising Cancelled when asked to stop) and `context.progress(done, total, text)`.
Nothing in a job touches a widget: it returns numpy arrays and dataclasses.
"""

from __future__ import annotations

import sys
import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from dsepconv_gui.base.errors import DSepConvError


class Cancelled(Exception):
    """Raised inside a job by JobContext.check() once the job was cancelled."""


class JobContext:
    """What a running job sees: its cancel flag and a way to report progress."""

    def __init__(self, report: Callable[[int, int, str], None]) -> None:
        self._cancel = threading.Event()
        self._report = report

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def check(self) -> None:
        if self._cancel.is_set():
            raise Cancelled

    def progress(self, done: int, total: int, text: str = "") -> None:
        self.check()
        self._report(done, total, text)


class _Relay(QObject):
    """Carries a job's events from its pool thread to the UI thread (queued connections)."""

    progress = Signal(str, int, int, int, str)  # channel, generation, done, total, text
    result = Signal(str, int, object)
    error = Signal(str, int, str)
    finished = Signal(str, int)


class _Job(QRunnable):
    def __init__(
        self, fn, context: JobContext, relay: _Relay, channel: str, generation: int
    ) -> None:
        super().__init__()
        self.fn, self.context, self.relay = fn, context, relay
        self.channel, self.generation = channel, generation

    def run(self) -> None:
        try:
            value = self.fn(self.context)
            if not self.context.cancelled:
                self.relay.result.emit(self.channel, self.generation, value)
        except Cancelled:
            pass
        except DSepConvError as exc:
            self.relay.error.emit(self.channel, self.generation, str(exc))
        except MemoryError:
            self.relay.error.emit(
                self.channel, self.generation, "out of memory: try a smaller preview size"
            )
        except Exception as exc:  # noqa: BLE001 - any failure must reach the window, not kill the app
            traceback.print_exc(file=sys.stderr)
            self.relay.error.emit(self.channel, self.generation, f"{type(exc).__name__}: {exc}")
        finally:
            self.relay.finished.emit(self.channel, self.generation)


class JobRunner(QObject):
    """Submits jobs to its own thread pool; per channel, a new job cancels the previous one
    and only the newest job's progress, result and error are delivered."""

    progress = Signal(str, int, int, str)  # channel, done, total, text
    result = Signal(str, object)
    failed = Signal(str, str)
    busy_changed = Signal(str, bool)

    def __init__(self, parent: QObject | None = None, max_threads: int = 2) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max_threads)
        self._relay = _Relay()
        self._relay.progress.connect(self._on_progress)
        self._relay.result.connect(self._on_result)
        self._relay.error.connect(self._on_error)
        self._relay.finished.connect(self._on_finished)
        self._generation: dict[str, int] = {}
        self._contexts: dict[tuple[str, int], JobContext] = {}
        self._jobs: dict[tuple[str, int], _Job] = {}

    def submit(self, channel: str, fn: Callable[[JobContext], Any]) -> int:
        self.cancel(channel)
        generation = self._generation.get(channel, 0) + 1
        self._generation[channel] = generation
        key = (channel, generation)
        context = JobContext(
            lambda done, total, text: self._relay.progress.emit(
                channel, generation, done, total, text
            )
        )
        job = _Job(fn, context, self._relay, channel, generation)
        job.setAutoDelete(False)
        self._contexts[key], self._jobs[key] = context, job
        self.busy_changed.emit(channel, True)
        self.pool.start(job)
        return generation

    def cancel(self, channel: str) -> None:
        for (name, _), context in self._contexts.items():
            if name == channel:
                context.cancel()
        if channel in self._generation and self.is_busy(channel):
            self._generation[channel] += 1  # whatever the cancelled job still sends is stale
            self.busy_changed.emit(channel, False)

    def cancel_all(self) -> None:
        for channel in list(self._generation):
            self.cancel(channel)

    def is_busy(self, channel: str) -> bool:
        current = self._generation.get(channel)
        return (channel, current) in self._contexts

    def wait(self, timeout_ms: int = 30000) -> bool:
        """Block until every job has returned (used on close and in tests)."""
        return self.pool.waitForDone(timeout_ms)

    def shutdown(self, timeout_ms: int = 30000) -> bool:
        self.cancel_all()
        return self.wait(timeout_ms)

    def _current(self, channel: str, generation: int) -> bool:
        return self._generation.get(channel) == generation

    def _on_progress(self, channel: str, generation: int, done: int, total: int, text: str) -> None:
        if self._current(channel, generation):
            self.progress.emit(channel, done, total, text)

    def _on_result(self, channel: str, generation: int, value: object) -> None:
        if self._current(channel, generation):
            self.result.emit(channel, value)

    def _on_error(self, channel: str, generation: int, message: str) -> None:
        if self._current(channel, generation):
            self.failed.emit(channel, message)

    def _on_finished(self, channel: str, generation: int) -> None:
        self._contexts.pop((channel, generation), None)
        self._jobs.pop((channel, generation), None)
        if self._current(channel, generation):
            self.busy_changed.emit(channel, False)
