"""`dsepconv eval`: the model and the classical interpolators on benchmark triplets, one table.

A benchmark folder holds sequence folders in either layout:
- Middlebury: frame10.png, frame11.png and the truth frame10i11.png;
- triplets (UCF101/DVF, Vimeo-style): frame0.png, frame2.png and the truth frame1.png.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from dsepconv_gui.base.errors import InputError
from dsepconv_gui.frames.images import read_image, write_image
from dsepconv_gui.frames.metrics import SSIM_MIN_SIDE, interpolation_error, psnr, ssim

LAYOUTS = (
    ("middlebury", "frame10.png", "frame11.png", "frame10i11.png"),
    ("triplet", "frame0.png", "frame2.png", "frame1.png"),
)

Interpolate = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Sequence:
    name: str
    frame_a: Path
    frame_b: Path
    truth: Path


@dataclass(frozen=True)
class Score:
    sequence: str
    psnr: float
    ssim: float | None  # None for frames too small for SSIM (frames.metrics.SSIM_MIN_SIDE)
    ie: float
    seconds: float


def find_sequences(root: Path) -> list[Sequence]:
    """The sequences under root (or root itself, if it is one), layout detected per folder."""
    if not root.is_dir():
        raise InputError(f"{root}: not a folder")
    folders = [root] + sorted(p for p in root.iterdir() if p.is_dir())
    sequences = []
    for folder in folders:
        for _, a, b, truth in LAYOUTS:
            if all((folder / name).exists() for name in (a, b, truth)):
                sequences.append(Sequence(folder.name, folder / a, folder / b, folder / truth))
                break
    if not sequences:
        raise InputError(
            f"{root}: no sequences found (expected folders with frame10.png, frame11.png, "
            "frame10i11.png or frame0.png, frame2.png, frame1.png)"
        )
    return sequences


def score_method(
    interpolate: Interpolate, sequences: list[Sequence], save_dir: Path | None = None
) -> list[Score]:
    scores = []
    for sequence in sequences:
        a, b, truth = (
            read_image(sequence.frame_a),
            read_image(sequence.frame_b),
            read_image(sequence.truth),
        )
        start = time.perf_counter()
        prediction = interpolate(a, b)
        seconds = time.perf_counter() - start
        if prediction.shape != truth.shape:
            raise InputError(
                f"{sequence.name}: prediction {prediction.shape} and truth {truth.shape} differ"
            )
        if save_dir is not None:
            (save_dir / sequence.name).mkdir(parents=True, exist_ok=True)
            write_image(save_dir / sequence.name / sequence.truth.name, prediction)
        scores.append(
            Score(
                sequence.name,
                psnr(prediction, truth),
                ssim(prediction, truth),
                interpolation_error(prediction, truth),
                seconds,
            )
        )
    return scores


def evaluate(
    roots: list[Path],
    methods: dict[str, Interpolate],
    save_method: str | None = None,
    save_dir: Path | None = None,
    log: Callable[[str], None] = lambda message: None,
) -> dict[str, dict[str, list[Score]]]:
    """{benchmark name: {method name: per-sequence scores}}; frames of save_method are written
    under save_dir/<benchmark>/<sequence>/<truth file name>, which may not be an input frame
    (a save_dir that holds the benchmarks): InputError before any work."""
    found = [(root, find_sequences(root)) for root in roots]
    if save_dir is not None:
        _check_save_targets(save_dir, found)
    results: dict[str, dict[str, list[Score]]] = {}
    for root, sequences in found:
        results[root.name] = {}
        for method, interpolate in methods.items():
            log(f"{root.name}: {method} on {len(sequences)} sequences")
            target = (
                save_dir / root.name if save_dir is not None and method == save_method else None
            )
            results[root.name][method] = score_method(interpolate, sequences, target)
    return results


def _check_save_targets(save_dir: Path, found: list[tuple[Path, list[Sequence]]]) -> None:
    """InputError when a frame eval would save is one of the input frames (by any spelling)."""
    inputs = {}
    for _, sequences in found:
        for sequence in sequences:
            for path in (sequence.frame_a, sequence.frame_b, sequence.truth):
                info = path.stat()
                inputs[(info.st_dev, info.st_ino)] = path
    for root, sequences in found:
        for sequence in sequences:
            target = save_dir / root.name / sequence.name / sequence.truth.name
            try:
                info = target.stat()
            except OSError:
                continue  # not there yet: nothing to overwrite
            source = inputs.get((info.st_dev, info.st_ino))
            if source is not None:
                raise InputError(
                    f"{target}: is the input frame {source}; choose a --save-dir outside the "
                    f"benchmark folders (an input is never overwritten)"
                )


def summary(scores: list[Score]) -> dict[str, float | None]:
    """Means over the sequences; SSIM over those that have one (None if none has)."""
    means: dict[str, float | None] = {}
    for key in ("psnr", "ssim", "ie", "seconds"):
        values = [getattr(s, key) for s in scores if getattr(s, key) is not None]
        means[key] = float(np.mean(values)) if values else None
    return means


def format_table(results: dict[str, dict[str, list[Score]]], notes: list[str] = ()) -> str:
    """One row per method, one PSNR / SSIM / IE column group per benchmark."""
    benchmarks = list(results)
    methods: list[str] = []
    for per_method in results.values():
        methods += [m for m in per_method if m not in methods]
    header = ["method"] + [f"{b} PSNR / SSIM / IE (s/frame)" for b in benchmarks]
    rows = []
    for method in methods:
        row = [method]
        for benchmark in benchmarks:
            scores = results[benchmark].get(method)
            if scores:
                s = summary(scores)
                ssim_text = "n/a" if s["ssim"] is None else f"{s['ssim']:.4f}"
                row.append(f"{s['psnr']:.2f} / {ssim_text} / {s['ie']:.2f} ({s['seconds']:.2f})")
            else:
                row.append("n/a")
        rows.append(row)
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    line = lambda cells: (  # noqa: E731
        "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"
    )
    text = [line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [
        line(r) for r in rows
    ]
    counts = ", ".join(f"{b}: {len(next(iter(results[b].values())))} sequences" for b in benchmarks)
    no_ssim = sorted(
        {
            s.sequence
            for per_method in results.values()
            for scores in per_method.values()
            for s in scores
            if s.ssim is None
        }
    )
    if no_ssim:
        notes = [
            *notes,
            f"SSIM not computed for {len(no_ssim)} sequence(s) under "
            f"{SSIM_MIN_SIDE}×{SSIM_MIN_SIDE} "
            f"pixels ({', '.join(no_ssim[:5])}{', ...' if len(no_ssim) > 5 else ''})",
        ]
    return "\n".join(text + [counts] + list(notes))


def results_to_json(results: dict[str, dict[str, list[Score]]], extra: dict | None = None) -> str:
    data = {
        "results": {
            benchmark: {
                method: {"mean": summary(scores), "sequences": [asdict(s) for s in scores]}
                for method, scores in per_method.items()
            }
            for benchmark, per_method in results.items()
        }
    }
    data.update(extra or {})
    return json.dumps(data, indent=2)
