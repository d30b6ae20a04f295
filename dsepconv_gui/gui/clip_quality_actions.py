"""The quality strip's actions in the window: checking the in/out range, showing the pair of a
score, the export overrides of the active clip, and the dialog that adapts the model to it."""

from __future__ import annotations

import weakref
from collections.abc import Callable

from dsepconv_gui.base.errors import DSepConvError
from dsepconv_gui.export.overrides import FALLBACKS, Override
from dsepconv_gui.gui.adapt_dialog import AdaptDialog
from dsepconv_gui.gui.clip_quality_work import quality_job
from dsepconv_gui.gui.jobs import Job


class ClipQualityActions:
    """Wires window.quality (a QualityStrip) to the window's session, timeline and jobs;
    start_job(name, fn) runs a job in the window's slot of that name."""

    def __init__(self, window, start_job: Callable[[str, Callable], Job]) -> None:
        self.window, self.start_job, self.strip = window, start_job, window.quality
        self.adapt_dialog: AdaptDialog | None = None
        for signal, handler in (
            (self.strip.check_requested, self.check),
            (self.strip.cancel_requested, window.slots["quality"].cancel),
            (self.strip.frame_chosen, self.show_checked_frame),
            (self.strip.override_requested, self.add_override),
            (self.strip.overrides_cleared, self.clear_overrides),
            (self.strip.adapt_requested, self.open_adapt_dialog),
        ):
            signal.connect(handler)

    def close(self) -> None:
        """The window closes: a running adaptation is cancelled (nothing is kept)."""
        if self.adapt_dialog is not None:
            self.adapt_dialog.close()
            self.adapt_dialog.jobs.wait()

    def check(self) -> None:
        """Score the in/out range against the clip's own frames; the strip fills as it goes."""
        clip, interpolator, in_out = (
            self.window.session.active,
            self.window.interpolator,
            self.window.timeline.in_out,
        )
        if clip is None or interpolator is None:
            self.window.banner.show_message(
                "Open a clip and load a model before checking its quality"
            )
            return
        if in_out[1] - in_out[0] < 2:
            self.window.banner.show_message("The in/out range needs three frames or more to check")
            return
        job = self.start_job("quality", quality_job(clip, interpolator, in_out))
        self.strip.started(in_out)
        handle = weakref.ref(job)  # a connection must not keep the job alive (see jobs.py)

        def current() -> bool:  # a check stopped by a newer one must not touch the strip
            return handle() is self.window.slots["quality"].job

        job.yielded.connect(lambda quality: current() and self.strip.add(quality))
        job.returned.connect(lambda run: current() and self.strip.finished(run))
        for ended in (job.aborted, job.errored):
            ended.connect(lambda *_: current() and self.strip.finished(None))

    def show_checked_frame(self, frame: int) -> None:
        """Show the pair a quality score came from: frames k - 1 and k + 1, with k the truth."""
        self.window.options.set_step(2)
        self.window.timeline.set_position(frame - 1)

    def add_override(self, first: int, last: int, fallback: str) -> None:
        try:
            overrides = self.window.session.add_override(Override(first, last, fallback))
        except DSepConvError as exc:
            self.window.banner.show_message(
                f"{exc}: drag the selection's edges in the quality strip"
            )
            return
        self.strip.set_overrides(overrides)
        self._refresh_export_dialog()
        self.window.statusBar().showMessage(
            f"Exports will {FALLBACKS[fallback]} in {first}–{last}", 6000
        )

    def clear_overrides(self) -> None:
        self.window.session.clear_overrides()
        self.strip.set_overrides(())
        self._refresh_export_dialog()

    def _refresh_export_dialog(self) -> None:
        if self.window.export_dialog is not None:
            self.window.export_dialog.show_overrides()

    def open_adapt_dialog(self) -> AdaptDialog | None:
        clip, interpolator = self.window.session.active, self.window.interpolator
        if clip is None or interpolator is None:
            self.window.banner.show_message("Open a clip and load a model before adapting it")
            return None
        if self.adapt_dialog is not None and self.adapt_dialog.is_running():
            self.adapt_dialog.raise_()
            return self.adapt_dialog
        if self.adapt_dialog is not None:
            self.adapt_dialog.deleteLater()
        self.adapt_dialog = AdaptDialog(
            clip, self.window.timeline.in_out, interpolator, self.window
        )
        self.adapt_dialog.use_model.connect(self._use_adapted_model)
        self.adapt_dialog.show()
        return self.adapt_dialog

    def _use_adapted_model(self, path: str) -> None:
        """Interpolate with the adapted model; a checked range is checked again (the strip
        then shows before and after)."""
        if self.window.load_model(path, self.window.device_combo.currentText()) and self.strip.run:
            self.check()
