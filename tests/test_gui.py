"""The desktop app driven with qtbot, offscreen: clips, timeline, interpolation in a worker,
views, the inspector, cancellation, a responsive event loop, errors, the screenshot mode."""

import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt, QTimer  # noqa: E402

from dsepconv_gui.frames.images import read_image
from dsepconv_gui.gui.main_window import MainWindow
from dsepconv_gui.gui.pair_options import LEARNED_SHIFT, LEARNED_TAP
from dsepconv_gui.gui.settings import AppSettings

from .conftest import TINY_SEARCHED
from .media import write_shapes_clip


@pytest.fixture
def clip_path(tmp_path):
    """A short video of moving shapes, written with the project's own writer."""
    return write_shapes_clip(tmp_path / "shapes.mp4", 8, height=96, width=128)


def window_from_settings(qtbot, settings_file):
    """A main window started from this settings file, closed with the test."""
    window = MainWindow(AppSettings(settings_file))
    qtbot.addWidget(window)
    return window


@pytest.fixture
def window(qtbot, tmp_path):
    settings_file = tmp_path / "settings.ini"
    settings_file.write_text("[General]\nmodel=random:tiny\ndevice=cpu\n")
    window = window_from_settings(qtbot, settings_file)
    window.show()
    yield window
    window.close()
    assert window.jobs.pool.activeThreadCount() == 0, "a worker is still running after close"


def open_and_wait(qtbot, window, path):
    with qtbot.waitSignal(window.clips_opened, timeout=30000) as opened:
        window.open_paths([path])
    return opened.args[0]


def test_open_step_interpolate_and_inspect(qtbot, window, clip_path):
    assert open_and_wait(qtbot, window, clip_path) == 1
    assert window.timeline.frame_count == 8
    assert "128×96" in window.clip_list.item(0).text()
    with qtbot.waitSignal(window.analysis_ready, timeout=30000):
        window.timeline.step(1)
    with qtbot.waitSignal(window.analysis_ready, timeout=30000) as ready:
        window.timeline.set_position(3)
    analysis = ready.args[0]
    assert (analysis.index_a, analysis.index_b) == (3, 4)
    for key in ("frame_a", "frame_b", "output", "result_a", "result_b", "offsets_a", "offsets_b"):
        assert window.pair_views.views[key].image.shape == (96, 128, 3), key
    assert window.pair_views.views["mask_a"].image.shape == (96, 128)
    # each frame's total weight beside its mask: what the view shows is Σ v·h·m of that frame
    term_a = analysis.result.terms[0]
    expected = np.einsum(
        "ihw,jhw,ijhw->hw",
        term_a.vertical,
        term_a.horizontal,
        term_a.mask.reshape(n := analysis.result.kernel_size, n, 96, 128),
    )
    np.testing.assert_allclose(
        window.pair_views.views["weight_a"].image, expected, rtol=1e-4, atol=1e-5
    )
    assert window.pair_views.views["weight_b"].image.shape == (96, 128)

    window.pair_views.views["output"].clicked.emit(40.5, 20.5)
    n = analysis.result.kernel_size
    assert window.options.inspector.pixel == (20, 40)
    assert window.options.inspector.table.rowCount() == n * n
    xs, ys = window.pair_views.overlays[0].points.getData()
    assert len(xs) == n * n
    assert window.options.inspector.table.item(0, 0).text() == "(0,0)"

    # k and k+2: the truth exists, so the error view and PSNR appear.
    with qtbot.waitSignal(window.analysis_ready, timeout=30000) as ready:
        window.options.step_combo.setCurrentIndex(1)
    assert ready.args[0].psnr is not None
    assert "PSNR" in window.pair_views.views["error"].title.text()
    assert window.pair_views.views["error"].image.shape == (96, 128)


def test_keyboard_stepping_moves_the_playhead(qtbot, window, clip_path):
    open_and_wait(qtbot, window, clip_path)
    from PySide6.QtCore import Qt

    qtbot.keyClick(window, Qt.Key.Key_End)
    assert window.timeline.position == 7
    qtbot.keyClick(window, Qt.Key.Key_Left)
    assert window.timeline.position == 6
    qtbot.keyClick(window, Qt.Key.Key_Home)
    assert window.timeline.position == 0
    window.jobs.wait()


def test_comparison_shows_the_classical_interpolators(qtbot, window, clip_path):
    open_and_wait(qtbot, window, clip_path)
    with qtbot.waitSignal(window.analysis_ready, timeout=30000) as ready:
        window.options.compare_check.setChecked(True)
    assert set(ready.args[0].peers) == {"frame average", "DIS flow"}
    assert window.pair_views.views["peer_dis"].isVisible()
    assert window.pair_views.views["peer_dis"].image.shape == (96, 128, 3)


