"""Writing what the network computed for one pair to a folder: raw arrays (.npy) for analysis
and pictures (.png) for looking, with a JSON manifest that says what each file holds."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch

from dsepconv_gui.base.errors import InputError
from dsepconv_gui.frames.field_files import write_exr, write_flo, write_png16
from dsepconv_gui.frames.images import write_image
from dsepconv_gui.frames.visualize import color_wheel_legend, flow_to_color, heatmap, montage
from dsepconv_gui.interpolation.interpolator import InterpolationResult
from dsepconv_gui.model.deformable_separable_conv import (
    mean_displacement,
    tap_weights,
    weighted_tap_mean,
)
from dsepconv_gui.model.network import DeformableTerm, prior_start


def term_mean_displacement(term: DeformableTerm[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The weight-averaged displacement (dy, dx), each (H, W), of a numpy term."""
    tensors = [
        None if a is None else torch.from_numpy(a)[None]
        for a in (term.vertical, term.horizontal, term.offset_y, term.offset_x, term.mask)
    ]
    dy, dx = mean_displacement(*tensors)
    return dy[0].numpy(), dx[0].numpy()


def term_learned_shift(
    term: DeformableTerm[np.ndarray], sampling: str | None
) -> tuple[np.ndarray, np.ndarray] | None:
    """What the network added to where the flow prior started the taps (dy, dx), each (H, W):
    each tap's offset less its start (prior_start, by the configuration's prior_sampling),
    weight-averaged as term_mean_displacement is. None for a model without a flow prior.
    Zero where a model with gated offsets trusts the prior."""
    if term.prior is None or sampling is None:
        return None
    n = term.vertical.shape[0]
    start = prior_start(torch.from_numpy(term.prior)[None], n, sampling)
    mask = None if term.mask is None else torch.from_numpy(term.mask)[None]
    dy, dx = weighted_tap_mean(
        torch.from_numpy(term.vertical)[None],
        torch.from_numpy(term.horizontal)[None],
        mask,
        torch.from_numpy(term.offset_y)[None] - start.offset_y,
        torch.from_numpy(term.offset_x)[None] - start.offset_x,
    )
    return dy[0].numpy(), dx[0].numpy()


def term_total_weight(term: DeformableTerm[np.ndarray]) -> np.ndarray:
    """Σ_ij v_i·h_j·m_ij (H, W) of a numpy term: how much of the output its frame makes up.
    The two frames' weights decide the blend (1/2 each where both see the pixel)."""
    mask = None if term.mask is None else torch.from_numpy(term.mask)[None]
    weights = tap_weights(
        torch.from_numpy(term.vertical)[None], torch.from_numpy(term.horizontal)[None], mask
    )
    return weights[0].sum(dim=0).numpy()


