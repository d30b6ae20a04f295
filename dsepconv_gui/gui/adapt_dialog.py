"""The dialog that adapts the loaded model to the active clip: a time budget, progress with the
time left, "Stop and keep" (the training ends early; what was learned is scored and kept if
better), Cancel (nothing kept), and the result with a button to use the adapted model."""

from __future__ import annotations

import threading
import weakref
from pathlib import Path

from PySide6.QtCore import QStandardPaths, Signal
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLayout,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from dsepconv_gui.gui.clip_quality_work import Adapted, adapt_job
from dsepconv_gui.gui.job_dialog import JobDialog
from dsepconv_gui.interpolation.interpolator import Interpolator
from dsepconv_gui.video.clips import Clip

DEFAULT_MINUTES = 5.0


def adapted_models_folder() -> Path:
    """Where adapted models are written: the app's data folder (~/.local/share/… on Linux)."""
    location = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(location or Path.home() / ".dsepconv") / "adapted"


class AdaptDialog(JobDialog):
    """use_model(path): the user chose to interpolate with the adapted model."""

    use_model = Signal(str)

    def __init__(
        self,
        clip: Clip,
        in_out: tuple[int, int],
        interpolator: Interpolator,
        parent: QWidget | None = None,
        folder: Path | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Adapt the model — {Path(clip.info.path).name}")
        self.clip, self.in_out, self.interpolator = clip, in_out, interpolator
        self.folder = folder or adapted_models_folder()
        self.stop = threading.Event()
        self.adapted: Adapted | None = None

        self.minutes = QDoubleSpinBox()
        self.minutes.setRange(0.1, 240.0)
        self.minutes.setValue(DEFAULT_MINUTES)
        self.minutes.setSuffix(" min")
        self.minutes.setToolTip("Time for everything: reading, flows, training and scoring")
        explanation = QLabel(
            f"Fine-tunes {Path(interpolator.loaded.source).name} on frames {in_out[0]}–{in_out[1]} "
            "of this clip (each frame is the true middle of its neighbours). Every 5th frame is "
            "held out: no training uses it, and it scores the model before and after. The "
            "adapted model is kept only if it scores better."
        )
        explanation.setWordWrap(True)
        explanation.setMinimumHeight(explanation.heightForWidth(540))
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.report = QPlainTextEdit()  # the result: scores, time, where the model was saved
        self.report.setReadOnly(True)
        self.report.setMaximumHeight(90)
        self.report.hide()
        self.start_button = QPushButton("Start")
        self.start_button.setDefault(True)
        self.stop_button = QPushButton("Stop and keep")
        self.stop_button.setToolTip("End the training now; what was learned is kept if better")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop and keep nothing")
        self.use_button = QPushButton("Use the adapted model")
        self.close_button = QPushButton("Close")
        form = QFormLayout()
        form.addRow("Time", self.minutes)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for button in (
            self.start_button,
            self.stop_button,
            self.cancel_button,
            self.use_button,
            self.close_button,
        ):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        # wrapped labels whose text grows (the result): the dialog grows with them
        layout.setSizeConstraint(QLayout.SizeConstraint.SetMinimumSize)
        self.setMinimumWidth(560)
        layout.addWidget(explanation)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.report)
        layout.addLayout(buttons)
        self.start_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.stop_and_keep)
        self.cancel_button.clicked.connect(self.cancel)
        self.use_button.clicked.connect(self._use)
        self.close_button.clicked.connect(self.close)
        self._set_running(False)
        self.use_button.setEnabled(False)

    def start(self) -> None:
        if self.is_running():
            return
        self.stop.clear()
        self.adapted = None
        self.report.hide()
        self.use_button.setEnabled(False)
        job = adapt_job(
            self.clip, self.interpolator, self.in_out, self.minutes.value(), self.stop, self.folder
        )
        self.job = self.jobs.start(job, "adapt")
        self.job.progress.connect(self._on_progress)
        self.job.returned.connect(self._on_result)
        self.job.errored.connect(lambda message: self.status.setText(f"Failed: {message}"))
        handle = weakref.ref(self.job)  # a connection must not keep the job alive (see jobs.py)
        self.job.finished.connect(lambda: handle() is self.job and self._set_running(False))
        self.status.setText("Reading the clip…")
        self._set_running(True)

    def stop_and_keep(self) -> None:
        if self.is_running():
            self.stop.set()
            self.stop_button.setEnabled(False)
            self.status.setText("Stopping: scoring what was learned so far…")

    def _cancelled(self) -> None:
        self.status.setText("Cancelled: nothing was kept.")

    def _on_progress(self, done: int, total: int, text: str) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        if not self.stop.is_set():
            self.status.setText(text)

    def _on_result(self, adapted: Adapted) -> None:
        self.adapted = adapted
        self.progress.setValue(self.progress.maximum())
        result = adapted.result
        self.status.setText(
            f"Kept: {result.gain:+.2f} dB on the held-out frames"
            if adapted.path is not None
            else "Not kept: the model you started from is as good or better"
        )
        text = result.describe()
        if adapted.path is not None:
            text += f"\nSaved as {adapted.path}"
        self.report.setPlainText(text)
        self.report.show()
        self.use_button.setEnabled(adapted.path is not None)

    def _use(self) -> None:
        if self.adapted is not None and self.adapted.path is not None:
            self.use_model.emit(str(self.adapted.path))

    def _set_running(self, running: bool) -> None:
        self.start_button.setEnabled(not running)
        self.minutes.setEnabled(not running)
        self.stop_button.setEnabled(running)
        self.cancel_button.setEnabled(running)