def test_cancel_stops_a_running_job(qtbot, window, clip_path):
    open_and_wait(qtbot, window, clip_path)
    window.jobs.wait()
    window.slowmo.factor.setCurrentText("×8")
    window.start_slow_motion()
    job, results, aborted = window.slots["slowmo"].job, [], []
    job.returned.connect(results.append)
    job.aborted.connect(lambda: aborted.append(True))
    assert window.slots["slowmo"].busy
    qtbot.waitUntil(lambda: window.slowmo.progress.isVisible(), timeout=10000)
    window.cancel_jobs()
    assert not window.slots["slowmo"].busy
    assert window.jobs.wait(30000)
    qtbot.waitUntil(lambda: aborted == [True], timeout=5000)
    assert results == []
    assert not window.slowmo.playing


def test_slow_motion_plays_the_range_with_inserted_frames(qtbot, window, clip_path):
    open_and_wait(qtbot, window, clip_path)
    window.timeline.set_position(2)
    window.timeline.set_in_point()
    window.timeline.set_position(4)
    window.timeline.set_out_point()
    window.slowmo.factor.setCurrentText("×4")
    window.slowmo.scale.setCurrentText("half (preview)")
    window.start_slow_motion()
    qtbot.waitUntil(lambda: window.slowmo.playing, timeout=60000)
    assert len(window.slowmo.frames) == 2 * 4 + 1
    assert window.slowmo.frames[0].shape == (48, 64, 3)
    assert "PREVIEW at 64×48" in window.slowmo.status.text()
    window.slowmo.stop()


def test_event_loop_keeps_running_during_interpolation(qtbot, window, clip_path):
    window.load_model("random:small", "cpu")
    open_and_wait(qtbot, window, clip_path)
    window.jobs.wait()
    ticks = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start()
    window.slowmo.factor.setCurrentText("×8")
    with qtbot.waitSignal(
        window.slots["slowmo"].busy_changed, timeout=120000, check_params_cb=lambda busy: not busy
    ):
        window.start_slow_motion()
    timer.stop()
    gaps = np.diff(ticks)
    assert len(ticks) > 20
    assert gaps.max() < 0.1, f"the UI stalled for {gaps.max() * 1000:.0f} ms"


def test_a_corrupt_clip_shows_a_message_and_a_good_one_still_works(
    qtbot, window, clip_path, tmp_path
):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"this is not a video" * 100)
    assert open_and_wait(qtbot, window, broken) == 0
    assert window.banner.isVisible() and "broken.mp4" in window.banner.label.text()
    with qtbot.waitSignal(window.analysis_ready, timeout=30000):
        assert open_and_wait(qtbot, window, clip_path) == 1


def test_a_bad_model_file_keeps_the_previous_model(qtbot, window, tmp_path):
    before = window.interpolator
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 100)
    assert not window.load_model(str(bad), "cpu")
    assert window.interpolator is before
    assert "bad.safetensors" in window.banner.label.text()


def test_settings_persist_between_runs(qtbot, tmp_path):
    settings_file = tmp_path / "s.ini"
    settings_file.write_text("[General]\nmodel=random:tiny\ndevice=cpu\n")
    first = window_from_settings(qtbot, settings_file)
    first.options.compare_check.setChecked(True)
    first.options.step_combo.setCurrentIndex(1)
    first.close()
    second = window_from_settings(qtbot, settings_file)
    assert second.options.compare_check.isChecked() and second.step == 2
    second.close()


def test_corrupt_settings_start_with_defaults(qtbot, tmp_path):
    settings_file = tmp_path / "s.ini"
    settings_file.write_bytes(b"\xff\xfe[General\x00\nstep=banana\nmodel=random:tiny\n")
    window = window_from_settings(qtbot, settings_file)
    assert window.step == 1
    window.close()


def test_screenshot_mode_writes_a_real_picture(tmp_path, clip_path):
    out = tmp_path / "shot.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", DSEPCONV_SETTINGS=str(tmp_path / "s.ini"))
    main = Path(__file__).resolve().parents[1] / "main.py"
    done = subprocess.run(
        [
            sys.executable,
            str(main),
            "--screenshot",
            str(out),
            "--model",
            "random:flow-small",
            "--device",
            "cpu",
            "--tab",
            "Offsets",
            "--offset-view",
            LEARNED_SHIFT,
            str(clip_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert "no offset view" not in done.stderr
    image = read_image(out)
    assert image.shape[0] > 300 and image.shape[1] > 600
    assert image.std() > 20  # not blank
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 1000


def test_dropping_files_opens_them(qtbot, window, clip_path):
    from PySide6.QtCore import QMimeData, QUrl

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(clip_path))])

    class Drop:
        def mimeData(self):
            return mime

    with qtbot.waitSignal(window.clips_opened, timeout=30000) as opened:
        window.dropEvent(Drop())
    assert opened.args[0] == 1 and window.clip_list.count() == 1


# ----- export dialog -------------------------------------------------------------------------


