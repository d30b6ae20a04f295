"""The `dsepconv` command: headless interpolation and information, no Qt involved.

Errors a user can cause print one line to stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import __version__

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dsepconv",
        description="Video frame interpolation with DSepConv (deformable separable convolution).",
    )
    parser.add_argument("--version", action="version", version=f"dsepconv {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    model_help = (
        "model file (.safetensors); default: models/dsepconv.safetensors or $DSEPCONV_MODEL; "
        "'random:PRESET' for an untrained network (presets: paper, paper-no-mask, small, tiny)"
    )
    device_help = "auto (CUDA when available, else CPU), cpu, cuda or cuda:N"

    p = commands.add_parser("interpolate", help="write the frame halfway between two images")
    p.add_argument("frame_a", type=Path, help="first frame (image file)")
    p.add_argument("frame_b", type=Path, help="second frame (image file, same size)")
    p.add_argument("-o", "--output", type=Path, required=True, help="output image (png, jpg, tif...)")
    p.add_argument("--model", default=None, help=model_help)
    p.add_argument("--device", default="auto", help=device_help)
    p.add_argument(
        "--dump-intermediates", type=Path, metavar="DIR", default=None,
        help="also write kernels, offsets, masks and the two deformable results (.npy and .png) to DIR",
    )

    p = commands.add_parser("info", help="print the version, the device found and the model in use")
    p.add_argument("--model", default=None, help=model_help)
    p.add_argument("--device", default="auto", help=device_help)

    p = commands.add_parser("demo", help="interpolate the built-in demo clip and write the results")
    p.add_argument("-o", "--output-dir", type=Path, default=Path("out/demo"), help="folder for the results")
    p.add_argument("--model", default=None, help=model_help)
    p.add_argument("--device", default="auto", help=device_help)
    return parser


def load_interpolator(model_spec: str | None, device_spec: str):
    """Resolve device and model (printing any warning) and return an Interpolator."""
    from .core.device import resolve_device
    from .core.interpolator import Interpolator
    from .core.model_files import resolve_model

    device = resolve_device(device_spec)
    loaded, warning = resolve_model(model_spec, device.device)
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    return Interpolator(loaded, device)


def run_interpolate(args: argparse.Namespace) -> None:
    from .core.images import read_image, write_image
    from .core.intermediates_export import write_intermediates

    frame_a, frame_b = read_image(args.frame_a), read_image(args.frame_b)
    interpolator = load_interpolator(args.model, args.device)
    result = interpolator.interpolate(frame_a, frame_b, with_terms=args.dump_intermediates is not None)
    write_image(args.output, result.frame)
    h, w = result.frame.shape[:2]
    print(f"{args.output}: {w}×{h}, {result.seconds:.2f} s on {result.device}, model {interpolator.loaded.source}")
    if args.dump_intermediates is not None:
        manifest = write_intermediates(result, args.dump_intermediates)
        print(f"intermediates: {manifest.parent} (see {manifest.name})")


def run_info(args: argparse.Namespace) -> None:
    import torch

    from .core.device import resolve_device
    from .core.model_files import resolve_model

    device = resolve_device(args.device)
    print(f"dsepconv {__version__}")
    print(f"torch {torch.__version__} (CUDA build: {torch.version.cuda or 'none'}, "
          f"CUDA available: {torch.cuda.is_available()})")
    print(f"device: {device} ({str(device.dtype).removeprefix('torch.')})")
    loaded, warning = resolve_model(args.model, "cpu")
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"model: {loaded.source}")
    print(f"configuration: {loaded.config.to_dict()}")
    print(f"parameters: {loaded.model.parameter_count():,}")
    for key, value in sorted(loaded.metadata.items()):
        print(f"  {key}: {value}")


def run_demo(args: argparse.Namespace) -> None:
    import numpy as np

    from .core.demo import render_demo_frames
    from .core.images import write_image
    from .core.intermediates_export import write_intermediates

    frames = render_demo_frames(3)
    interpolator = load_interpolator(args.model, args.device)
    result = interpolator.interpolate(frames[0], frames[2], with_terms=True)
    out = args.output_dir
    write_intermediates(result, out)
    for name, frame in (("frame_a.png", frames[0]), ("truth.png", frames[1]), ("frame_b.png", frames[2])):
        write_image(out / name, frame)
    error = result.frame.astype(np.float64) - frames[1]
    psnr = 10 * np.log10(255.0**2 / max(float(np.mean(error**2)), 1e-12))
    average = (frames[0].astype(np.float64) + frames[2]) / 2 - frames[1]
    psnr_average = 10 * np.log10(255.0**2 / max(float(np.mean(average**2)), 1e-12))
    print(f"demo: {out}/output.png from frame_a.png and frame_b.png, model {interpolator.loaded.source}")
    print(f"PSNR against the true middle frame: {psnr:.2f} dB (frame average: {psnr_average:.2f} dB)")


def main(argv: list[str] | None = None) -> int:
    from .core.errors import DSepConvError

    args = build_parser().parse_args(argv)
    handlers = {"interpolate": run_interpolate, "info": run_info, "demo": run_demo}
    try:
        handlers[args.command](args)
    except DSepConvError as exc:
        print(f"dsepconv: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("dsepconv: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0


if __name__ == "__main__":
    sys.exit(main())
