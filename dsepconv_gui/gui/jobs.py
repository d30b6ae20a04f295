"""Running work off the UI thread, one handle per job.

A job is a plain function `fn(context) -> value`; it calls `context.check()` between frames
or tiles (raising Cancelled once asked to stop) and `context.progress(done, total, text)`.
Nothing in a job touches a widget: it returns numpy arrays and dataclasses.

`JobRunner.start(fn)` returns a `Job`, whose own signals arrive on the UI thread:
`progress(done, total, text)` and `yielded(value)` (partial results), then exactly one of
`returned(value)`, `errored(message)` or `aborted()`, then `finished()`. After `cancel()` a
job sends only `aborted` and `finished`, so whoever started it never sees a stale result.
`LatestJob` keeps one job of a kind at a time: starting a new one cancels the one before (the
newest request wins).
"""

from __future__ import annotations

import sys
import threading
import traceback
import weakref
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from dsepconv_gui.base.errors import DSepConvError


class Cancelled(Exception):
    """Raised inside a job by JobContext.check() once the job was cancelled."""


class JobContext:
    """What a running job sees: its cancel flag and a way to report progress."""

    def __init__(
        self,
        report: Callable[[int, int, str], None],
        send: Callable[[object], None] = lambda value: None,
    ) -> None:
        self._cancel = threading.Event()
        self._report, self._send = report, send

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

    def send(self, value: object) -> None:
        """Hand a partial result to the UI thread (Job.yielded), e.g. frames already decoded."""
        self.check()
        self._send(value)


class Job(QObject):
    """The handle of one job. Its public signals are emitted on the UI thread."""

    progress = Signal(int, int, str)  # done, total, text
    yielded = Signal(object)  # a partial result the job sent (JobContext.send)
    returned = Signal(object)
    errored = Signal(str)
    aborted = Signal()
    finished = Signal()

    # Emitted from the pool thread; connected to this object's slots, so Qt queues them onto
    # the UI thread, where the handle lives.
    _progressed = Signal(int, int, str)
    _sent = Signal(object)
    _ended = Signal(str, object)  # outcome ("returned", "errored", "aborted"), value

    def __init__(self, fn: Callable[[JobContext], Any], name: str = "") -> None:
        super().__init__()
        self.name = name
        self.context = JobContext(self._progressed.emit, self._sent.emit)
        self._fn = fn
        self._done = False
        self._progressed.connect(self._on_progressed)
        self._sent.connect(self._on_sent)
        self._ended.connect(self._on_ended)

    @property
    def running(self) -> bool:
        """Started and not yet finished (a cancelled job runs until its next check point)."""
        return not self._done

    @property
    def cancelled(self) -> bool:
        return self.context.cancelled

    @property
    def active(self) -> bool:
        """Running and not cancelled: its result will still be delivered."""
        return self.running and not self.cancelled

    def cancel(self) -> None:
        self.context.cancel()

    def run(self) -> None:
        """The job's body, on a pool thread (JobRunner calls it)."""
        try:
            value = self._fn(self.context)
            outcome = "aborted" if self.context.cancelled else "returned"
        except Cancelled:
            outcome, value = "aborted", None
        except DSepConvError as exc:
            outcome, value = "errored", str(exc)
        except MemoryError:
            outcome, value = "errored", "out of memory: try a smaller preview size"
        except Exception as exc:  # noqa: BLE001 - any failure must reach the window, not kill the app
            traceback.print_exc(file=sys.stderr)
            outcome, value = "errored", f"{type(exc).__name__}: {exc}"
        self._ended.emit(outcome, value)

    def _on_progressed(self, done: int, total: int, text: str) -> None:
        if not self.context.cancelled:
            self.progress.emit(done, total, text)

    def _on_sent(self, value: object) -> None:
        if not self.context.cancelled:
            self.yielded.emit(value)

    def _on_ended(self, outcome: str, value: object) -> None:
        self._done = True
        self._fn = None  # what the job captured (a model, a clip) is not kept by the handle
        if self.context.cancelled:
            outcome = "aborted"
        if outcome == "returned":
            self.returned.emit(value)
        elif outcome == "errored":
            self.errored.emit(value)
        else:
            self.aborted.emit()
        self.finished.emit()


# Runnables of jobs not yet returned, so that a job's objects live until its thread is done
# with them, whoever still holds the handle.
_in_flight: set[_Runnable] = set()


class _Runnable(QRunnable):
    def __init__(self, job: Job) -> None:
        super().__init__()
        self.setAutoDelete(False)
        self.job = job

    def run(self) -> None:
        try:
            self.job.run()
        except RuntimeError:  # the handle was destroyed with its window: nobody is listening
            pass
        finally:
            self.job = None  # the pool keeps this runnable; it must not keep the job
            _in_flight.discard(self)


class JobRunner(QObject):
    """A thread pool for jobs, and the handles of those still running."""

    def __init__(self, parent: QObject | None = None, max_threads: int = 2) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max_threads)
        self._running: set[Job] = set()

    def start(self, fn: Callable[[JobContext], Any], name: str = "") -> Job:
        """Start fn on the pool; connect to the returned handle's signals right away (they
        arrive through the event loop, so none is missed)."""
        job = Job(fn, name)
        self._running.add(job)  # held until it finishes; afterwards by whoever keeps the handle
        # Connections hold their callables and are invisible to Python's garbage collector:
        # a callable that held the job would keep it, and what it captured, forever.
        handle = weakref.ref(job)
        job.finished.connect(lambda: self._running.discard(handle()))
        runnable = _Runnable(job)
        _in_flight.add(runnable)
        self.pool.start(runnable)
        return job

    @property
    def running(self) -> list[Job]:
        return [job for job in self._running if job.running]

    def cancel_all(self) -> None:
        for job in list(self._running):
            job.cancel()

    def wait(self, timeout_ms: int = 30000) -> bool:
        """Block until every job has returned (used on close and in tests)."""
        return self.pool.waitForDone(timeout_ms)

    def shutdown(self, timeout_ms: int = 30000) -> bool:
        self.cancel_all()
        return self.wait(timeout_ms)


class LatestJob(QObject):
    """One job of a kind at a time on a runner: `start` cancels the previous one, whose result
    is then never delivered. busy_changed(bool) follows whether the newest job runs."""

    busy_changed = Signal(bool)

    def __init__(self, runner: JobRunner, name: str) -> None:
        super().__init__(runner)
        self.runner, self.name = runner, name
        self.job: Job | None = None

    @property
    def busy(self) -> bool:
        return self.job is not None and self.job.active

    def start(self, fn: Callable[[JobContext], Any]) -> Job:
        was_busy = self.busy
        if self.job is not None:
            self.job.cancel()
        job = self.job = self.runner.start(fn, self.name)
        handle = weakref.ref(job)
        job.finished.connect(lambda: self._on_finished(handle()))
        if not was_busy:
            self.busy_changed.emit(True)
        return job

    def cancel(self) -> bool:
        """Cancel the running job; True if there was one."""
        if not self.busy:
            return False
        self.job.cancel()
        self.busy_changed.emit(False)
        return True

    def _on_finished(self, job: Job | None) -> None:
        if job is not None and job is self.job and not job.cancelled:
            self.busy_changed.emit(False)