def open_export(qtbot, window, tmp_path, frames=10):
    from .media import write_square_clip

    path = write_square_clip(tmp_path / "square.mp4", frames=frames)
    open_and_wait(qtbot, window, path)
    window.timeline.set_position(2)
    window.timeline.set_in_point()
    window.timeline.set_position(6)
    window.timeline.set_out_point()
    qtbot.mouseClick(window.timeline.export_button, Qt.MouseButton.LeftButton)
    dialog = window.export_dialog
    assert dialog.isVisible() and dialog.ranged.isChecked()
    return dialog


def start_slow_export(qtbot, window, tmp_path, name: str, frames: int, whole: bool = False):
    """The export dialog exporting to tmp_path/name with a midpoint slowed to 0.05 s a frame,
    once its first progress arrived: (dialog, output path)."""
    dialog = open_export(qtbot, window, tmp_path, frames=frames)
    if whole:
        dialog.whole.setChecked(True)
    fast = dialog.midpoint
    dialog.midpoint = lambda a, b: (time.sleep(0.05), fast(a, b))[1]
    out = tmp_path / name
    dialog.output.setText(str(out))
    qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(dialog.job.progress, timeout=30000):
        pass
    return dialog, out


def test_export_dialog_writes_the_in_out_range_and_shows_the_summary(qtbot, window, tmp_path):
    from .media import decode

    dialog = open_export(qtbot, window, tmp_path)
    dialog.factor.setCurrentText("×4")
    out = tmp_path / "range_x4.mp4"
    dialog.output.setText(str(out))
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start(20)
    with qtbot.waitSignal(dialog.finished_export, timeout=60000) as done:
        qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    timer.stop()
    summary = done.args[0]
    frames, _, facts = decode(out)
    # the default preset keeps the duration: the 5 frames of the range become 5 × 4
    assert dialog.preset.currentText().startswith("Smoother: 4×")
    assert len(frames) == summary.frames_written == (6 - 2 + 1) * 4
    assert facts["audio_streams"] == 1
    assert dialog.report.isVisible() and "scene cuts: 0" in dialog.report.toPlainText()
    assert len(ticks) >= 2, "the event loop did not run during the export"


def test_export_dialog_cancel_leaves_nothing(qtbot, window, tmp_path):
    dialog, out = start_slow_export(qtbot, window, tmp_path, "cancelled.mp4", 24, whole=True)
    assert dialog.is_running() and dialog.cancel_button.isEnabled()
    qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    assert dialog.jobs.wait(30000)
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    assert "cancelled" in dialog.status.text()
    assert dialog.export_button.isEnabled()


def test_export_dialog_shows_mistakes_without_starting(qtbot, window, tmp_path):
    dialog = open_export(qtbot, window, tmp_path)
    dialog.output.setText(str(tmp_path / "no" / "such" / "folder.mp4"))
    qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    assert "does not exist" in dialog.status.text() and not dialog.is_running()
    dialog.by_rate.setChecked(True)
    dialog.rate.setCurrentText("fast")
    dialog.output.setText(str(tmp_path / "ok.mp4"))
    qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    assert "not a frame rate" in dialog.status.text() and not dialog.is_running()
    dialog.codec.setCurrentIndex(dialog.codec.findData("ffv1"))
    assert dialog.output.text().endswith(".mkv") and not dialog.crf.isEnabled()


def test_a_clip_that_says_to_show_it_rotated_is_shown_upright(qtbot, window, tmp_path):
    """The views read frames through the clip, which turns them as the file says (issue 12)."""
    from .test_picture_fidelity import pattern, write_rotated

    path = write_rotated(tmp_path / "portrait.mkv", 90)
    assert open_and_wait(qtbot, window, path) == 1
    assert "48×64" in window.clip_list.item(0).text()
    with qtbot.waitSignal(window.analysis_ready, timeout=30000) as ready:
        window.timeline.set_position(1)
    assert ready.args[0].index_a == 1
    assert np.array_equal(window.pair_views.views["frame_a"].image, np.rot90(pattern(1), 1))


def test_changing_the_device_or_model_during_an_export_does_not_cancel_it(qtbot, window, tmp_path):
    """The export runs on its dialog's own runner with the model it started with: the window
    switching model or device (which restarts the window's own jobs) leaves it running."""
    from .media import decode

    dialog, out = start_slow_export(qtbot, window, tmp_path, "kept.mp4", 12)
    aborted = []
    dialog.job.aborted.connect(lambda: aborted.append(True))
    with qtbot.waitSignal(dialog.finished_export, timeout=120000) as done:
        assert window.load_model("random:small", "cpu")
        window.device_combo.setCurrentText("auto")  # the device switch reloads the model too
        assert dialog.is_running()
    assert aborted == []
    frames, _, _ = decode(out)
    assert len(frames) == done.args[0].frames_written == (6 - 2 + 1) * 2


def test_escape_cancels_a_running_export_instead_of_hiding_it(qtbot, window, tmp_path):
    dialog, out = start_slow_export(qtbot, window, tmp_path, "escaped.mp4", 12)
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert not dialog.isVisible() and not dialog.is_running()
    assert dialog.jobs.wait(30000)
    assert not out.exists()


