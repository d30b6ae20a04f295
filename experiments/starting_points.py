"""Score candidate starting points of the flow-prior network (no learning involved) on a
selection set drawn from the training footage and on the benchmarks. Produces the table
"How the starting point was chosen" in models/README.md:

    python experiments/starting_points.py            # selection set (training footage)
    python experiments/starting_points.py --benchmarks
    python experiments/starting_points.py --only search --only projected   # only these rows

All candidates use the same OpenCV DIS flows (dsepconv_gui.flow.prior.dis_flow).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dsepconv_gui.flow.prior import bidirectional_flow, dis_flow, searched_prior  # noqa: E402
from dsepconv_gui.flow.projection import linear_middle, middle_displacement  # noqa: E402
from dsepconv_gui.flow.search import consistent_repairs, repaired_flow  # noqa: E402
from dsepconv_gui.frames.images import read_image  # noqa: E402
from dsepconv_gui.frames.scene_cuts import thumbnail_difference  # noqa: E402
from dsepconv_gui.training.sources import discover_sources, read_frames  # noqa: E402

DATA = ROOT.parent / "shared" / "data"


def selection_set(per_source: int = 4) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """Triplets (stride 1) spread over every training source, cuts and static ones skipped."""
    triplets = []
    for source in discover_sources([DATA / "train" / "clips", DATA / "train" / "davis2016-val"]):
        frames = list(read_frames(source, 360))
        kept = 0
        for i in np.linspace(5, len(frames) - 3, per_source * 3).astype(int):
            f0, f1, f2 = frames[i], frames[i + 1], frames[i + 2]
            if thumbnail_difference(f0, f2) > 30 or np.abs(f0.astype(int) - f2).mean() < 2:
                continue
            triplets.append(("selection", f0, f1, f2))
            kept += 1
            if kept == per_source:
                break
    return triplets


def benchmark_set():
    root = DATA / "benchmarks"
    out = [
        (
            "middlebury-other",
            *(read_image(d / n) for n in ("frame10.png", "frame10i11.png", "frame11.png")),
        )
        for d in sorted((root / "middlebury-other").iterdir())
    ]
    out += [
        ("ucf101-dvf21", *(read_image(d / f"frame{k}.png") for k in range(3)))
        for d in sorted((root / "ucf101-dvf21").iterdir())
    ]
    return out


def sample(field: np.ndarray, d: np.ndarray, interpolation=cv2.INTER_LINEAR) -> np.ndarray:
    """Each channel of field (C, H, W) or image (H, W, C) read at p + d(p), d (2, H, W) as
    (dy, dx)."""
    h, w = d.shape[1:]
    rows, cols = np.mgrid[0:h, 0:w].astype(np.float32)
    mx, my = cols + d[1], rows + d[0]
    if field.ndim == 3 and field.shape[0] in (2, 4):
        return np.stack(
            [cv2.remap(c, mx, my, interpolation, borderMode=cv2.BORDER_REPLICATE) for c in field]
        )
    return cv2.remap(field, mx, my, interpolation, borderMode=cv2.BORDER_REPLICATE).astype(
        np.float32
    )


def fixed_point(flow: np.ndarray, iterations: int = 3) -> np.ndarray:
    """d with d = -flow(p + d)/2: where the middle pixel p came from, following the flow."""
    d = -0.5 * flow
    for _ in range(iterations):
        d = -0.5 * sample(flow, d)
    return d


def candidates(f12, f21):
    d = 0.25 * (f21 - f12)
    a, b = fixed_point(f12), fixed_point(f21)
    s = 0.5 * (a - b)
    return [(d, -d), (s, -s), (a, b), (a, -a), (-b, b)]


def soft_choice(pairs, f0, f2, interpolation, sigma=2.0, temperature=10.0):
    """Per pixel, candidates weighted by how well the two frames agree there."""
    outs, costs = [], []
    for d1, d2 in pairs:
        w1, w2 = sample(f0, d1, interpolation), sample(f2, d2, interpolation)
        outs.append((w1 + w2) / 2)
        costs.append(cv2.GaussianBlur(np.abs(w1 - w2).sum(axis=2), (0, 0), sigma))
    costs = np.stack(costs)
    weights = np.exp(-(costs - costs.min(0)) / temperature)
    weights /= weights.sum(0)
    return (np.stack(outs) * weights[..., None]).sum(0)


def flows(f0, f2, scale=1.0):
    if scale == 1.0:
        return dis_flow(f0, f2), dis_flow(f2, f0)
    h, w = f0.shape[:2]
    up = [
        cv2.resize(f, (int(w * scale), int(h * scale)), interpolation=cv2.INTER_CUBIC)
        for f in (f0, f2)
    ]
    back = lambda f: np.stack([cv2.resize(c, (w, h)) for c in f]) / scale  # noqa: E731
    return back(dis_flow(up[0], up[1])), back(dis_flow(up[1], up[0]))


def project_all(f12, f21):
    """Every pixel of both frames carried to where it is halfway (four nearest pixels); where
    several land, the motion farthest from the frame's median wins (ties within 0.5 px
    averaged); the linear estimate where nothing lands."""
    h, w = f12.shape[1:]
    rows, cols = np.mgrid[0:h, 0:w].astype(np.float32)
    targets, motions, priorities = [], [], []
    for flow, sign in ((f12, -1.0), (f21, 1.0)):
        priority = np.hypot(*(flow - np.median(flow.reshape(2, -1), axis=1)[:, None, None]))
        for oy in (0, 1):
            for ox in (0, 1):
                ty = np.floor(rows + 0.5 * flow[0]).astype(int) + oy
                tx = np.floor(cols + 0.5 * flow[1]).astype(int) + ox
                inside = (ty >= 0) & (ty < h) & (tx >= 0) & (tx < w)
                targets.append((ty * w + tx)[inside])
                motions.append(sign * 0.5 * flow[:, inside])
                priorities.append(priority[inside])
    target, motion, priority = (
        np.concatenate(targets),
        np.concatenate(motions, 1),
        np.concatenate(priorities),
    )
    best = np.full(h * w, -1.0)
    np.maximum.at(best, target, priority)
    keep = priority >= best[target] - 0.5
    target, motion = target[keep], motion[:, keep]
    count = np.bincount(target, minlength=h * w)
    out = linear_middle(f12, f21).reshape(2, -1).copy()
    for c in range(2):
        out[c, count > 0] = (
            np.bincount(target, motion[c], minlength=h * w)[count > 0] / count[count > 0]
        )
    return out.reshape(2, h, w)


def starts(f0, f2):
    """(name, compute) for every candidate start; compute() gives the frame."""
    f12, f21 = flows(f0, f2)
    d = 0.25 * (f21 - f12)

    def bilinear(d):
        return (sample(f0, d) + sample(f2, -d)) / 2

    def bicubic(d):
        return (sample(f0, d, cv2.INTER_CUBIC) + sample(f2, -d, cv2.INTER_CUBIC)) / 2

    def fixed_point_start():
        s = 0.5 * (fixed_point(f12) - fixed_point(f21))
        return bilinear(s)

    def occlusion_weights():
        e1 = np.linalg.norm(sample(f12, d) + sample(f21, d + sample(f12, d)), axis=0)
        e2 = np.linalg.norm(sample(f21, -d) + sample(f12, -d + sample(f21, -d)), axis=0)
        a1, a2 = np.exp(-(e1**2)), np.exp(-(e2**2))
        weight = ((a1 + 1e-3) / (a1 + a2 + 2e-3))[..., None]
        return weight * sample(f0, d) + (1 - weight) * sample(f2, -d)

    repaired = {}

    def repairs():
        if not repaired:
            repaired["r"] = repaired_flow(f0, f2, f12), repaired_flow(f2, f0, f21)
        return repaired["r"]

    return [
        ("bilinear read at the symmetric prior", lambda: bilinear(d)),
        ("bicubic read at the symmetric prior", lambda: bicubic(d)),
        ("bilinear, prior by fixed-point iteration", fixed_point_start),
        ("bilinear, forward-backward occlusion weights", occlusion_weights),
        (
            "bicubic, soft choice among 5 candidates",
            lambda: soft_choice(candidates(f12, f21), f0, f2, cv2.INTER_CUBIC),
        ),
        (
            "same, DIS on frames upscaled 1.5x",
            lambda: soft_choice(candidates(*flows(f0, f2, 1.5)), f0, f2, cv2.INTER_CUBIC),
        ),
        ("bicubic, every pixel projected to the middle", lambda: bicubic(project_all(f12, f21))),
        (
            "bicubic, search repairs unchecked, every pixel projected",
            lambda: bicubic(project_all(*repairs())),
        ),
        (
            "bicubic, search finds checked both ways and projected",
            lambda: bicubic(middle_displacement(*consistent_repairs(f12, f21, *repairs()))),
        ),
        (
            "search finds projected, DIS on frames upscaled 1.5x (shipped)",
            lambda: bicubic(
                searched_prior(f0, f2, *np.split(bidirectional_flow(f0, f2, 1.5), 2))[4:6]
            ),
        ),
    ]


def psnr(prediction, truth):
    prediction = np.clip(np.round(prediction), 0, 255)
    mse = ((prediction - truth.astype(np.float64)) ** 2).mean()
    return 10 * np.log10(255**2 / max(mse, 1e-12))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--benchmarks", action="store_true", help="score on the benchmarks instead")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="TEXT",
        help="only the starts whose name contains TEXT (repeatable: any of them)",
    )
    args = parser.parse_args()
    data = benchmark_set() if args.benchmarks else selection_set()
    scores: dict[tuple[str, str], list[float]] = {}
    for group, f0, truth, f2 in data:
        for name, compute in starts(f0, f2):
            if args.only and not any(text in name for text in args.only):
                continue
            frame = compute()
            scores.setdefault((name, group), []).append(psnr(frame, truth))
    for (name, group), values in scores.items():
        print(f"{name:<56} {group:<18} {np.mean(values):7.3f} dB ({len(values)} triplets)")


if __name__ == "__main__":
    main()
