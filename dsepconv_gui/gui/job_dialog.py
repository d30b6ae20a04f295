"""A dialog that runs one long job (an export, an adaptation) on a runner of its own, so that
nothing the main window does (a new model, its Cancel) stops it; closing the dialog (Close,
Esc, the window closing) cancels the job, never leaving it running out of sight."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QWidget

from dsepconv_gui.gui.jobs import Job, JobRunner


class JobDialog(QDialog):
    """Subclasses have a `progress` bar, `_set_running(running)` for their buttons, and
    `_cancelled()` to say what a cancel left."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.jobs = JobRunner(self, max_threads=1)
        self.job: Job | None = None

    def is_running(self) -> bool:
        return self.job is not None and self.job.active

    def cancel(self) -> None:
        if self.is_running():
            self.job.cancel()
            self._set_running(False)
            self.progress.setValue(0)
            self._cancelled()

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        self.cancel()
        super().closeEvent(event)

    def reject(self) -> None:
        """Esc closes the dialog as Close does: a running job is cancelled."""
        self.cancel()
        super().reject()

    def _set_running(self, running: bool) -> None:
        raise NotImplementedError

    def _cancelled(self) -> None:
        raise NotImplementedError