def test_an_idle_export_dialog_exports_with_the_model_loaded_now(qtbot, window, tmp_path):
    dialog = open_export(qtbot, window, tmp_path)
    assert dialog.midpoint is window.interpolator
    assert window.load_model("random:small", "cpu")
    assert dialog.midpoint is window.interpolator
    assert not dialog.settings().exact_times  # a midpoint model: bisection
    assert window.load_model("random:tiny-time", "cpu")
    assert dialog.settings().exact_times  # one pass per frame at its exact time


def test_the_precision_choice_reloads_the_model_and_a_refused_one_is_undone(
    qtbot, window, monkeypatch
):
    import torch

    from dsepconv_gui.base.errors import DeviceError
    from dsepconv_gui.model import device as device_module

    monkeypatch.setattr(device_module, "native_bfloat16", lambda: True)
    assert window.load_model("random:flow-small-light", "cpu")
    window.precision_combo.setCurrentText("float32")
    assert window.interpolator.device.network_dtype is None
    assert "bfloat16" not in window.model_status.device_label.text()
    window.precision_combo.setCurrentText("auto")
    assert window.interpolator.device.network_dtype == torch.bfloat16
    assert "bfloat16 network" in window.model_status.device_label.text()

    def refuse(*_args):
        raise DeviceError("precision 'bfloat16' is for the CPU")

    monkeypatch.setattr(window.session, "load_model", refuse)
    window.precision_combo.setCurrentText("bfloat16")
    assert window.precision_combo.currentText() == "auto"
    assert "for the CPU" in window.banner.label.text()


def test_a_saved_device_refused_at_start_falls_back_to_auto_and_says_why(qtbot, tmp_path):
    settings_file = tmp_path / "settings.ini"
    settings_file.write_text("[General]\nmodel=random:tiny\ndevice=cuda:7\nprecision=bfloat16\n")
    window = window_from_settings(qtbot, settings_file)
    assert window.interpolator is not None  # a model loaded: the window works
    assert window.device_combo.currentText() == window.precision_combo.currentText() == "auto"
    text = window.banner.label.text()
    assert "cuda:7" in text and "back on auto" in text


def test_a_saved_model_gone_at_start_loads_the_default_and_says_why(qtbot, tmp_path, monkeypatch):
    from .checkpoint_files import checkpoint_parts, write_checkpoint_file

    default = write_checkpoint_file(tmp_path / "default.safetensors", *checkpoint_parts())
    monkeypatch.setenv("DSEPCONV_MODEL", str(default))  # the default model, tiny for the test
    gone = tmp_path / "adapted.safetensors"
    settings_file = tmp_path / "settings.ini"
    settings_file.write_text(f"[General]\nmodel={gone}\ndevice=cpu\n")
    window = window_from_settings(qtbot, settings_file)
    text = window.banner.label.text()
    assert window.interpolator is not None, text
    assert "adapted.safetensors" in text and "the default model is loaded instead" in text


# ----- layout and feedback (issue 15) --------------------------------------------------------


def test_the_window_fits_a_laptop_screen_and_the_output_is_the_largest_view(
    qtbot, window, tmp_path
):
    path = write_shapes_clip(tmp_path / "hd.mp4", 4, height=720, width=1280)
    with qtbot.waitSignal(window.analysis_ready, timeout=60000):
        assert open_and_wait(qtbot, window, path) == 1
    qtbot.wait(50)
    minimum = window.minimumSizeHint()
    assert minimum.width() <= 1366 and minimum.height() <= 768, minimum
    views = window.pair_views.views
    areas = {key: v.width() * v.height() for key, v in views.items() if v.isVisible()}
    assert max(areas, key=areas.get) == "output", areas
    # a long title is cut, it does not widen its view
    before = views["frame_a"].minimumSizeHint().width()
    views["frame_a"].set_title("Frame A " + "with a very long title " * 20)
    assert views["frame_a"].minimumSizeHint().width() == before


def slow_flows(monkeypatch, seconds, started):
    """The interpolator's flows take `seconds` and announce each start on `started`."""
    import dsepconv_gui.interpolation.interpolator as interpolator_module

    real = interpolator_module.motion_for

    def slow(*args):
        started.append(time.monotonic())
        time.sleep(seconds)
        return real(*args)

    monkeypatch.setattr(interpolator_module, "motion_for", slow)


def test_frames_a_and_b_are_shown_before_the_interpolation_ends(
    qtbot, window, clip_path, monkeypatch
):
    with qtbot.waitSignal(window.analysis_ready, timeout=30000):  # waiting before it can come
        open_and_wait(qtbot, window, clip_path)
    slow_flows(monkeypatch, 1.0, [])
    views = window.pair_views.views
    with qtbot.waitSignal(window.analysis_ready, timeout=30000):
        window.timeline.set_position(4)
        assert views["output"].stale  # the previous result is dimmed at once
        qtbot.waitUntil(lambda: "frame 4" in views["frame_a"].title.text(), timeout=5000)
        # the inputs are there and current while the interpolation still runs
        assert not views["frame_a"].stale and views["output"].stale
        assert "computing" in views["output"].title.text()
    assert not views["output"].stale


