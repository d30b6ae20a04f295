"""Starting the app: `python main.py [CLIP ...] [--screenshot OUT.png]`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from dsepconv_gui.base.errors import InputError
from dsepconv_gui.base.sizes import parse_width_height
from dsepconv_gui.gui.main_window import MainWindow
from dsepconv_gui.gui.pair_views import TABS


def window_size(text: str) -> tuple[int, int]:
    """--size: "WxH" as (width, height)."""
    try:
        return parse_width_height(text)
    except InputError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="main.py", description="DSepConv frame interpolation inspector"
    )
    parser.add_argument(
        "clips", nargs="*", type=Path, help="video files or folders of numbered images"
    )
    parser.add_argument(
        "--screenshot",
        type=Path,
        metavar="OUT.png",
        help="open the clip (or the demo), interpolate the pair in the middle, inspect the centre "
        "pixel, save a screenshot of the window and exit",
    )
    parser.add_argument(
        "--frame", type=int, default=None, help="with --screenshot: the pair's first frame"
    )
    parser.add_argument(
        "--tab",
        default=None,
        choices=list(TABS),
        help="with --screenshot: the detail tab to show",
    )
    parser.add_argument(
        "--offset-view",
        default=None,
        metavar="VIEW",
        help="with --screenshot: what the offset views show, as the inspector's list names it "
        "(e.g. 'learned: what the network adds to the flow')",
    )
    parser.add_argument(
        "--size",
        default=None,
        type=window_size,
        metavar="WxH",
        help="with --screenshot: the window's size (e.g. 1920x1080 for the README's picture, "
        "1366x768 for a laptop's screen)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="with --screenshot: check the clip's quality first (the strip under the timeline) "
        "and, without --frame, show the pair of its worst frame",
    )
    parser.add_argument("--model", default=None, help="model file (default: the shipped model)")
    parser.add_argument("--device", default=None, help="auto, cpu or cuda:N")
    parser.add_argument(
        "--timeout",
        type=float,
        default=600,
        help="with --screenshot: give up after this many seconds",
    )
    return parser.parse_args(argv)


def run(argv: list[str] | None = None) -> int:
    args = parse_arguments(sys.argv[1:] if argv is None else argv)
    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setApplicationName("dsepconv_gui")
    window = MainWindow()
    if args.model is not None or args.device is not None:
        window.load_model(args.model, args.device or window.device_combo.currentText())
    if args.size:
        window.resize(*args.size)
    window.show()
    if args.clips:
        window.open_paths(args.clips)
    else:
        window.open_demo()
    if args.screenshot is None:
        return app.exec()
    return take_screenshot(app, window, args)


def take_screenshot(app: QApplication, window: MainWindow, args: argparse.Namespace) -> int:
    """Wait for the first clip and its analysis, inspect the centre pixel, save, quit."""
    outcome = {"code": 1}
    window.options.set_step(2)  # k and k+2: the truth and error views are filled too
    checked = {"done": not args.check}

    def on_opened(count: int) -> None:
        if count == 0:
            print("screenshot: no clip could be opened", file=sys.stderr)
            app.exit(1)
            return
        if args.check:
            window.clip_quality.check()
            job = window.slots["quality"].job
            if job is None:  # the banner says why (a range under three frames)
                print("screenshot: the quality check could not start", file=sys.stderr)
                window.close()
                app.exit(1)
                return
            job.finished.connect(after_check)
        else:
            show_pair()

    def after_check() -> None:
        checked["done"] = True
        run = window.quality.run
        if args.frame is None and run is not None and run.summary.worst_frames:
            window.quality.choose(run.summary.worst_frames[0])
        else:
            show_pair()

    def show_pair() -> None:
        frames = window.timeline.frame_count
        window.timeline.set_position(
            args.frame if args.frame is not None else max(0, frames // 2 - 1)
        )
        window.request_analysis()

    def on_analysis(analysis) -> None:
        if not checked["done"]:  # the pair shown while the check runs
            return
        h, w = analysis.result.frame.shape[:2]
        window.pair_views.inspect(h // 2, w // 2)
        window.pair_views.pinned = True
        if args.tab:
            window.pair_views.show_tab(args.tab)
        if args.offset_view:
            combo = window.options.tap_combo
            if combo.findText(args.offset_view) < 0:
                views = ", ".join(repr(combo.itemText(i)) for i in range(combo.count()))
                print(
                    f"screenshot: no offset view {args.offset_view!r}; this model's: {views}",
                    file=sys.stderr,
                )
                window.close()
                app.exit(1)
                return
            combo.setCurrentText(args.offset_view)
        QTimer.singleShot(300, save)

    def save() -> None:
        app.processEvents()
        if window.grab().save(str(args.screenshot)):
            print(f"screenshot: {args.screenshot}")
            outcome["code"] = 0
        else:
            print(f"screenshot: cannot write {args.screenshot}", file=sys.stderr)
        window.close()
        app.exit(outcome["code"])

    def on_failure(channel: str, message: str) -> None:
        if channel in ("analysis", "open", "quality"):
            print(f"screenshot: {message}", file=sys.stderr)
            window.close()
            app.exit(1)

    window.clips_opened.connect(on_opened)
    window.analysis_ready.connect(on_analysis)
    window.job_failed.connect(on_failure)
    if window.session.clips:  # the demo is added synchronously
        on_opened(len(window.session.clips))
    QTimer.singleShot(
        int(args.timeout * 1000),
        lambda: (print("screenshot: timed out", file=sys.stderr), window.close(), app.exit(1)),
    )
    app.exec()
    return outcome["code"]