def write_intermediates(
    result: InterpolationResult,
    folder: str | os.PathLike,
    source: dict | None = None,
) -> Path:
    """Write every intermediate of `result` (which must carry terms) into folder; returns the
    manifest path. Offset pictures of both frames share one colour scale, given in the manifest;
    `source` (the clip, the frames, the model) is recorded in it. frame1 is the pair's first
    frame (A in the app), frame2 its second (B). A model with a flow prior also gets what the
    network added to it (term_learned_shift)."""
    if result.terms is None:
        raise InputError("no intermediates to write: interpolate with with_terms=True")
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{folder}: cannot create folder ({exc.strerror or exc})") from None
    n = result.kernel_size
    files: dict[str, str] = {}

    def save_array(name: str, array: np.ndarray, what: str) -> None:
        try:
            np.save(folder / name, array)
        except OSError as exc:
            raise InputError(f"{folder / name}: cannot write ({exc.strerror or exc})") from None
        files[name] = f"{what}, shape {list(array.shape)}, float32"

    def save_picture(name: str, image: np.ndarray, what: str) -> None:
        write_image(folder / name, image)
        files[name] = what

    means = [term_mean_displacement(term) for term in result.terms]
    offset_scale = max(
        max(float(np.hypot(t.offset_y, t.offset_x).max(initial=0.0)) for t in result.terms), 1e-6
    )
    mean_scale = max(max(float(np.hypot(dy, dx).max(initial=0.0)) for dy, dx in means), 1e-6)
    learned = [term_learned_shift(term, result.prior_sampling) for term in result.terms]
    learned_scale = max(
        [float(np.hypot(*shift).max(initial=0.0)) for shift in learned if shift is not None]
        + [1e-6]
    )

    for index, (term, (mean_dy, mean_dx), shift) in enumerate(
        zip(result.terms, means, learned, strict=True), start=1
    ):
        p = f"frame{index}_"
        if shift is not None:
            save_array(
                p + "learned_shift.npy",
                np.stack(shift),
                "what the network added to the flow prior's start: each tap's offset less its "
                "start, weight-averaged (dy, dx) (2, H, W); 0 where gated offsets trust the prior",
            )
            save_picture(
                p + "learned_shift.png",
                flow_to_color(*shift, learned_scale),
                f"what the network added to the flow as flow colours, full saturation at "
                f"{learned_scale:.3f} px",
            )
        save_array(p + "vertical.npy", term.vertical, "vertical 1-D kernel (n, H, W)")
        save_array(p + "horizontal.npy", term.horizontal, "horizontal 1-D kernel (n, H, W)")
        save_array(
            p + "offset_y.npy",
            term.offset_y,
            "vertical tap offsets in pixels (n*n, H, W), tap k = i*n + j",
        )
        save_array(
            p + "offset_x.npy",
            term.offset_x,
            "horizontal tap offsets in pixels (n*n, H, W), tap k = i*n + j",
        )
        save_array(p + "result.npy", term.result, "deformable result (H, W, 3), [0, 1] units")
        save_array(
            p + "mean_displacement.npy",
            np.stack([mean_dy, mean_dx]),
            "weight-averaged read position minus pixel position (dy, dx) (2, H, W)",
        )
        save_picture(
            p + "result.png",
            np.clip(term.result * 255 + 0.5, 0, 255).astype(np.uint8),
            f"frame {index} convolved with its own kernels, offsets and masks",
        )
        save_picture(
            p + "offsets_taps.png",
            montage(
                [
                    flow_to_color(term.offset_y[k], term.offset_x[k], offset_scale)
                    for k in range(n * n)
                ],
                n,
            ),
            f"offset of each tap as flow colours, n×n grid of taps, "
            f"full saturation at {offset_scale:.3f} px",
        )
        save_picture(
            p + "mean_displacement.png",
            flow_to_color(mean_dy, mean_dx, mean_scale),
            f"weight-averaged displacement as flow colours, full saturation at {mean_scale:.3f} px",
        )
        kernel_range = max(
            float(np.abs(term.vertical).max()), float(np.abs(term.horizontal).max()), 1e-6
        )
        kernel_tiles = [heatmap(term.vertical[i], -kernel_range, kernel_range) for i in range(n)]
        kernel_tiles += [heatmap(term.horizontal[j], -kernel_range, kernel_range) for j in range(n)]
        save_picture(
            p + "kernels.png",
            montage(kernel_tiles, n),
            f"top row vertical v_0..v_{n - 1}, bottom row horizontal h_0..h_{n - 1}; "
            f"viridis from {-kernel_range:.4f} to {kernel_range:.4f}",
        )
        weight = term_total_weight(term)
        save_array(
            p + "total_weight.npy",
            weight,
            "total weight of the frame's taps, sum of v_i*h_j*m_ij (H, W)",
        )
        save_picture(
            p + "total_weight.png",
            heatmap(weight, 0.0, 1.0),
            "total weight of the frame's taps (what decides the blend), viridis from 0 to 1",
        )
        if term.mask is not None:
            save_array(
                p + "mask.npy", term.mask, "modulation mask in [0, 1] (n*n, H, W), tap k = i*n + j"
            )
            save_picture(
                p + "mask_taps.png",
                montage([heatmap(term.mask[k], 0.0, 1.0) for k in range(n * n)], n),
                "mask of each tap, n×n grid of taps, viridis from 0 to 1",
            )
            save_picture(
                p + "mask_mean.png",
                heatmap(term.mask.mean(axis=0), 0.0, 1.0),
                "mean mask over the taps, viridis from 0 to 1",
            )

    # For compositing tools: Nuke reads forward.* and backward.* as its motion-vector layers
    # (u right, v up: hence -dy); frame 2 is the next frame, frame 1 the previous one.
    (dy1, dx1), (dy2, dx2) = means
    write_exr(
        folder / "motion.exr",
        {"forward.u": dx2, "forward.v": -dy2, "backward.u": dx1, "backward.v": -dy1},
    )
    files["motion.exr"] = (
        "float EXR: forward.u/v = frame 2's weighted mean displacement, backward.u/v = frame "
        "1's, in pixels, v pointing up (Nuke's motion vectors)"
    )
    for index, ((dy, dx), term) in enumerate(zip(means, result.terms, strict=True), start=1):
        p = f"frame{index}_"
        write_flo(folder / (p + "mean_displacement.flo"), dy, dx)
        files[p + "mean_displacement.flo"] = "weighted mean displacement as Middlebury .flo"
        maps = {"weight": term_total_weight(term)}
        if term.mask is not None:
            maps["mask"] = term.mask.mean(axis=0)
        write_exr(folder / (p + "maps.exr"), {f"{name}.Y": a for name, a in maps.items()})
        files[p + "maps.exr"] = (
            f"float EXR: {', '.join(f'{n}.Y' for n in maps)} (mean mask, total weight)"
        )
        for name, values in maps.items():
            write_png16(folder / f"{p}{name}16.png", values)
            files[f"{p}{name}16.png"] = f"{name} as 16-bit greyscale PNG, 0..1 → 0..65535"

    save_picture("output.png", result.frame, "the interpolated frame (sum of the two results)")
    save_picture(
        "offsets_legend.png",
        color_wheel_legend(),
        "flow colour key: direction as hue, length as saturation",
    )
    manifest = {
        "source": source or {},
        "frames": "frame1 = the pair's first frame (A in the app), frame2 = its second (B)",
        "kernel_size": n,
        "time": result.time,
        "height": int(result.frame.shape[0]),
        "width": int(result.frame.shape[1]),
        "device": result.device,
        "offset_color_scale_px": offset_scale,
        "mean_displacement_color_scale_px": mean_scale,
        "files": files,
    }
    path = folder / "intermediates.json"
    path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
    return path
