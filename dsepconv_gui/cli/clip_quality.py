"""`dsepconv check` (a quality timeline from the clip's own frames) and `dsepconv adapt`
(fine-tuning the model on the clip, kept only if it is better on frames held out)."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager


def add_parsers(commands, add_model_options) -> None:
    p = commands.add_parser(
        "check",
        help="score the interpolation on the clip's own frames, before a long export",
        description="Interpolates frame k+1 from frames k and k+2 for every k in the range and "
        "compares it with the real frame k+1: a per-frame PSNR and worst-region PSNR (the worst "
        "1%% of 16-pixel blocks) for this model, OpenCV DIS and the frame average. Frames next "
        "to a shot cut are skipped. The pairs hold twice the motion of an export's: the scores "
        "rank where the clip is hard, they do not predict the export's PSNR.",
    )
    p.add_argument("clip", help="video file or folder of numbered images")
    p.add_argument("--range", default=None, help="frames START:END (inclusive) or seconds 1.5s:4s")
    p.add_argument("--json", default=None, help="write the per-frame scores to this JSON file")
    p.add_argument(
        "--max-side",
        type=int,
        default=None,
        help="check at preview size: the long side at most this many pixels (default 640; "
        "0: full size)",
    )
    p.add_argument("--no-compare", action="store_true", help="score the model only")
    add_model_options(p)

    p = commands.add_parser(
        "adapt",
        help="fine-tune the model on the clip's own frames (kept only if it gets better)",
        description="Self-supervised fine-tuning on the clip's triplets (frame k+s is the true "
        "middle of k and k+2s, strides 1 and 2; shot cuts and still triplets skipped), starting "
        "from the model. Every 5th frame is held out: no training triplet contains it, and the "
        "stride-1 triplets around those frames score the model before and after. The adapted "
        "file is written only if it scores better. Ctrl-C ends the training early and keeps "
        "what was learned if it is better; a second Ctrl-C quits.",
    )
    p.add_argument("clip", help="video file or folder of numbered images")
    p.add_argument("-o", "--output", required=True, help="the adapted model (.safetensors)")
    p.add_argument(
        "--minutes",
        type=float,
        default=5.0,
        help="time for everything: reading, flows, training and scoring (default 5)",
    )
    p.add_argument("--range", default=None, help="frames START:END (inclusive) or seconds 1.5s:4s")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--model", default=None, help="the model to start from (default: the shipped model)"
    )


def run_check(args: argparse.Namespace) -> None:
    from pathlib import Path

    from dsepconv_gui.base.errors import InputError
    from dsepconv_gui.base.progress_bar import Progress
    from dsepconv_gui.base.safe_output import atomic_file, check_output
    from dsepconv_gui.cli.main import load_interpolator, parse_range
    from dsepconv_gui.interpolation.quality_check import (
        DEFAULT_MAX_SIDE,
        check_clip,
        summarise,
        to_json,
    )
    from dsepconv_gui.video.clips import open_clip

    if args.max_side is not None and args.max_side < 0:
        raise InputError(f"--max-side must be 0 (full size) or more, got {args.max_side}")
    json_path = Path(args.json) if args.json else None
    if json_path is not None:
        check_output(json_path, overwrite=True, inputs=[Path(args.clip)])
    clip = open_clip(args.clip)
    try:
        first, last = parse_range(args.range, clip)
        last = len(clip) - 1 if last is None else min(last, len(clip) - 1)
        if first > last:
            raise InputError(
                f"--range starts at frame {first}, after the clip's last frame ({last})"
            )
        max_side = DEFAULT_MAX_SIDE if args.max_side is None else (args.max_side or None)
        interpolator = load_interpolator(args.model, args.device, args.tile, args.precision)
        print(
            f"{args.clip}: {clip.info.describe()}; checking frames {first}–{last}; "
            f"model {interpolator.loaded.source} on {interpolator.device}",
            file=sys.stderr,
        )
        results = []
        bar = Progress(max(1, last - first - 1), unit="frames")
        compare = {} if args.no_compare else None
        for quality in check_clip(clip, interpolator, first, last, max_side, compare):
            results.append(quality)
            bar.update(len(results))
    finally:
        clip.close()
    print(file=sys.stderr)
    summary = summarise(results)
    print(summary.describe())
    if json_path is not None:
        with atomic_file(json_path) as tmp:
            tmp.write_text(json.dumps(to_json(results, summary, str(args.clip)), indent=1))
        print(f"per-frame scores: {json_path}")


def run_adapt(args: argparse.Namespace) -> None:
    from pathlib import Path

    import torch

    from dsepconv_gui.base.errors import InputError
    from dsepconv_gui.base.progress_bar import format_duration
    from dsepconv_gui.base.safe_output import check_output
    from dsepconv_gui.cli.main import parse_range
    from dsepconv_gui.model.weights import resolve_model
    from dsepconv_gui.training.adaptation import AdaptOptions, adapt_to_clip, save_adapted
    from dsepconv_gui.video.clips import open_clip

    output = Path(args.output)
    if output.suffix != ".safetensors":
        raise InputError(f"{output}: the adapted model is a .safetensors file")
    if not args.minutes > 0:
        raise InputError(f"--minutes must be more than 0, got {args.minutes}")
    check_output(output, args.overwrite, [Path(args.clip)])
    clip = open_clip(args.clip)
    stop = threading.Event()
    try:
        first, last = parse_range(args.range, clip)
        loaded, warning = resolve_model(args.model, torch.device("cpu"))
        if warning:
            print(f"warning: {warning}", file=sys.stderr)
        options = AdaptOptions(seconds=60 * args.minutes, first=first, last=last, seed=args.seed)
        print(
            f"{args.clip}: {clip.info.describe()}; adapting {loaded.source} for "
            f"{args.minutes:g} minutes (Ctrl-C: stop early and keep what was learned)",
            file=sys.stderr,
        )
        last_stage = [""]

        def progress(p) -> None:
            if p.stage != last_stage[0] or p.done == p.total or sys.stderr.isatty():
                end = "\n" if p.done == p.total else ""
                print(
                    f"\r{p.stage}: {p.done}/{p.total}, {format_duration(p.seconds_left)} left",
                    end=end,
                    file=sys.stderr,
                    flush=True,
                )
                last_stage[0] = p.stage

        with _first_ctrl_c_stops(stop):
            result = adapt_to_clip(loaded, clip, options, progress, stop.is_set)
    finally:
        clip.close()
    print(file=sys.stderr)
    print(f"{args.clip}: {result.describe()}")
    if result.model is None:
        print(f"{output}: not written (keep using {loaded.source})")
        return
    save_adapted(output, result, str(args.clip), loaded.source, options)
    print(f"{output}: the adapted model; use it with --model {output}")


@contextmanager
def _first_ctrl_c_stops(stop: threading.Event) -> Iterator[None]:
    """While adapting, the first Ctrl-C sets `stop` (the training ends and what was learned is
    scored); a second one interrupts as usual. Outside the main thread: nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        print("\nstopping: scoring what was learned so far (Ctrl-C again to quit)", file=sys.stderr)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
