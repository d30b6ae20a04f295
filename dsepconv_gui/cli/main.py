"""The `dsepconv` command: headless interpolation and information, no Qt involved.

Errors a user can cause print one line to stderr and exit with status 2. Ctrl-C, SIGTERM and
SIGHUP stop a command the same way (partial outputs removed, one line, exit status 128 + the
signal's number: 130, 143, 129).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from dsepconv_gui import __version__
from dsepconv_gui.cli import clip_quality
from dsepconv_gui.interpolation.bisection import SUPPORTED_FACTORS, factor_label
from dsepconv_gui.model.config import PRESETS

EXIT_USER_ERROR = 2
EXIT_SIGNALLED = 128  # plus the signal's number, as shells report it (Ctrl-C: 130)


MODEL_HELP = (
    "model file (.safetensors); default: models/dsepconv.safetensors or $DSEPCONV_MODEL; "
    f"'random:PRESET' for an untrained network (presets: {', '.join(PRESETS)})"
)
DEVICE_HELP = "auto (CUDA when available, else CPU), cpu, cuda or cuda:N"
PRECISION_HELP = (
    "the network's precision on the CPU: auto (the default: bfloat16 where the CPU computes "
    "it natively, AVX512-BF16 or AMX: the network 1.3 to 1.6 times faster, the frames about "
    "70 dB from float32's), float32 or bfloat16; a GPU runs float32"
)


def add_output_option(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument("-o", "--output", type=Path, required=True, help=help_text)


def add_overwrite_option(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument("-y", "--overwrite", action="store_true", help=help_text)


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """--model, --device, --precision and --tile, shared by every command that runs a model."""
    parser.add_argument("--model", default=None, help=MODEL_HELP)
    parser.add_argument("--device", default="auto", help=DEVICE_HELP)
    parser.add_argument("--precision", default="auto", help=PRECISION_HELP)
    parser.add_argument(
        "--tile",
        type=int,
        default=None,
        metavar="PIXELS",
        help="interpolate frames larger than this in tiles of this side (default: from the "
        "memory available; a GPU out-of-memory error retries with smaller tiles)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dsepconv",
        description="Video frame interpolation with DSepConv (deformable separable convolution).",
    )
    parser.add_argument("--version", action="version", version=f"dsepconv {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = commands.add_parser(
        "interpolate",
        help="write the frame halfway between two images (or at --time, for a model that takes "
        "the time)",
    )
    p.add_argument("frame_a", type=Path, help="first frame (image file)")
    p.add_argument("frame_b", type=Path, help="second frame (image file, same size)")
    add_output_option(
        p,
        "output image (png, jpg, tif...); never one of the two frames",
    )
    add_model_options(p)
    p.add_argument(
        "--dump-intermediates",
        type=Path,
        metavar="DIR",
        default=None,
        help="also write kernels, offsets, masks and the two deformable results (.npy and .png) "
        "to DIR (a new or empty folder, or with --overwrite an existing one: only files of the "
        "same names are replaced)",
    )
    p.add_argument(
        "--time",
        type=float,
        default=0.5,
        metavar="T",
        help="where the frame lies between the two, 0 (FRAME_A) to 1 (FRAME_B); default 0.5. "
        "Other times need a model that takes the time (e.g. trained as flow-small-time)",
    )
    add_overwrite_option(
        p,
        "replace OUTPUT if it exists (only once complete), and the intermediates in DIR",
    )

    p = commands.add_parser(
        "export",
        help="write a smoother, slow-motion or retimed copy of a clip",
        description="Interpolate a whole clip (or a range) and write it as a video, with the "
        "input's audio. --factor F: F - 1 new frames between every two, so N input frames give "
        "(N - 1)·F + 1 frames at F × the input rate (the output is shorter than the input by "
        "F - 1 output frames; --keep-duration repeats the last frame F - 1 times so it lasts as "
        "long as the input; --slow-motion plays them at the input rate instead, F × longer); a "
        "variable-rate input keeps its own timestamps, the new frames evenly between them. "
        "--fps RATE: every output frame at its exact time m/RATE, made from the two input frames "
        "around it: in one pass at that time by a model that takes the time, else at the nearest "
        "timestep reachable by --depth bisections (an output frame on an input frame copies "
        "it). Frames are never blended across a scene cut: the nearer frame is repeated. The "
        "file is written beside OUTPUT and renamed into place when complete.",
    )
    p.add_argument("input", type=Path, help="video file or folder of numbered images")
    add_output_option(
        p,
        "output file (.mp4, .mov, .mkv) or, for --codec png, a new or empty folder",
    )
    timing = p.add_mutually_exclusive_group(required=True)
    timing.add_argument(
        "--factor",
        type=int,
        choices=SUPPORTED_FACTORS,
        help=f"slow motion {', '.join(factor_label(f) for f in SUPPORTED_FACTORS)}",
    )
    timing.add_argument(
        "--fps", type=str, metavar="RATE", help="target frame rate: 60, 50, 24, 23.976, 60000/1001"
    )
    add_model_options(p)
    p.add_argument(
        "--range",
        type=str,
        default=None,
        metavar="START:END",
        help="input frames START to END inclusive (0-based; either may be empty), "
        "or seconds with an s: 1.5s:4s",
    )
    p.add_argument(
        "--codec",
        default="h264",
        choices=("h264", "ffv1", "prores", "png"),
        help="h264 (default: MP4, yuv420p), ffv1 (lossless, .mkv), prores (.mov), png (folder)",
    )
    p.add_argument(
        "--crf", type=int, default=18, help="H.264 quality, 0 (lossless) to 51 (default 18)"
    )
    p.add_argument("--no-audio", action="store_true", help="do not copy the input's audio")
    p.add_argument(
        "--scene-threshold",
        type=float,
        default=None,
        metavar="X",
        help="image difference (0..255, on small blurred thumbnails) above which two frames "
        "are a scene cut (default 30)",
    )
    p.add_argument(
        "--depth",
        type=int,
        default=None,
        help="--fps: bisection depth, timesteps in 1/2^DEPTH of a frame interval (default 3); "
        "for a model that makes midpoints only, or with --bisect",
    )
    p.add_argument(
        "--bisect",
        action="store_true",
        help="make the in-between frames by repeated midpoints even when the model takes the "
        "time (by default such a model makes each frame in one pass at its exact time)",
    )
    p.add_argument(
        "--keep-duration",
        action="store_true",
        help="--factor: repeat the last frame so the output lasts as long as the input",
    )
    p.add_argument(
        "--slow-motion",
        action="store_true",
        help="--factor F: play the frames at the input's rate, so the output lasts F × as long "
        "(slow motion; without audio). Without it, --factor keeps the duration and multiplies "
        "the frame rate (smoother motion)",
    )
    p.add_argument(
        "--override",
        action="append",
        default=[],
        metavar="FIRST:LAST=repeat|blend",
        help="in the in-between frames from input frame FIRST to LAST, repeat the nearer input "
        "frame or blend the two instead of interpolating (where `dsepconv check` shows the "
        "interpolation fails); may be given more than once",
    )
    add_overwrite_option(
        p,
        "replace OUTPUT if it exists (only once complete; never the input); into an existing "
        "folder, --codec png replaces only the frames and rate.txt it writes (and an earlier "
        "export's frames), keeping every other file",
    )

    p = commands.add_parser(
        "bench",
        help="measure speed and memory against the machine's limit and the classical peers",
        description="Seconds per frame at 640×480, 1280×720 and 1920×1080 (whole and tiled) and "
        "a tiled 3840×2160 frame, peak memory, network FLOPs and GFLOP/s against this machine's "
        "fp32 matmul peak, the deformable convolution's share of the time, OpenCV DIS and ffmpeg "
        "minterpolate on the same frames, tiled-vs-untiled agreement and an end-to-end ×2 "
        "export. Medians of --runs after a warm-up.",
    )
    p.add_argument("--model", default=None, help=MODEL_HELP)
    p.add_argument("--precision", default="auto", help=PRECISION_HELP)
    p.add_argument("--runs", type=int, default=3, help="timed runs per measurement (default 3)")
    p.add_argument(
        "--sizes",
        nargs="+",
        default=None,
        metavar="WxH",
        help="frame sizes among 640x480 1280x720 1920x1080 (default: all three)",
    )
    p.add_argument(
        "--json", type=Path, default=None, help="also write the measurements to this JSON file"
    )

    p = commands.add_parser("info", help="print the version, the device found and the model in use")
    add_model_options(p)

    p = commands.add_parser(
        "train",
        help="train a model on triplets from videos or frame folders (resumable)",
        description="Train DSepConv self-supervised: any three consecutive frames are a sample, "
        "the middle one the truth. Triplets are picked once into a cached bank (cut and static "
        "triplets skipped, flows computed on whole frames); checkpoints go to RUN_DIR at a fixed "
        "interval and on Ctrl-C; --resume continues.",
    )
    p.add_argument(
        "data",
        nargs="+",
        type=Path,
        help="video files, folders of frames, vimeo_triplet roots, or folders of these",
    )
    p.add_argument(
        "--run-dir",
        type=Path,
        required=True,
        help="folder for checkpoints (last.safetensors, train_state.pt)",
    )
    p.add_argument(
        "--config", default="flow-small", help=f"configuration preset ({', '.join(PRESETS)})"
    )
    p.add_argument("--resume", action="store_true", help="continue the run in RUN_DIR")
    p.add_argument(
        "--init",
        type=Path,
        default=None,
        metavar="MODEL",
        help="start a new run from this model file's weights (same parameter shapes; "
        "e.g. a model of another prior_motion)",
    )
    p.add_argument(
        "--iterations", type=int, default=20000, help="total iterations of the run (default 20000)"
    )
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--crop", type=int, default=128, help="training crop side (default 128)")
    p.add_argument(
        "--lr", type=float, default=1e-3, help="Adamax learning rate, cosine-decayed (default 1e-3)"
    )
    p.add_argument("--checkpoint-every", type=int, default=200)
    p.add_argument("--validate-every", type=int, default=1000)
    p.add_argument(
        "--flip-weight",
        type=float,
        default=1.0,
        help="weight of the time-reversed prediction's loss",
    )
    p.add_argument("--gradient-weight", type=float, default=1.0, help="weight of the gradient loss")
    p.add_argument(
        "--census-weight",
        type=float,
        default=0.0,
        help="weight of the census (ternary) loss, robust to compression and brightness "
        "(default 0)",
    )
    p.add_argument(
        "--synthetic-occlusions",
        type=int,
        default=0,
        metavar="N",
        help="crops per batch with a patch of another triplet moving across them: occlusions "
        "with an exact answer (default 0)",
    )
    p.add_argument(
        "--visibility-weight",
        type=float,
        default=0.0,
        help="weight of the loss on the frame that cannot show a pixel of a synthetic occlusion "
        "(its total weight Σ v·h·m squared; default 0)",
    )
    p.add_argument(
        "--train-only",
        default="",
        metavar="MODULES",
        help="comma-separated modules to train, the rest frozen (e.g. mask1,mask2,blend); "
        "default all",
    )
    p.add_argument(
        "--synthetic-pool",
        type=int,
        default=2000,
        metavar="N",
        help="how many such triplets are prepared (once, cached with the bank) to draw from "
        "(default 2000)",
    )
    p.add_argument(
        "--offset-weight",
        type=float,
        default=0.0,
        help="weight of the penalty on the learned offsets (mean squared pixels added to the "
        "prior's tap positions; default 0)",
    )
    p.add_argument("--triplets-per-source", type=int, default=100)
    p.add_argument(
        "--spans",
        default="",
        metavar="M,M,...",
        help="train on windows instead of midpoint triplets: the outer frames M frames apart, "
        "the truth any frame between (times 1/M ... (M-1)/M), e.g. 2,3,4; for a configuration "
        "that takes the time (flow-small-time). Default: midpoint triplets",
    )
    p.add_argument(
        "--min-start-psnr",
        type=float,
        default=None,
        metavar="DB",
        help="train and validate only on triplets where the starting point (the flow prior, "
        "or the frame average for models without one) reaches DB dB: leaves out motion too "
        "large to learn from in a short run",
    )
    p.add_argument(
        "--bank-crop", type=int, default=160, help="side of the stored triplet crops (default 160)"
    )
    p.add_argument(
        "--bank-cache", type=Path, default=Path("runs/banks"), help="where triplet banks are cached"
    )
    p.add_argument(
        "--time-limit",
        type=float,
        default=None,
        metavar="SECONDS",
        help="stop training after this many seconds (the learning-rate schedule ends with it); "
        "the last state is checkpointed and validated",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="processes that prepare the bank, its flows and the synthetic occlusions "
        "(default: all cores)",
    )
    p.add_argument(
        "--loader-workers",
        type=int,
        default=0,
        help="processes that prepare batches while the device trains "
        "(default 0: in the training process)",
    )
    p.add_argument(
        "--prepare-only",
        action="store_true",
        help="prepare the bank, its flows and the synthetic occlusions, then stop (runs that share "
        "--bank-cache then start at once)",
    )
    p.add_argument("--device", default="auto", help=DEVICE_HELP)
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: all cores)")
    p.add_argument("--seed", type=int, default=0)

    p = commands.add_parser(
        "eval",
        help="score the model and the classical interpolators on benchmark folders",
        description="Each DIR holds sequence folders with frame10.png, frame11.png and the truth "
        "frame10i11.png (Middlebury) or frame0.png, frame2.png and the truth frame1.png. Prints "
        "PSNR (8-bit RGB), SSIM (scikit-image) and interpolation error IE, averaged per folder, "
        "for the model, the frame average, OpenCV DIS flow and ffmpeg minterpolate (mci).",
    )
    p.add_argument("dirs", nargs="+", type=Path, metavar="DIR")
    add_model_options(p)
    p.add_argument(
        "--save-dir", type=Path, default=None, help="write the model's frames here, per sequence"
    )
    p.add_argument("--json", type=Path, default=None, help="write every score to this JSON file")
    p.add_argument("--no-peers", action="store_true", help="score the model only")

    p = commands.add_parser("demo", help="interpolate the built-in demo clip and write the results")
    p.add_argument(
        "-o", "--output-dir", type=Path, default=Path("out/demo"), help="folder for the results"
    )
    add_model_options(p)
    clip_quality.add_parsers(commands, add_model_options)
    return parser


def load_interpolator(
    model_spec: str | None, device_spec: str, tile: int | None = None, precision: str = "auto"
):
    """Resolve device and model (printing any warning) and return an Interpolator."""
    from dsepconv_gui.interpolation.interpolator import Interpolator
    from dsepconv_gui.model.device import resolve_device
    from dsepconv_gui.model.weights import resolve_model

    device = resolve_device(device_spec, precision)
    loaded, warning = resolve_model(model_spec, device.device)
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    if tile is not None and tile < 32:
        from dsepconv_gui.base.errors import InputError

        raise InputError(f"--tile must be at least 32 pixels, got {tile}")
    return Interpolator(
        loaded,
        device,
        tile=tile,
        log=lambda message: print(f"\nwarning: {message}", file=sys.stderr),
    )


def run_interpolate(args: argparse.Namespace) -> None:
    """The frame halfway between two images. The output is written beside its destination and
    renamed into place; it may not be one of the inputs, and an existing one needs --overwrite."""

    import cv2

    from dsepconv_gui.base.errors import InputError
    from dsepconv_gui.base.safe_output import atomic_file, atomic_folder, check_name, check_output
    from dsepconv_gui.frames.images import read_image, write_image
    from dsepconv_gui.interpolation.intermediates import write_intermediates
    from dsepconv_gui.model.network import check_time

    check_time(args.time, takes_time=True)  # the range, before any work
    inputs = (args.frame_a, args.frame_b)
    check_output(args.output, args.overwrite, inputs)
    if args.output.suffix and not cv2.haveImageWriter(str(args.output)):
        raise InputError(
            f"{args.output}: cannot write images of type '{args.output.suffix}'; "
            "use .png, .jpg or .tif"
        )
    dump = args.dump_intermediates
    if dump is not None and dump.parent.is_dir():
        check_output(dump, args.overwrite, inputs, folder=True)
    elif dump is not None:  # its missing parent folders are made, as before
        check_name(dump)
    frame_a, frame_b = read_image(args.frame_a), read_image(args.frame_b)
    interpolator = load_interpolator(args.model, args.device, args.tile, args.precision)
    check_time(args.time, interpolator.takes_time)
    result = interpolator.interpolate(frame_a, frame_b, with_terms=dump is not None, time=args.time)
    if dump is not None:
        try:
            with atomic_folder(dump, protected=inputs) as staged:
                manifest = write_intermediates(result, staged)
        except OSError as exc:
            raise InputError(
                f"{dump}: cannot write the intermediates ({exc.strerror or exc})"
            ) from None
    with atomic_file(args.output) as tmp:
        write_image(tmp, result.frame, suffix=args.output.suffix)  # no suffix: PNG
    h, w = result.frame.shape[:2]
    at = "" if args.time == 0.5 else f" at t = {args.time:g}"
    print(
        f"{args.output}: {w}×{h}{at}, {result.seconds:.2f} s on {result.device}, "
        f"model {interpolator.loaded.source}"
    )
    if dump is not None:
        print(f"intermediates: {dump} (see {manifest.name})")


def run_info(args: argparse.Namespace) -> None:
    import torch

    from dsepconv_gui.interpolation.interpolator import device_running
    from dsepconv_gui.model.device import resolve_device
    from dsepconv_gui.model.weights import resolve_model

    device = resolve_device(args.device, args.precision)
    print(f"dsepconv {__version__}")
    print(
        f"torch {torch.__version__} (CUDA build: {torch.version.cuda or 'none'}, "
        f"CUDA available: {torch.cuda.is_available()})"
    )
    loaded, warning = resolve_model(args.model, "cpu")
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    device = device_running(loaded, device)
    network = str(device.network_dtype or device.dtype).removeprefix("torch.")
    print(f"device: {device}")
    print(f"precision: the network in {network}, the flows and the synthesis in float32")
    print(f"model: {loaded.source}")
    print(f"configuration: {loaded.config.to_dict()}")
    print(f"parameters: {loaded.model.parameter_count():,}")
    for key, value in sorted(loaded.metadata.items()):
        print(f"  {key}: {value}")


def run_demo(args: argparse.Namespace) -> None:

    from dsepconv_gui.frames.demo import render_demo_frames
    from dsepconv_gui.frames.images import write_image
    from dsepconv_gui.frames.metrics import psnr
    from dsepconv_gui.interpolation.classical import frame_average
    from dsepconv_gui.interpolation.intermediates import write_intermediates

    frames = render_demo_frames(3)
    interpolator = load_interpolator(args.model, args.device, args.tile, args.precision)
    result = interpolator.interpolate(frames[0], frames[2], with_terms=True)
    out = args.output_dir
    write_intermediates(result, out)
    for name, frame in (
        ("frame_a.png", frames[0]),
        ("truth.png", frames[1]),
        ("frame_b.png", frames[2]),
    ):
        write_image(out / name, frame)
    model_psnr = psnr(result.frame, frames[1])
    average_psnr = psnr(frame_average(frames[0], frames[2]), frames[1])
    print(
        f"demo: {out}/output.png from frame_a.png and frame_b.png, "
        f"model {interpolator.loaded.source}"
    )
    print(
        f"PSNR against the true middle frame: {model_psnr:.2f} dB "
        f"(frame average: {average_psnr:.2f} dB)"
    )


def run_eval(args: argparse.Namespace) -> None:
    from dsepconv_gui.cli.evaluation import evaluate, format_table, results_to_json
    from dsepconv_gui.interpolation import classical

    interpolator = load_interpolator(args.model, args.device, args.tile, args.precision)
    model_name = f"DSepConv ({Path(interpolator.loaded.source).name})"
    methods = {model_name: interpolator}
    notes = []
    if not args.no_peers:
        methods["frame average"] = classical.frame_average
        methods["OpenCV DIS flow, warped halfway"] = classical.dis_flow_halfway
        ffmpeg = classical.find_ffmpeg()
        if ffmpeg:
            methods["ffmpeg minterpolate (mci)"] = lambda a, b: classical.ffmpeg_minterpolate(
                a, b, ffmpeg
            )
        else:
            notes.append("ffmpeg minterpolate skipped: no ffmpeg binary found")
    log = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    results = evaluate(args.dirs, methods, save_method=model_name, save_dir=args.save_dir, log=log)
    print(format_table(results, notes))
    if args.json:
        extra = {
            "model": interpolator.loaded.source,
            "config": interpolator.loaded.config.to_dict(),
            "device": str(interpolator.device),
        }
        args.json.write_text(results_to_json(results, extra))
        print(f"scores: {args.json}")


def run_train(args: argparse.Namespace) -> None:
    import os

    import torch

    from dsepconv_gui.base.errors import InputError
    from dsepconv_gui.model.config import preset
    from dsepconv_gui.model.device import resolve_device
    from dsepconv_gui.training.losses import LossWeights
    from dsepconv_gui.training.sources import discover_sources
    from dsepconv_gui.training.trainer import TrainOptions, split_indices, synthetic_pool_for, train
    from dsepconv_gui.training.triplet_bank import BankSettings, load_or_build_bank
    from dsepconv_gui.training.workers import default_workers

    for path in args.data:
        if "benchmarks" in path.resolve().parts:
            raise InputError(
                f"{path}: refusing to train on a benchmark folder (evaluation data only)"
            )
    torch.set_num_threads(args.threads or os.cpu_count() or 1)
    config = preset(args.config)
    device = resolve_device(args.device)
    sources = discover_sources(args.data)
    spans = parse_spans(args.spans)
    if spans and not config.time_input:
        raise InputError(
            f"--spans makes truths at several times; configuration {args.config} makes "
            "midpoints only (use one with time_input, e.g. flow-small-time)"
        )
    settings = BankSettings(
        crop=args.bank_crop,
        triplets_per_source=args.triplets_per_source,
        spans=spans,
        with_flows=config.flow_prior != "none",
        flow_scale=config.flow_scale,
        seed=args.seed,
    )
    log = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    workers = args.workers or default_workers()
    if args.synthetic_occlusions > 0 and args.synthetic_pool < 1:
        raise InputError("--synthetic-pool must be at least 1 when --synthetic-occlusions is set")
    if args.visibility_weight > 0 and args.synthetic_occlusions <= 0:
        raise InputError(
            "--visibility-weight needs --synthetic-occlusions: "
            "only synthetic occlusions have a known visibility"
        )
    if args.loader_workers < 0:
        raise InputError("--loader-workers must be 0 or more")
    bank = load_or_build_bank(args.bank_cache, sources, settings, log, workers)
    bank = bank.with_prior_motion(config.prior_motion, log, workers)
    options = TrainOptions(
        run_dir=args.run_dir,
        config=config,
        iterations=args.iterations,
        batch_size=args.batch_size,
        crop=args.crop,
        learning_rate=args.lr,
        checkpoint_every=args.checkpoint_every,
        validate_every=args.validate_every,
        seed=args.seed,
        device=str(device.device),
        min_start_psnr=args.min_start_psnr,
        init=args.init,
        synthetic_occlusions=args.synthetic_occlusions,
        synthetic_pool=args.synthetic_pool,
        time_limit=args.time_limit,
        workers=workers,
        loader_workers=args.loader_workers,
        train_only=tuple(name for name in args.train_only.split(",") if name),
        weights=LossWeights(
            flip=args.flip_weight,
            gradient=args.gradient_weight,
            census=args.census_weight,
            offset=args.offset_weight,
            visibility=args.visibility_weight,
        ),
    )
    if args.prepare_only:
        synthetic_pool_for(options, bank, split_indices(options, bank, log)[0], log)
        print(f"prepared: {bank.folder}")
        return
    log(f"training {args.config} {config.to_dict()} on {device} for {args.iterations} iterations")
    path = train(options, bank, resume=args.resume, log=log)
    print(f"trained: {path}")


def parse_spans(text: str) -> tuple[int, ...]:
    """'2,3,4' to (2, 3, 4): window spans of at least 2 frames, at most 16."""
    from dsepconv_gui.base.errors import InputError

    try:
        spans = tuple(sorted({int(part) for part in text.split(",") if part.strip()}))
    except ValueError:
        raise InputError(f"--spans takes whole numbers separated by commas, got {text!r}") from None
    if any(not 2 <= span <= 16 for span in spans):
        raise InputError(f"every span must be between 2 and 16 frames, got {text!r}")
    return spans


def parse_range(text: str | None, clip) -> tuple[int, int | None]:
    """'START:END' in frames (inclusive) or seconds ('1.5s:4s') to frame indices. Refuses
    what is not a whole frame number or a finite time, negative values, a start after the
    clip's end and a range whose end comes before its start."""
    import bisect
    import math

    from dsepconv_gui.base.errors import InputError

    if text is None:
        return 0, None
    if ":" not in text:
        raise InputError(
            f"--range must be START:END (frames, or seconds with an s: 1.5s:4s), got {text!r}"
        )
    stamps = clip.timestamps

    def frame(part: str, last: bool) -> int | None:
        part = part.strip()
        if not part:
            return None
        seconds = part.endswith("s")
        try:
            value = float(part[:-1]) if seconds else int(part)
        except ValueError:
            value = None
        if value is None or not math.isfinite(value):
            raise InputError(
                f"--range: {part!r} is not a frame number or a time in seconds "
                "(examples: 10:50, 1.5s:4s)"
            )
        if value < 0:
            raise InputError(
                f"--range: {part!r} is negative; frames count from 0 and times from 0s"
            )
        if not seconds:
            return int(value)
        if not last and value > stamps[-1] + 1e-9:
            raise InputError(
                f"--range: {part!r} starts after the clip's last frame (at {stamps[-1]:.3f}s)"
            )
        index = (
            bisect.bisect_right(stamps, value + 1e-9) - 1
            if last
            else bisect.bisect_left(stamps, value - 1e-9)
        )
        return max(0, min(index, len(stamps) - 1))

    start_text, end_text = text.split(":", 1)
    start, end = frame(start_text, False), frame(end_text, True)
    start = 0 if start is None else start
    if end is not None and end < start:
        raise InputError(
            f"--range {text}: selects no frames, its end (frame {end}) comes before its start "
            f"(frame {start}); give START:END with START first"
        )
    return start, end


