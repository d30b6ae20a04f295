"""The Export dialog: whole clip or the timeline's in/out range, ×factor or a target frame rate,
codec and quality, audio, destination. The export runs as a job (cancellable, the window
stays responsive) and ends with its summary, or with the reason it stopped."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QStandardPaths, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from dsepconv_gui.base.errors import DSepConvError, OutputExistsError
from dsepconv_gui.base.progress_bar import format_duration
from dsepconv_gui.export.clip_export import (
    DEFAULT_DEPTH,
    ExportSettings,
    ExportSummary,
    export_clip,
    make_plan,
    prepare_export,
)
from dsepconv_gui.export.overrides import Override, within
from dsepconv_gui.export.plan import parse_rate
from dsepconv_gui.export.presets import EXPORT_PRESETS
from dsepconv_gui.frames.scene_cuts import DEFAULT_CUT_THRESHOLD
from dsepconv_gui.gui.job_dialog import JobDialog
from dsepconv_gui.gui.jobs import JobContext
from dsepconv_gui.interpolation.bisection import (
    SUPPORTED_FACTORS,
    factor_label,
    parse_factor_label,
    takes_time,
)
from dsepconv_gui.video.audio import CopiedAudio
from dsepconv_gui.video.clips import Clip
from dsepconv_gui.video.writer import CODECS

RATES = ["60", "59.94", "50", "30", "29.97", "25", "24", "23.976"]
CUSTOM = "Custom: the timing fields below"


class ExportDialog(JobDialog):
    """finished_export(summary) after a successful export; failures and cancels stay in the
    dialog's status line."""

    finished_export = Signal(object)

    def __init__(
        self,
        clip: Clip,
        in_out: tuple[int, int],
        midpoint: Callable,
        parent: QWidget | None = None,
        folder: Path | None = None,
        overrides: Callable[[], tuple[Override, ...]] = tuple,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Export — {clip.info.path.name}")
        self.clip, self.midpoint = clip, midpoint
        self.in_out = in_out
        self.overrides = overrides  # the quality strip's now, for the whole clip
        self.summary: ExportSummary | None = None

        self.whole = QRadioButton(f"Whole clip (frames 0–{len(clip) - 1})")
        self.ranged = QRadioButton(f"In/out range (frames {in_out[0]}–{in_out[1]})")
        self.ranged.setChecked(in_out != (0, len(clip) - 1))
        self.whole.setChecked(not self.ranged.isChecked())
        range_group = QButtonGroup(self)
        range_group.addButton(self.whole)
        range_group.addButton(self.ranged)

        self.preset = QComboBox()
        self.preset.addItems([preset.name for preset in EXPORT_PRESETS] + [CUSTOM])
        self.outcome = QLabel()  # what the chosen timing gives: rate and duration
        self.by_factor = QRadioButton("More frames:")
        self.factor = QComboBox()
        self.factor.addItems([factor_label(f) for f in SUPPORTED_FACTORS])
        self.keep_duration = QCheckBox("Hold the last frame for its whole time (exact duration)")
        self.slow_motion = QCheckBox("Play at the original rate (slow motion: longer, no audio)")
        self.by_rate = QRadioButton("Frame rate")
        self.rate = QComboBox()
        self.rate.setEditable(True)
        self.rate.addItems(RATES)
        self.by_factor.setChecked(True)
        timing_group = QButtonGroup(self)
        timing_group.addButton(self.by_factor)
        timing_group.addButton(self.by_rate)

        self.codec = QComboBox()
        for name, codec in CODECS.items():
            self.codec.addItem(codec.description, name)
        self.crf = QSpinBox()
        self.crf.setRange(0, 51)
        self.crf.setValue(18)
        self.crf.setToolTip("H.264 quality: 0 lossless, 18 visually lossless, 23 default of ffmpeg")
        self.has_audio = clip.info.kind == "video" and CopiedAudio.count(clip.info.path) > 0
        self.audio = QCheckBox("Copy the audio" if self.has_audio else "Copy the audio (none)")
        self.audio.setChecked(self.has_audio)
        self.threshold = QDoubleSpinBox()
        self.threshold.setRange(1.0, 255.0)
        self.threshold.setValue(DEFAULT_CUT_THRESHOLD)
        self.threshold.setToolTip(
            "image difference above which two frames are a scene cut (never blended)"
        )
        self.folder = folder
        self.output = QLineEdit(str(self._default_output("h264")))
        self.browse = QPushButton("Browse…")
        self.overwrite = QCheckBox("Replace the file if it exists")

        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.report = QPlainTextEdit()
        self.report.setReadOnly(True)
        self.report.setMaximumHeight(110)
        self.report.hide()
        self.export_button = QPushButton("Export")
        self.export_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel export")
        self.cancel_button.setEnabled(False)
        self.close_button = QPushButton("Close")

        form = QFormLayout()
        form.addRow("Range", _column(self.whole, self.ranged))
        form.addRow("Make", _column(self.preset, self.outcome))
        form.addRow(
            "Timing",
            _column(
                _row(self.by_factor, self.factor),
                self.keep_duration,
                self.slow_motion,
                _row(self.by_rate, self.rate),
            ),
        )
        form.addRow("Format", self.codec)
        form.addRow("Quality (CRF)", self.crf)
        form.addRow("Audio", self.audio)
        form.addRow("Scene-cut threshold", self.threshold)
        self.overrides_label = QLabel()
        self.overrides_label.setWordWrap(True)
        self.overrides_label.setToolTip(
            "Set in the quality strip: these ranges are not interpolated"
        )
        form.addRow("Overrides", self.overrides_label)
        self.show_overrides()
        form.addRow("Output", _row(self.output, self.browse))
        form.addRow("", self.overwrite)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for button in (self.export_button, self.cancel_button, self.close_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.report)
        layout.addLayout(buttons)

        self.codec.currentIndexChanged.connect(self._on_codec)
        self.preset.currentIndexChanged.connect(lambda _: self._apply_preset())
        for signal in (
            self.by_factor.toggled,
            self.factor.currentIndexChanged,
            self.keep_duration.toggled,
            self.slow_motion.toggled,
            self.rate.currentTextChanged,
            self.whole.toggled,
        ):
            signal.connect(lambda *_: self._on_timing())
        self.browse.clicked.connect(self._browse)
        self.export_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.close_button.clicked.connect(self.close)
        self._apply_preset()
        self._on_codec()

    def show_overrides(self) -> None:
        """List the clip's overrides as they are now (the strip may change them)."""
        text = "; ".join(o.describe() for o in self.overrides())
        self.overrides_label.setText(text or "none (set them in the quality strip)")

    # ----- reading the form ---------------------------------------------------------------
    def settings(self) -> ExportSettings:
        """The form as ExportSettings; InputError for an unreadable frame rate."""
        first, last = self.in_out if self.ranged.isChecked() else (0, len(self.clip) - 1)
        factor = fps = None
        if self.by_factor.isChecked():
            factor = parse_factor_label(self.factor.currentText())
        else:
            fps = parse_rate(self.rate.currentText())
        return ExportSettings(
            output=Path(self.output.text().strip()).expanduser(),
            factor=factor,
            fps=fps,
            start=first,
            end=last,
            codec=self.codec.currentData(),
            crf=self.crf.value(),
            audio=self.audio.isChecked(),
            scene_threshold=self.threshold.value(),
            depth=DEFAULT_DEPTH,
            # a model that takes the time makes each frame in one pass at its exact time
            exact_times=takes_time(self.midpoint),
            keep_duration=self.keep_duration.isChecked(),
            slow_motion=self.by_factor.isChecked() and self.slow_motion.isChecked(),
            overwrite=self.overwrite.isChecked(),
            overrides=within(self.overrides(), first, last),
        )

    # ----- running ------------------------------------------------------------------------
    def start(self) -> None:
        """Check the settings (a mistake is shown here and nothing starts), then export."""
        if self.is_running():
            return
        self.show_overrides()
        try:
            settings = self.settings()
            _, _, plan = prepare_export(self.clip, settings)
        except DSepConvError as exc:
            self.progress.setValue(0)
            self.report.hide()
            self._refused(exc)
            return
        total = len(plan.frames)
        self.progress.setRange(0, total)
        self.progress.setValue(0)
        self.report.hide()
        self._show_status(f"Exporting {total} frames to {settings.output}…")
        clip, midpoint = self.clip, self.midpoint

        def job(context: JobContext) -> ExportSummary:
            def report(p) -> None:
                eta = format_duration(p.eta)
                context.progress(p.done, p.total, f"{p.fps:.1f} frames/s, {eta} left")

            return export_clip(clip, settings, midpoint, report)

        self.job = self.jobs.start(job, "export")
        self.job.progress.connect(self._on_progress)
        self.job.returned.connect(self._on_result)
        self.job.errored.connect(self._on_failed)
        handle = weakref.ref(self.job)  # a connection must not keep the job alive (see jobs.py)
        self.job.finished.connect(lambda: handle() is self.job and self._set_running(False))
        self._set_running(True)

    def _refused(self, exc: DSepConvError) -> None:
        """Why an export did not start, in the dialog's words."""
        if isinstance(exc, OutputExistsError):
            self._show_status(
                f"{exc.path} already exists: tick \u201cReplace the file if it exists\u201d to "
                "replace it, or choose another name.",
                error=True,
            )
        else:
            self._show_status(str(exc), error=True)

    def _cancelled(self) -> None:
        self._show_status("Export cancelled: nothing was written, any earlier file is untouched.")

    # ----- job events ---------------------------------------------------------------------
    def _on_progress(self, done: int, total: int, text: str) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        self.status.setText(f"{done} / {total} frames · {text}")

    def _on_result(self, summary) -> None:
        self.summary = summary
        self.progress.setValue(self.progress.maximum())
        self._show_status(f"Done: {summary.output}")
        self.report.setPlainText(summary.describe())
        self.report.show()
        self.finished_export.emit(summary)

    def _on_failed(self, message: str) -> None:
        self._show_status(f"Export failed: {message}", error=True)

    def _set_running(self, running: bool) -> None:
        self.export_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)

    # ----- form behaviour -----------------------------------------------------------------
    def _on_codec(self) -> None:
        name = self.codec.currentData()
        self.crf.setEnabled(name == "h264")
        self._on_timing()  # which enables the audio choice where it can apply
        path = Path(self.output.text().strip())
        wanted = CODECS[name].suffix
        known = {suffix for codec in CODECS.values() for suffix in codec.suffixes}
        if path.suffix.lower() != wanted and (wanted or path.suffix.lower() in known):
            self.output.setText(str(path.with_suffix(wanted)))

    def _apply_preset(self) -> None:
        """Set the timing fields to the chosen preset (Custom leaves them as they are)."""
        index = self.preset.currentIndex()
        if index < len(EXPORT_PRESETS):
            preset = EXPORT_PRESETS[index]
            self._applying = True
            try:
                self.by_factor.setChecked(preset.factor is not None)
                self.by_rate.setChecked(preset.fps is not None)
                if preset.factor is not None:
                    self.factor.setCurrentText(factor_label(preset.factor))
                    self.keep_duration.setChecked(preset.keep_duration)
                    self.slow_motion.setChecked(preset.slow_motion)
                else:
                    self.rate.setCurrentText(str(preset.fps))
            finally:
                self._applying = False
        self._on_timing()

    def _matching_preset(self) -> int:
        """The index of the preset the timing fields match, else that of Custom."""
        for index, preset in enumerate(EXPORT_PRESETS):
            if self.by_factor.isChecked() and preset.factor is not None:
                if (
                    parse_factor_label(self.factor.currentText()) == preset.factor
                    and self.keep_duration.isChecked() == preset.keep_duration
                    and self.slow_motion.isChecked() == preset.slow_motion
                ):
                    return index
            elif self.by_rate.isChecked() and preset.fps is not None:
                if self.rate.currentText().strip() == str(preset.fps):
                    return index
        return len(EXPORT_PRESETS)

    def _on_timing(self) -> None:
        by_factor = self.by_factor.isChecked()
        self.factor.setEnabled(by_factor)
        self.keep_duration.setEnabled(by_factor)
        self.slow_motion.setEnabled(by_factor)
        self.rate.setEnabled(self.by_rate.isChecked())
        self.audio.setEnabled(
            not (by_factor and self.slow_motion.isChecked())
            and self.codec.currentData() != "png"
            and self.has_audio
        )
        if not getattr(self, "_applying", False):
            self.preset.blockSignals(True)
            self.preset.setCurrentIndex(self._matching_preset())
            self.preset.blockSignals(False)
        self.outcome.setText(self._describe_outcome())

    def _describe_outcome(self) -> str:
        """What the timing gives, in plain words: the output's rate and duration."""
        try:
            settings = self.settings()
            first, last = settings.start, settings.end
            plan = make_plan(self.clip, settings, first, last)
        except DSepConvError as exc:
            return str(exc)
        rate = float(plan.rate)
        return (
            f"{len(plan.frames)} frames at {rate:.3g} fps, {plan.output_duration:.2f} s "
            f"(the input: {last - first + 1} frames at {self.clip.info.fps:.3g} fps, "
            f"{plan.input_duration:.2f} s)"
        )

    def _browse(self) -> None:
        name = self.codec.currentData()
        if name == "png":
            path = QFileDialog.getExistingDirectory(
                self, "Folder to hold the PNG folder", str(Path(self.output.text()).parent)
            )
            if path:
                self.output.setText(str(Path(path) / Path(self.output.text()).name))
            return
        path, _ = QFileDialog.getSaveFileName(
            self, "Export to", self.output.text(), f"Video (*{CODECS[name].suffix})"
        )
        if path:
            self.output.setText(path)
            self.overwrite.setChecked(Path(path).exists())  # the file dialog already asked

    def _default_output(self, codec: str) -> Path:
        """In the folder last exported to, else the user's videos folder (never beside the
        source, which may be a read-only dataset)."""
        folder = (
            self.folder if self.folder is not None and self.folder.is_dir() else videos_folder()
        )
        source = self.clip.info.path
        stem = source.stem if source.exists() else "demo"
        return folder / f"{stem}_interpolated{CODECS[codec].suffix}"

    def _show_status(self, text: str, error: bool = False) -> None:
        self.status.setStyleSheet("color: #b00020;" if error else "")
        self.status.setText(text)


