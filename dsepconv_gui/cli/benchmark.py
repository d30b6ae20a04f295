"""`dsepconv bench`: speed and memory of the shipped model next to the machine's own limit and
the classical peers, measured side by side in one run. Prints a table, writes JSON.

Each frame size runs in a fresh subprocess so that its peak resident memory is its own.
Times are medians of several runs after a warm-up. Nothing here asserts thresholds: the
machines are shared and noisy; the numbers are reported as ratios.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from dsepconv_gui.base.sizes import parse_width_height

SIZES = {
    "640x480": (480, 640),
    "1280x720": (720, 1280),
    "1920x1080": (1080, 1920),
    "3840x2160": (2160, 3840),
}
DEFAULT_SIZES = ["640x480", "1280x720", "1920x1080"]
REAL_CLIP = (
    Path(__file__).resolve().parents[3]
    / "shared"
    / "data"
    / "train"
    / "clips"
    / "moviepy-airplane.mp4"
)


def parse_size(text: str) -> tuple[int, int]:
    """'640x480' to (height, width)."""
    width, height = parse_width_height(text)
    return height, width


def timed(fn, runs: int) -> tuple[float, object]:
    """Median seconds of `runs` calls after one warm-up call, and the last result; runs = 0:
    a single timed call without warm-up (for the slowest sizes)."""
    if runs == 0:
        start = time.perf_counter()
        result = fn()
        return time.perf_counter() - start, result
    result = fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def matmul_peak(threads: int) -> float:
    """fp32 GFLOP/s of a 2048² matrix product on this machine (best of five)."""
    import torch

    torch.set_num_threads(threads)
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    torch.mm(a, b)
    best = min(_seconds(lambda: torch.mm(a, b)) for _ in range(5))
    return 2 * 2048**3 / best / 1e9


def _seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def test_pair(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Two consecutive real frames scaled to the size (the procedural demo without the data)."""
    return tuple(real_frames(2, height, width, start=40))