def run_export(args: argparse.Namespace) -> None:
    from dsepconv_gui.base.progress_bar import Progress
    from dsepconv_gui.export.clip_export import (
        DEFAULT_DEPTH,
        ExportSettings,
        export_clip,
        prepare_export,
    )
    from dsepconv_gui.export.overrides import parse_override
    from dsepconv_gui.export.plan import parse_rate
    from dsepconv_gui.frames.scene_cuts import DEFAULT_CUT_THRESHOLD
    from dsepconv_gui.interpolation.bisection import takes_time
    from dsepconv_gui.video.clips import open_clip

    clip = open_clip(args.input)
    for note in clip.notes:  # what was converted, or that the file is damaged
        print(f"note: {args.input}: {note}", file=sys.stderr)
    start, end = parse_range(args.range, clip)
    settings = ExportSettings(
        output=args.output,
        factor=args.factor,
        fps=parse_rate(args.fps) if args.fps else None,
        start=start,
        end=end,
        codec=args.codec,
        crf=args.crf,
        audio=not args.no_audio,
        scene_threshold=DEFAULT_CUT_THRESHOLD
        if args.scene_threshold is None
        else args.scene_threshold,
        depth=DEFAULT_DEPTH if args.depth is None else args.depth,
        keep_duration=args.keep_duration,
        slow_motion=args.slow_motion,
        overwrite=args.overwrite,
        overrides=tuple(parse_override(text) for text in args.override),
    )
    _, _, plan = prepare_export(clip, settings)  # the user's mistakes show before the model loads
    interpolator = load_interpolator(args.model, args.device, args.tile, args.precision)
    if takes_time(interpolator) and not args.bisect:
        settings = replace(settings, exact_times=True)
        _, _, plan = prepare_export(clip, settings)
        if args.depth is not None:
            print(
                "note: --depth applies to bisection; this model makes each frame in one pass "
                "at its exact time (add --bisect to bisect)",
                file=sys.stderr,
            )
    print(
        f"{args.input}: {clip.info.describe()}; {len(plan.frames)} frames to write; "
        f"model {interpolator.loaded.source} on {interpolator.device}; in-between frames "
        + ("in one pass at their exact times" if settings.exact_times else "by bisection"),
        file=sys.stderr,
    )
    bar = None

    def progress(p) -> None:
        nonlocal bar
        if bar is None:
            bar = Progress(p.total, 0, unit="frames")
        bar.update(p.done)

    try:
        summary = export_clip(clip, settings, interpolator, progress)
    finally:
        clip.close()
    print(file=sys.stderr)
    print(summary.describe())