def test_a_newer_request_stops_the_running_one_at_its_next_check_point(
    qtbot, window, clip_path, monkeypatch
):
    with qtbot.waitSignal(window.analysis_ready, timeout=30000):  # waiting before it can come
        open_and_wait(qtbot, window, clip_path)
    slow_flows(monkeypatch, 0.6, started := [])
    network_calls = []
    model = window.interpolator.model
    real_forward = model.forward
    monkeypatch.setattr(
        model, "forward", lambda *a, **k: network_calls.append(1) or real_forward(*a, **k)
    )
    window.timeline.set_position(2)
    stale = window.slots["analysis"].job
    ended = []
    stale.aborted.connect(lambda: ended.append(time.monotonic()))
    qtbot.waitUntil(lambda: len(started) == 1, timeout=5000)
    with qtbot.waitSignal(window.analysis_ready, timeout=30000) as ready:
        window.timeline.set_position(5)
        asked = time.monotonic()
    assert ready.args[0].index_a == 5
    qtbot.waitUntil(lambda: bool(ended), timeout=5000)
    # the stale job stopped after its flows, at the check point before the network: it never
    # ran the network, and it ended within its one stage (0.6 s) of being superseded
    assert len(network_calls) == 1
    assert ended[0] - asked < 0.6 + 0.3


def test_playback_compares_the_original_with_the_interpolated_sequence(qtbot, window, clip_path):
    from dsepconv_gui.gui.playback_panel import compose

    open_and_wait(qtbot, window, clip_path)
    panel = window.slowmo
    panel.factor.setCurrentText("×2")
    panel.scale.setCurrentText("full resolution")
    window.start_slow_motion()
    qtbot.waitUntil(lambda: panel.playing, timeout=60000)
    sequence = panel.sequence
    assert len(sequence.frames) == 7 * 2 + 1 and sequence.rate == 24
    assert sequence.original_of[:4] == [0, 0, 2, 2]  # the input frame last shown
    # at real speed the interpolated frames play at factor × the clip's rate (same duration)
    assert panel.playback_fps == 48
    panel.speed.setCurrentText("1/4 speed")
    assert panel.playback_fps == 12 and panel.timer.interval() == round(1000 / 12)

    original, between = sequence.frames[0], sequence.frames[1]
    panel.mode.setCurrentText("Side by side")
    side = panel.frame_at(1)
    assert side.shape == (96, 256, 3)
    assert np.array_equal(side[:, :128], original) and np.array_equal(side[:, 128:], between)
    panel.mode.setCurrentText("Wipe")
    assert panel.divider.isVisible()
    panel.divider.setValue(32)  # a quarter of the width, dragged by the user
    wiped = panel.frame_at(1)
    assert np.array_equal(wiped[:, :32], original[:, :32])
    assert np.array_equal(wiped[:, 32:], between[:, 32:])
    panel.mode.setCurrentText("Original")
    assert np.array_equal(panel.frame_at(1), original)
    assert np.array_equal(compose(original, between, "Interpolated", 0.5), between)
    panel.toggle_pause()
    assert not panel.playing and panel.stop_button.text() == "Play"
    panel.toggle_pause()
    assert panel.playing
    panel.stop()


def test_each_export_preset_does_what_its_words_say(qtbot, window, tmp_path):
    """Smoother: the rate × F, the duration kept. Slow motion: the input's rate, F × as long.
    Convert: the named rate, the duration kept. Checked on the written files."""
    from fractions import Fraction

    from dsepconv_gui.export.presets import EXPORT_PRESETS

    from .media import decode

    dialog = open_export(qtbot, window, tmp_path, frames=8)
    dialog.whole.setChecked(True)
    input_rate, input_duration = Fraction(24), 8 / 24
    for index, preset in enumerate(EXPORT_PRESETS):
        dialog.preset.setCurrentIndex(index)
        out = tmp_path / f"preset{index}.mp4"
        dialog.output.setText(str(out))
        with qtbot.waitSignal(dialog.finished_export, timeout=120000):
            qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
        frames, _, facts = decode(out)
        rate = facts["rate"]
        duration = len(frames) / rate
        assert rate == preset.output_rate(input_rate), preset.name
        wanted = input_duration * preset.duration_ratio()
        assert abs(duration - wanted) <= 1 / rate + 1e-9, (preset.name, duration, wanted)
        if preset.slow_motion:
            assert facts["audio_streams"] == 0 and "slow motion" in dialog.report.toPlainText()
        # the dialog says it beforehand, in the same numbers
        assert f"{float(rate):.3g} fps" in dialog.outcome.text(), dialog.outcome.text()