def measure_size(
    model_spec: str | None, size: str, runs: int, tile: int | None, precision: str = "auto"
) -> dict:
    """One frame size, in this process: seconds per interpolated frame (flows, network and
    synthesis, as `dsepconv export` runs them; tile None: sized from the memory available)
    and the process's peak resident memory."""
    import torch

    from dsepconv_gui.interpolation.interpolator import Interpolator, flows_for
    from dsepconv_gui.model.device import resolve_device
    from dsepconv_gui.model.weights import resolve_model

    torch.set_num_threads(os.cpu_count() or 1)
    height, width = parse_size(size)
    device = resolve_device("cpu", precision)
    loaded, _ = resolve_model(model_spec, device.device)
    interpolator = Interpolator(loaded, device, tile=tile)
    a, b = test_pair(height, width)
    # Copies each time: the interpolator reuses the motion of the last pair it was given (the
    # same arrays), which would leave the flows out of every timed run after the first.
    frame_seconds, _ = timed(lambda: interpolator.interpolate(a.copy(), b.copy()), runs)
    flow_seconds = 0.0
    if loaded.config.flow_prior != "none":
        flow_seconds = statistics.median(
            _seconds(lambda: flows_for(loaded.config, a, b)) for _ in range(max(runs, 1))
        )
    return {
        "size": size,
        "tile": tile or "auto",
        "frame_seconds": frame_seconds,
        "flow_seconds": flow_seconds,
        "peak_memory_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }


def measure_parts(model_spec: str | None, size: str, runs: int, precision: str = "auto") -> dict:
    """The whole frame's network pass (its FLOPs, counted, and GFLOP/s) and the deformable
    separable convolution of both frames, timed apart (in its own process: the untiled
    pass needs more memory than the tiled path); the network pass of inference's path also
    in float32 when the precision makes it another."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from dsepconv_gui.interpolation.interpolator import Interpolator, flows_for, frame_to_tensor
    from dsepconv_gui.model.deformable_separable_conv import streaming_torch
    from dsepconv_gui.model.device import resolve_device
    from dsepconv_gui.model.network import synthesize, synthesize_half_resolution

    def parts(term):
        return term.vertical, term.horizontal, term.offset_y, term.offset_x, term.mask

    from dsepconv_gui.model.weights import resolve_model

    torch.set_num_threads(os.cpu_count() or 1)
    height, width = parse_size(size)
    device = resolve_device("cpu", precision)
    loaded, _ = resolve_model(model_spec, device.device)
    interpolator = Interpolator(loaded, device)
    model = interpolator.model  # as inference runs it (channels-last)
    a, b = test_pair(height, width)
    with torch.inference_mode():
        ta, tb = (
            frame_to_tensor(a, device.device, device.dtype),
            frame_to_tensor(b, device.device, device.dtype),
        )
        flows = flows_for(loaded.config, a, b)
        flows = None if flows is None else torch.from_numpy(flows)[None]
        network_seconds, terms = timed(lambda: model.estimate(ta, tb, flows), runs)
        synthesis_seconds, _ = timed(
            lambda: synthesize(ta, terms[0]) + synthesize(tb, terms[1]), runs
        )
        measured = {}
        if model.fuses_heads(ta, tb):  # inference's path: the heads' maps fused into the kernel
            measured["full_resolution_seconds"] = network_seconds + synthesis_seconds
            measured["convolution_alone_seconds"] = synthesis_seconds
            network_seconds, halves = timed(
                lambda: tuple(model.half_resolution_terms(ta, tb, flows)), runs
            )
            if device.network_dtype is not None:  # what inference runs
                measured["network_float32_seconds"] = network_seconds

                def in_precision():
                    with interpolator.network_precision(ta, tb):
                        return tuple(model.half_resolution_terms(ta, tb, flows))

                network_seconds, halves = timed(in_precision, runs)
            synthesis_seconds, _ = timed(
                lambda: (
                    synthesize_half_resolution(ta, halves[0])
                    + synthesize_half_resolution(tb, halves[1])
                ),
                runs,
            )
        # the same with the torch op the fused kernel replaced (its speed-up, in this run)
        torch_seconds, _ = timed(
            lambda: sum(
                streaming_torch(frame, parts(term))
                for frame, term in ((ta, terms[0]), (tb, terms[1]))
            ),
            runs,
        )
        counter = FlopCounterMode(display=False)
        with counter:
            model.estimate(ta, tb, flows)
    flops = counter.get_total_flops()
    return measured | {
        "size": size,
        "network_seconds": network_seconds,
        "synthesis_seconds": synthesis_seconds,
        "synthesis_torch_seconds": torch_seconds,
        "network_flops": flops,
        "network_gflops_per_second": flops / network_seconds / 1e9,
    }


def measure_tiling(model_spec: str | None, precision: str = "auto") -> dict:
    """Tiled against untiled output on a real 1080p pair, PSNR in dB."""
    import torch

    from dsepconv_gui.frames.metrics import psnr
    from dsepconv_gui.interpolation.interpolator import Interpolator
    from dsepconv_gui.model.device import resolve_device
    from dsepconv_gui.model.weights import resolve_model

    torch.set_num_threads(os.cpu_count() or 1)
    device = resolve_device("cpu", precision)
    loaded, _ = resolve_model(model_spec, device.device)
    a, b = test_pair(1080, 1920)
    whole = Interpolator(loaded, device, tile=4096).interpolate(a, b).frame
    tiled = Interpolator(loaded, device, tile=512).interpolate(a, b).frame
    return {"tile": 512, "psnr_tiled_vs_untiled": psnr(tiled, whole)}


def _in_subprocess(function: str, *args) -> dict:
    code = (
        f"import json, sys; from dsepconv_gui.cli.benchmark import {function}; "
        f"print(json.dumps({function}(*json.loads(sys.argv[1]))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(list(args))], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"{function}{args} failed: {done.stderr.strip()[-800:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def peers(runs: int) -> dict:
    """Seconds per interpolated 640×480 frame of DIS-flow interpolation and of ffmpeg
    minterpolate (a 31-frame clip turned into 61 frames, decode included, divided by 30)."""
    from dsepconv_gui.interpolation.classical import dis_flow_halfway, find_ffmpeg
    from dsepconv_gui.video.writer import VideoWriter

    a, b = test_pair(480, 640)
    result = {"dis_seconds": timed(lambda: dis_flow_halfway(a, b), runs)[0]}
    ffmpeg = find_ffmpeg()
    if ffmpeg is None:
        result["minterpolate_note"] = "no ffmpeg binary"
        return result
    with tempfile.TemporaryDirectory(prefix="dsepconv-bench-") as tmp:
        clip = Path(tmp) / "clip.mkv"
        frames = real_frames(31, 480, 640)
        with VideoWriter(clip, 25, codec="ffv1") as writer:
            for frame in frames:
                writer.write(frame)
        command = [
            ffmpeg,
            "-hide_banner",
            "-loglevel",
            "error",
            "-i",
            str(clip),
            "-vf",
            "minterpolate=fps=50:mi_mode=mci",
            "-f",
            "null",
            "-",
        ]
        seconds = statistics.median(
            _seconds(lambda: subprocess.run(command, check=True)) for _ in range(max(1, runs))
        )
    result["minterpolate_seconds"] = seconds / 30
    return result


def real_frames(count: int, height: int, width: int, start: int = 0) -> list[np.ndarray]:
    """`count` consecutive frames of the real 640×360 clip (or of the procedural demo when the
    shared data is absent), scaled to width × height."""
    import cv2

    if REAL_CLIP.exists():
        from dsepconv_gui.video.clips import open_clip

        clip = open_clip(REAL_CLIP)
        frames = [frame for _, frame in clip.iter_frames(start, start + count)]
        clip.close()
    else:
        from dsepconv_gui.frames.demo import render_demo_frames

        frames = render_demo_frames(start + count, height=240, width=320)[start:]
    return [cv2.resize(f, (width, height), interpolation=cv2.INTER_CUBIC) for f in frames]


def end_to_end(model_spec: str | None, frames: int = 50, precision: str = "auto") -> dict:
    """Export the first `frames` frames of the real 640×360 clip at ×2 with the model, and the
    same range with ffmpeg minterpolate to twice the rate (decode and encode included)."""
    if not REAL_CLIP.exists():
        return {"note": f"{REAL_CLIP} not found"}
    from dsepconv_gui.export.clip_export import ExportSettings, export_clip
    from dsepconv_gui.interpolation.classical import find_ffmpeg
    from dsepconv_gui.interpolation.interpolator import Interpolator
    from dsepconv_gui.model.device import resolve_device
    from dsepconv_gui.model.weights import resolve_model
    from dsepconv_gui.video.clips import open_clip

    device = resolve_device("cpu", precision)
    loaded, _ = resolve_model(model_spec, device.device)
    interpolator = Interpolator(loaded, device)
    clip = open_clip(REAL_CLIP)
    with tempfile.TemporaryDirectory(prefix="dsepconv-bench-") as tmp:
        out = Path(tmp) / "x2.mp4"
        summary = export_clip(
            clip, ExportSettings(out, factor=2, end=frames - 1, audio=False), interpolator
        )
        result = {
            "frames_written": summary.frames_written,
            "seconds": summary.seconds,
            "output_fps": summary.frames_written / summary.seconds,
            "size": f"{clip.info.width}x{clip.info.height}",
        }
        ffmpeg = find_ffmpeg()
        if ffmpeg:
            rate = clip.info.rate * 2
            command = [
                ffmpeg,
                "-hide_banner",
                "-loglevel",
                "error",
                "-y",
                "-i",
                str(REAL_CLIP),
                "-frames:v",
                str(summary.frames_written),
                "-an",
                "-vf",
                f"minterpolate=fps={rate}:mi_mode=mci",
                "-c:v",
                "libx264",
                "-crf",
                "18",
                str(Path(tmp) / "ffmpeg.mp4"),
            ]
            seconds = _seconds(lambda: subprocess.run(command, check=True))
            result.update(
                ffmpeg_seconds=seconds, ffmpeg_output_fps=summary.frames_written / seconds
            )
    clip.close()
    return result


def quality() -> dict:
    """PSNR from the model card's evaluation (models/eval.json), where it exists."""
    from dsepconv_gui.model.weights import MODELS_DIR

    path = MODELS_DIR / "eval.json"
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    table = {}
    for folder, methods in data.get("results", {}).items():
        for method, scores in methods.items():
            table.setdefault(method, {})[Path(folder).name] = scores.get("mean", {}).get("psnr")
    return table


def run_benchmark(
    model_spec: str | None, sizes: list[str], runs: int, log=print, precision: str = "auto"
) -> dict:
    from dsepconv_gui.model.device import resolve_device

    threads = os.cpu_count() or 1
    report: dict = {
        "machine": {
            "threads": threads,
            "cpu": _cpu_name(),
            "device": str(resolve_device("cpu", precision)),
        }
    }
    log(f"matmul peak on {threads} threads…")
    report["machine"]["matmul_gflops"] = matmul_peak(threads)
    report["sizes"] = []
    report["parts"] = []
    for size in sizes:
        log(f"{size}: frame time and memory…")
        report["sizes"].append(
            _in_subprocess("measure_size", model_spec, size, runs, None, precision)
        )
        log(f"{size}: network and deformable convolution apart…")
        report["parts"].append(_in_subprocess("measure_parts", model_spec, size, runs, precision))
    log("3840x2160 tiled…")
    report["sizes"].append(
        _in_subprocess("measure_size", model_spec, "3840x2160", 0, 512, precision)
    )
    log("tiled against untiled at 1080p…")
    report["tiling"] = _in_subprocess("measure_tiling", model_spec, precision)
    log("peers…")
    report["peers"] = peers(runs)
    log("end to end…")
    report["end_to_end"] = _in_subprocess("end_to_end", model_spec, 50, precision)
    report["quality"] = quality()
    return report


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def format_report(report: dict) -> str:
    peak = report["machine"]["matmul_gflops"]
    lines = [
        f"machine: {report['machine']['cpu']}, {report['machine']['threads']} threads, "
        f"fp32 matmul peak {peak:.1f} GFLOP/s; runs on "
        f"{report['machine'].get('device', 'cpu')}",
        "",
    ]
    lines.append(
        f"{'size':<11}{'tile':>6}{'s/frame':>9}{'flow s':>8}{'peak MB':>9}   "
        f"{'net s':>7}{'GFLOP':>7}{'GFLOP/s':>8}{'% peak':>7}{'DSC s':>7}{'DSC %':>7}"
    )
    parts = {row["size"]: row for row in report.get("parts", [])}
    for row in report["sizes"]:
        cells = [
            f"{row['size']:<11}",
            f"{row['tile']:>6}",
            f"{row['frame_seconds']:>9.3f}",
            f"{row['flow_seconds']:>8.3f}",
            f"{row['peak_memory_bytes'] / 1e6:>9.0f}   ",
        ]
        part = parts.get(row["size"])
        if part is not None:
            total = part["network_seconds"] + part["synthesis_seconds"]
            # the float32 pass against the float32 peak, whatever precision inference runs
            float32_seconds = part.get("network_float32_seconds", part["network_seconds"])
            cells += [
                f"{part['network_seconds']:>7.3f}",
                f"{part['network_flops'] / 1e9:>7.1f}",
                f"{part['network_gflops_per_second']:>8.1f}",
                f"{100 * part['network_flops'] / 1e9 / float32_seconds / peak:>6.1f}%",
                f"{part['synthesis_seconds']:>7.3f}",
                f"{100 * part['synthesis_seconds'] / total:>6.1f}%",
            ]
        lines.append("".join(cells))
    lines.append(
        "(tile auto: sized from the memory available, at most a 0.5 GB network pass on CPU; "
        "net and DSC: the whole frame's network pass and deformable separable convolution of "
        "both frames, timed apart (with light heads, DSC is the kernel that also makes their "
        "maps); DSC % is its share of the two; % peak: the network's float32 pass against the "
        "float32 matmul peak)"
    )
    frame_seconds = {row["size"]: row["frame_seconds"] for row in report["sizes"]}
    for size, part in parts.items():
        if "synthesis_torch_seconds" in part and size in frame_seconds:
            # the same work both ways: the op on full-resolution maps
            fused = part.get("convolution_alone_seconds", part["synthesis_seconds"])
            torch_op = part["synthesis_torch_seconds"]
            lines.append(
                f"{size}: deformable convolution of both frames {fused:.3f} s fused, "
                f"{torch_op:.3f} s with the torch op ({torch_op / fused:.1f}× faster); "
                f"{100 * fused / frame_seconds[size]:.1f}% of the frame time"
            )
        if "network_float32_seconds" in part:
            single, network = part["network_float32_seconds"], part["network_seconds"]
            lines.append(
                f"{size}: network pass {network:.3f} s in bfloat16, {single:.3f} s in float32 "
                f"({single / network:.2f}× faster)"
            )
        if "full_resolution_seconds" in part and size in frame_seconds:
            fused_total = part["network_seconds"] + part["synthesis_seconds"]
            full, kernel = part["full_resolution_seconds"], part["synthesis_seconds"]
            lines.append(
                f"{size}: network and convolution {fused_total:.3f} s with the light heads' "
                f"maps made inside the kernel, {full:.3f} s from full-resolution maps "
                f"({full / fused_total:.2f}× faster); that kernel {kernel:.3f} s, "
                f"{100 * kernel / frame_seconds[size]:.1f}% of the frame time"
            )
    model_640 = next(r for r in report["sizes"] if r["size"] == "640x480")["frame_seconds"]
    peers_ = report["peers"]
    quality_ = report.get("quality", {})

    def psnr_of(name_part: str) -> str:
        for method, scores in quality_.items():
            if name_part.lower() in method.lower():
                return ", ".join(f"{k} {v:.2f} dB" for k, v in scores.items() if v is not None)
        return "not measured"

    lines += [
        "",
        "640×480, seconds per interpolated frame (ratio to the model) and eval PSNR:",
        f"  DSepConv (shipped)      {model_640:.3f} s (1.00)   {psnr_of('DSepConv')}",
        f"  OpenCV DIS, halfway     {peers_['dis_seconds']:.3f} s "
        f"({peers_['dis_seconds'] / model_640:.2f})   "
        f"{psnr_of('DIS')}",
    ]
    if "minterpolate_seconds" in peers_:
        m = peers_["minterpolate_seconds"]
        lines.append(
            f"  ffmpeg minterpolate mci {m:.3f} s ({m / model_640:.2f})   {psnr_of('minterpolate')}"
            f"   → the model takes {model_640 / m:.1f}× ffmpeg's time"
        )
    tiling = report["tiling"]
    lines += [
        "",
        f"tiled ({tiling['tile']}) against untiled at 1920×1080: "
        f"{tiling['psnr_tiled_vs_untiled']:.1f} dB",
    ]
    e2e = report["end_to_end"]
    if "output_fps" in e2e:
        lines.append(
            f"export ×2 of a real {e2e['size']} clip ({e2e['frames_written']} frames, "
            f"decode + interpolate + encode): {e2e['output_fps']:.2f} frames/s"
            + (
                f"; ffmpeg minterpolate {e2e['ffmpeg_output_fps']:.1f} frames/s "
                f"({e2e['ffmpeg_output_fps'] / e2e['output_fps']:.1f}× faster)"
                if "ffmpeg_output_fps" in e2e
                else ""
            )
        )
    else:
        lines.append(f"end to end: {e2e.get('note')}")
    return "\n".join(lines)