def run_bench(args: argparse.Namespace) -> None:
    import json

    from dsepconv_gui.base.errors import InputError
    from dsepconv_gui.cli.benchmark import DEFAULT_SIZES, SIZES, format_report, run_benchmark

    sizes = args.sizes or DEFAULT_SIZES
    unknown = [size for size in sizes if size not in SIZES]
    if unknown:
        raise InputError(f"unknown size {unknown[0]}; choose among {', '.join(DEFAULT_SIZES)}")
    if "640x480" not in sizes:
        sizes = ["640x480", *sizes]  # the peers are compared at 640×480
    from dsepconv_gui.model.device import resolve_device

    resolve_device("cpu", args.precision)  # a clear error before any subprocess starts
    report = run_benchmark(
        args.model,
        sizes,
        args.runs,
        log=lambda m: print(m, file=sys.stderr, flush=True),
        precision=args.precision,
    )
    print(format_report(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
        print(f"measurements: {args.json}")


class Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised like Ctrl-C's KeyboardInterrupt so that every command stops
    the same way (an export removes its partial file, training saves a checkpoint)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


@contextmanager
def signals_stop_like_ctrl_c() -> Iterator[None]:
    """While running a command, SIGTERM and SIGHUP raise Stopped in the main thread (once:
    a second signal does not cut the clean-up short); the previous handlers come back after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    stopping = False

    def stop(signum, frame) -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            raise Stopped(signum)

    wanted = [getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)]
    previous = {number: signal.signal(number, stop) for number in wanted}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, signal.SIG_DFL if handler is None else handler)


def _say(line: str) -> None:
    try:
        print(line, file=sys.stderr)
    except OSError:  # the terminal is gone (SIGHUP)
        pass


def main(argv: list[str] | None = None) -> int:
    from dsepconv_gui.base.errors import DSepConvError

    args = build_parser().parse_args(argv)
    handlers = {
        "interpolate": run_interpolate,
        "info": run_info,
        "demo": run_demo,
        "train": run_train,
        "eval": run_eval,
        "export": run_export,
        "bench": run_bench,
        "check": clip_quality.run_check,
        "adapt": clip_quality.run_adapt,
    }
    try:
        with signals_stop_like_ctrl_c():
            handlers[args.command](args)
    except DSepConvError as exc:
        # one line whatever a library put in the reason (a decoder's or parser's own message)
        _say(
            "dsepconv: error: "
            + " | ".join(line.strip() for line in str(exc).splitlines() if line.strip())
        )
        return EXIT_USER_ERROR
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", signal.SIGINT)
        _say(
            "dsepconv: interrupted"
            if signum == signal.SIGINT
            else f"dsepconv: stopped by {signal.Signals(signum).name}"
        )
        return EXIT_SIGNALLED + signum
    return 0


if __name__ == "__main__":
    sys.exit(main())
