"""A progress bar that follows jobs: done of total, the job's words and the time left; hidden
while none of the jobs it follows runs."""

from __future__ import annotations

import time
import weakref

from PySide6.QtWidgets import QProgressBar, QWidget

from dsepconv_gui.base.progress_bar import format_duration
from dsepconv_gui.gui.jobs import Job


class JobProgress(QProgressBar):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMaximumWidth(260)
        self.hide()
        self._followed: weakref.WeakSet[Job] = weakref.WeakSet()

    def follow(self, job: Job) -> None:
        started = time.monotonic()
        self._followed.add(job)
        job.progress.connect(lambda done, total, text: self._show(started, done, total, text))
        handle = weakref.ref(job)  # a connection must not keep the job alive (see jobs.py)
        job.finished.connect(lambda: self._forget(handle()))

    def _show(self, started: float, done: int, total: int, text: str) -> None:
        if total <= 0:
            return
        left = (time.monotonic() - started) / done * (total - done) if done else 0.0
        self.show()
        self.setRange(0, total)
        self.setValue(done)
        self.setFormat(
            f"{text}: {done}/{total}" + (f", {format_duration(left)} left" if done else "")
        )

    def refresh(self) -> None:
        """Hide unless a followed job still runs (call it after cancelling one)."""
        if not any(job.active for job in self._followed):
            self.hide()

    def _forget(self, job: Job | None) -> None:
        if job is not None:
            self._followed.discard(job)
        self.refresh()