def test_export_dialog_speaks_its_own_language(qtbot, window, tmp_path):
    dialog = open_export(qtbot, window, tmp_path)
    taken = tmp_path / "taken.mp4"
    taken.write_bytes(b"mine")
    dialog.output.setText(str(taken))
    qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    text = dialog.status.text()
    assert "Replace the file if it exists" in text and "--overwrite" not in text
    assert taken.read_bytes() == b"mine"
    # editing a timing field leaves the preset for Custom; choosing a preset sets the fields
    dialog.slow_motion.setChecked(True)
    dialog.keep_duration.setChecked(True)
    dialog.factor.setCurrentText("×16")
    assert dialog.preset.currentText().startswith("Custom")
    dialog.preset.setCurrentIndex(2)
    assert dialog.slow_motion.isChecked() and dialog.factor.currentText() == "×2"
    assert not dialog.audio.isEnabled()  # slow motion cannot keep the sound
    # the default destination is not beside the source
    assert (
        Path(dialog._default_output("h264")).parent != Path(window.session.active.info.path).parent
    )


def test_zooming_the_main_view_shows_the_same_region_in_every_view(qtbot, window, clip_path):
    with qtbot.waitSignal(window.analysis_ready, timeout=30000):  # waiting before it can come
        open_and_wait(qtbot, window, clip_path)
    views = window.pair_views.views
    views["output"].viewbox.setRange(xRange=(40, 80), yRange=(30, 60), padding=0)
    window.pair_views.linker.sync_from(views["output"])
    for key in ("frame_a", "mask_b", "offsets_a", "error"):
        (x0, x1), (y0, y1) = views[key].viewbox.viewRange()
        assert x0 <= 40.5 and x1 >= 79.5 and y0 <= 30.5 and y1 >= 59.5, key  # all of the region
        assert abs((x0 + x1) / 2 - 60) < 1 and abs((y0 + y1) / 2 - 45) < 1, key  # same centre


def test_each_clip_keeps_its_playhead_and_in_out_points(qtbot, window, clip_path, tmp_path):
    other = write_shapes_clip(tmp_path / "other.mp4", 6, height=48, width=64)
    open_and_wait(qtbot, window, clip_path)
    window.timeline.set_position(2)
    window.timeline.set_in_point()
    window.timeline.set_position(5)
    window.timeline.set_out_point()
    open_and_wait(qtbot, window, other)  # becomes the active clip
    assert window.timeline.in_out == (0, 5) and window.timeline.position == 0
    window.clip_list.setCurrentRow(0)
    assert window.timeline.in_out == (2, 5) and window.timeline.position == 5
    window.jobs.wait()