def _row(*widgets: QWidget) -> QWidget:
    return _box(QHBoxLayout, widgets)


def _column(*widgets: QWidget) -> QWidget:
    return _box(QVBoxLayout, widgets)


def _box(layout_class, widgets) -> QWidget:
    box = QWidget()
    layout = layout_class(box)
    layout.setContentsMargins(0, 0, 0, 0)
    for widget in widgets:
        layout.addWidget(widget)
    return box


def reuse_or_open(
    previous: ExportDialog | None,
    clip: Clip,
    in_out: tuple[int, int],
    midpoint: Callable,
    parent: QWidget,
    folder: Path | None = None,
    overrides: Callable[[], tuple[Override, ...]] = tuple,
) -> ExportDialog:
    """One export dialog at a time: a running one is raised, otherwise a new one replaces it
    (with the clip, range and model of now) and is shown."""
    if previous is not None and previous.is_running():
        previous.show_overrides()
        previous.show()
        previous.raise_()
        previous.activateWindow()
        return previous
    if previous is not None:
        previous.deleteLater()
    dialog = ExportDialog(clip, in_out, midpoint, parent, folder, overrides)
    dialog.show()
    return dialog


def videos_folder() -> Path:
    """The user's videos folder (~/Videos on Linux), or the home folder without one."""
    location = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.MoviesLocation)
    folder = Path(location) if location else Path.home()
    return folder if folder.is_dir() else Path.home()