def test_a_click_on_the_slider_groove_moves_the_playhead_there(qtbot, window, clip_path):
    from PySide6.QtCore import QPoint

    open_and_wait(qtbot, window, clip_path)
    slider = window.timeline.slider
    slider.resize(400, slider.height())
    qtbot.mouseClick(slider, Qt.MouseButton.LeftButton, pos=QPoint(390, slider.height() // 2))
    assert slider.value() == slider.maximum() == 7  # not one page of 10 from 0
    window.jobs.wait()


def test_help_recent_files_and_open_folder(qtbot, window, clip_path, tmp_path, monkeypatch):
    from dsepconv_gui.frames.demo import render_demo_frames
    from dsepconv_gui.frames.images import write_image
    from dsepconv_gui.gui import file_choosers, help_menu

    html = help_menu.shortcuts_html()
    assert "Right" in html and "set the in point" in html and "Ctrl+E" in html
    about = help_menu.about_html(window.interpolator)
    assert "Model:" in about and "Model card" in about and "models/README.md" in about
    menus = [action.text() for action in window.menuBar().actions()]
    assert menus == ["&File", "&View", "&Help"]

    open_and_wait(qtbot, window, clip_path)
    assert [a.text() for a in window.toolbar.recent_menu.actions()] == [str(clip_path)]
    assert window.settings.recent() == [str(clip_path)]

    folder = tmp_path / "frames"
    folder.mkdir()
    for i, frame in enumerate(render_demo_frames(3, height=32, width=48)):
        write_image(folder / f"{i:04d}.png", frame)
    monkeypatch.setattr(file_choosers.QFileDialog, "getExistingDirectory", lambda *a: str(folder))
    with qtbot.waitSignal(window.clips_opened, timeout=30000) as opened:
        window.open_folder_dialog()
    assert opened.args[0] == 1 and "48×32" in window.clip_list.item(1).text()
    assert window.settings.recent()[0] == str(folder)
    window.jobs.wait()


def test_the_pairs_internals_are_saved_for_compositing_tools(qtbot, window, clip_path, tmp_path):
    from dsepconv_gui.frames.field_files import read_exr

    with qtbot.waitSignal(window.analysis_ready, timeout=30000):  # waiting before it can come
        open_and_wait(qtbot, window, clip_path)
    manifest = window.save_internals(tmp_path / "internals")
    assert manifest is not None and manifest.exists()
    motion = read_exr(tmp_path / "internals" / "motion.exr")
    assert motion["forward.u"].shape == (96, 128)
    assert (tmp_path / "internals" / "frame1_mean_displacement.flo").exists()
    source = json.loads(manifest.read_text())["source"]
    assert source["clip"] == str(clip_path) and source["frame_b"] == source["frame_a"] + 1


def test_in_and_out_points_move_along_and_a_one_frame_range_is_explained(qtbot, window, clip_path):
    open_and_wait(qtbot, window, clip_path)
    timeline = window.timeline
    timeline.set_position(1)
    timeline.set_in_point()
    timeline.set_position(2)
    timeline.set_out_point()
    timeline.set_position(5)
    timeline.set_in_point()  # past the out point: the out point follows
    assert timeline.in_out == (5, 5)
    timeline.set_position(6)
    timeline.set_out_point()
    assert timeline.in_out == (5, 6)
    timeline.set_position(3)
    timeline.set_out_point()  # before the in point: the in point follows
    assert timeline.in_out == (3, 3)
    window.start_slow_motion()
    assert "holds one frame" in window.banner.label.text() and not window.slots["slowmo"].busy
    window.jobs.wait()


def test_opening_a_clip_already_open_selects_it(qtbot, window, clip_path, tmp_path):
    other = write_shapes_clip(tmp_path / "other.mp4", 4, height=48, width=64)
    open_and_wait(qtbot, window, clip_path)
    open_and_wait(qtbot, window, other)
    assert window.clip_list.currentRow() == 1
    window.open_paths([clip_path])  # from Open recent, say
    assert window.clip_list.count() == 2 and window.clip_list.currentRow() == 0
    window.jobs.wait()


# --- the quality strip, export overrides and adapting the model ----------------------------


def check_and_wait(qtbot, window):
    window.clip_quality.check()
    job = window.slots["quality"].job
    with qtbot.waitSignal(job.finished, timeout=60000):
        pass


def test_the_quality_strip_scores_the_range_and_a_click_shows_the_pair(qtbot, window, clip_path):
    open_and_wait(qtbot, window, clip_path)
    check_and_wait(qtbot, window)
    strip = window.quality
    assert [r.frame for r in strip.results] == list(range(1, 7))
    assert strip.run is not None and "6 frames scored" in strip.summary.text()
    assert len(strip._items) == 3  # this model, OpenCV DIS, the frame average
    with qtbot.waitSignal(window.analysis_ready, timeout=30000) as ready:
        strip.choose(4)
    analysis = ready.args[0]
    assert (analysis.index_a, analysis.index_b) == (3, 5)  # frame 4 is the truth
    assert analysis.psnr is not None
    assert strip.selected == (3, 5)


def test_overrides_from_the_strip_reach_the_export(qtbot, window, clip_path):
    from dsepconv_gui.export.overrides import Override

    open_and_wait(qtbot, window, clip_path)
    window.quality.selection.setRegion((2, 5))
    window.quality.repeat_button.click()
    window.quality.selection.setRegion((4, 6))
    window.quality.blend_button.click()  # replaces the overlapping one
    assert window.session.overrides() == (Override(4, 6, "blend"),)
    window.quality.selection.setRegion((3, 3))
    window.quality.repeat_button.click()  # one frame: refused, said, nothing lost
    assert "two frames or more" in window.banner.label.text()
    assert window.session.overrides() == (Override(4, 6, "blend"),)
    dialog = window.open_export_dialog()
    assert dialog.settings().overrides == (Override(4, 6, "blend"),)
    dialog.close()
    window.quality.clear_button.click()
    assert window.session.overrides() == ()


def test_adapting_from_the_app_reports_and_offers_the_adapted_model(qtbot, window, tmp_path):
    path = write_shapes_clip(tmp_path / "longer.mp4", 24, height=96, width=128)
    open_and_wait(qtbot, window, path)
    window.load_model("random:flow-small", "cpu")
    dialog = window.clip_quality.open_adapt_dialog()
    dialog.folder = tmp_path / "adapted"
    dialog.minutes.setValue(0.1)
    dialog.start()
    assert dialog.is_running() and not dialog.start_button.isEnabled()
    with qtbot.waitSignal(dialog.job.finished, timeout=90000):
        pass
    assert "held-out PSNR" in dialog.report.toPlainText() and dialog.status.text()
    result = dialog.adapted.result
    assert dialog.use_button.isEnabled() == result.kept
    if result.kept:
        assert dialog.adapted.path.exists()
        dialog.use_button.click()
        assert window.interpolator.loaded.source == str(dialog.adapted.path)
    window.jobs.wait()


def test_adapting_a_clip_too_short_says_why(qtbot, window, clip_path):
    open_and_wait(qtbot, window, clip_path)
    dialog = window.clip_quality.open_adapt_dialog()
    dialog.start()
    with qtbot.waitSignal(dialog.job.finished, timeout=30000):
        pass
    assert "at least 10 frames" in dialog.status.text()
    assert not dialog.use_button.isEnabled()


def test_the_strip_keeps_the_run_of_the_model_before_adapting(qtbot):
    from dsepconv_gui.gui.clip_quality_work import QualityRun
    from dsepconv_gui.gui.quality_strip import QualityStrip
    from dsepconv_gui.interpolation.quality_check import MODEL, FrameQuality, summarise

    strip = QualityStrip()
    qtbot.addWidget(strip)
    clip = object()

    def run(model: str, psnr: float) -> QualityRun:
        results = [FrameQuality(k, {MODEL: psnr}, {MODEL: psnr - 5}) for k in range(1, 6)]
        return QualityRun(clip, model, (0, 6), results, summarise(results))

    strip.set_clip(7, ())
    strip.finished(run("shipped.safetensors", 30.0))
    assert strip.before is None
    strip.finished(run("clip-adapted.safetensors", 30.4))
    assert strip.before is not None and strip.before.model == "shipped.safetensors"
    assert "Against the previous model (dashed): +0.40 dB" in strip.summary.text()
    assert any(getattr(item, "name", lambda: None)() == "before adapting" for item in strip._items)


def test_a_model_that_takes_the_time_is_inspected_at_the_time_chosen(qtbot, window, clip_path):
    """The time slider is off for a midpoint model; with a model that takes the time, the pair
    is made at the slider's time, and with 'k and k+4' the frame there is the truth."""
    options = window.options
    assert not options.time_slider.isEnabled() and options.time == 0.5
    assert "middle only" in options.time_label.text()
    with qtbot.waitSignal(window.analysis_ready, timeout=30000):  # waiting before it can come
        open_and_wait(qtbot, window, clip_path)
    with qtbot.waitSignal(window.analysis_ready, timeout=30000):
        assert window.load_model("random:tiny-time", "cpu")
    assert options.time_slider.isEnabled()
    with qtbot.waitSignal(window.analysis_ready, timeout=30000):
        options.set_step(4)
    with qtbot.waitSignal(window.analysis_ready, timeout=30000) as ready:
        options.time_slider.setValue(4)  # a quarter of the way
    analysis = ready.args[0]
    assert analysis.time == 0.25
    assert (analysis.index_a, analysis.index_b) == (analysis.index_a, analysis.index_a + 4)
    assert analysis.truth_index == analysis.index_a + 1 and analysis.psnr is not None
    assert "t = 0.25" in window.pair_views.views["output"].title.text()
    with qtbot.waitSignal(window.analysis_ready, timeout=30000) as ready:
        options.time_slider.setValue(6)  # 3/8: no frame of the clip there
    assert ready.args[0].truth is None


def test_the_offset_views_show_what_the_network_adds_to_the_flow(
    qtbot, window, clip_path, tmp_path
):
    import torch

    from dsepconv_gui.model.checkpoint import save_checkpoint
    from dsepconv_gui.model.network import DSepConvNet

    model = DSepConvNet(dataclasses.replace(TINY_SEARCHED, gated_offsets=True))
    with torch.no_grad():  # every tap 2 px off the prior wherever the gate is open
        for head in (model.offset_y1, model.offset_x1, model.offset_y2, model.offset_x2):
            head[-1].bias.fill_(2.0)
    path = save_checkpoint(tmp_path / "gated.safetensors", model)
    open_and_wait(qtbot, window, clip_path)
    assert LEARNED_SHIFT not in [window.options.tap_combo.itemText(i) for i in range(3)]
    with qtbot.waitSignal(window.analysis_ready, timeout=30000) as ready:
        window.load_model(str(path), "cpu")
    analysis = ready.args[0]
    window.options.tap_combo.setCurrentText(LEARNED_SHIFT)
    assert window.options.tap == LEARNED_TAP
    assert window.pair_views.views["offsets_a"].title.text().startswith("A: learned")
    dy, dx = analysis.learned_shifts[0]
    np.testing.assert_allclose(dy, dx, atol=1e-4)  # 2 × the gate, in both directions
    assert dy.min() > -1e-4 and dy.max() < 2 + 1e-4
    assert (np.abs(dy) < 1e-4).mean() > 0.25  # where the frames agree the flow is trusted
    assert dy.max() > 1.0  # where the shapes move over it, the warps disagree
    mean_y = analysis.mean_displacements[0][0]
    assert not np.allclose(mean_y, dy)
    drawn = window.pair_views.views["offsets_a"].image
    assert (drawn[np.abs(dy) < 1e-4] == 255).all()  # white where nothing was added
    assert (drawn[dy > 1.0] < 200).any()


def test_an_unknown_screenshot_tab_or_size_is_refused_clearly(capsys):
    from dsepconv_gui.gui.app import parse_arguments

    with pytest.raises(SystemExit):
        parse_arguments(["--screenshot", "out.png", "--tab", "Masks"])
    message = capsys.readouterr().err
    assert "invalid choice: 'Masks'" in message and "'Masks and weights'" in message
    assert parse_arguments(["--tab", "Masks and weights"]).tab == "Masks and weights"
    for size in ("1920", "axb", "0x10"):
        with pytest.raises(SystemExit):
            parse_arguments(["--size", size])
        assert "--size" in capsys.readouterr().err
    assert parse_arguments(["--size", "1366X768"]).size == (1366, 768)
