"""A bank of training triplets: crops of (frame 0, frame 1, frame 2) from real clips, with
the DIS flows between the outer frames computed on the whole frames and cropped alike.

Building the bank once (decoding, cut and static checks, optical flow) keeps the training
loop cheap; it is stored as two .npy files and a manifest in a cache folder.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from dsepconv_gui.base.errors import InputError
from dsepconv_gui.flow.layout import FLOW12, FLOW21
from dsepconv_gui.flow.prior import bidirectional_flow, searched_prior, searched_prior_signature
from dsepconv_gui.frames.scene_cuts import DEFAULT_CUT_THRESHOLD, thumbnail_difference
from dsepconv_gui.training.sources import Source, read_frames
from dsepconv_gui.training.workers import parallel_map


@dataclass(frozen=True)
class BankSettings:
    """How triplets are picked. Differences are mean absolute differences on 0..255."""

    crop: int = 160
    max_short_side: int = 360
    triplets_per_source: int = 100
    strides: tuple[int, ...] = (1, 2)
    cut_threshold: float = DEFAULT_CUT_THRESHOLD
    static_threshold: float = 2.0
    window_tries: int = 4
    # Windows instead of triplets: outer frames `span` frames apart for each span here, the
    # truth any frame between (times 1/span ... (span - 1)/span), for networks that take the
    # time (config.time_input); () picks midpoint triplets at `strides`.
    spans: tuple[int, ...] = ()
    with_flows: bool = True
    flow_scale: float = 1.0  # DIS on frames resized by this (the configuration's flow_scale)
    seed: int = 0


@dataclass
class TripletBank:
    """frames (N, 3, S, S, 3) uint8 RGB: the first frame, the truth, the last frame; flows
    (N, 4, S, S) float16 (DIS, 1→2 then 2→1) or None, or (N, 6, S, S) after
    with_prior_motion("searched"); source (N,) int; visibility (N, S, S) int8 for triplets
    whose occlusions are known (synthetic_occlusion.py), else None; times (N,) float32, where
    the truth lies between the outer frames (0..1), or None: all midpoints."""

    frames: np.ndarray
    flows: np.ndarray | None
    source: np.ndarray
    manifest: dict
    folder: Path | None = None  # where it is cached (derived flows are cached there too)
    visibility: np.ndarray | None = None
    times: np.ndarray | None = None

    def time_of(self, indices) -> np.ndarray:
        """The truth's time of these items, float32 (1/2 for a bank of midpoints)."""
        if self.times is None:
            return np.full(np.shape(indices), 0.5, np.float32)
        return np.asarray(self.times[indices], np.float32)

    def __len__(self) -> int:
        return len(self.frames)

    @classmethod
    def load(cls, folder: Path) -> TripletBank:
        manifest_path = folder / "manifest.json"
        if not manifest_path.exists():
            raise InputError(f"{folder}: not a triplet bank (no manifest.json)")
        manifest = json.loads(manifest_path.read_text())
        frames = np.load(folder / "frames.npy", mmap_mode="r")
        flows = (
            np.load(folder / "flows.npy", mmap_mode="r")
            if (folder / "flows.npy").exists()
            else None
        )
        visibility = (
            np.load(folder / "visibility.npy") if (folder / "visibility.npy").exists() else None
        )
        times = np.load(folder / "times.npy") if (folder / "times.npy").exists() else None
        return cls(
            frames=frames,
            flows=flows,
            source=np.load(folder / "source.npy"),
            manifest=manifest,
            folder=folder,
            visibility=visibility,
            times=times,
        )

    def with_prior_motion(
        self, motion: str, log: Callable[[str], None] = print, workers: int = 1
    ) -> TripletBank:
        """The bank with the flow input a network with this prior_motion takes. "searched"
        is derived from each stored crop and its DIS flows (flow.prior.searched_prior) at the
        crop's truth time (times: the finds are projected to where they are then), so
        an object within the search radius of a crop's edge can be missed; computed once
        and cached beside the bank as flows-searched-<signature of the search's settings>.npy."""
        if motion == "linear" or self.flows is None:
            return self
        shape = (len(self), 6, *self.flows.shape[2:])
        name = f"flows-{motion}-{searched_prior_signature()}.npy"
        path = self.folder / name if self.folder is not None else None
        if path is not None and path.exists():
            cached = np.load(path, mmap_mode="r")
            if cached.shape == shape:
                log(f"using the {motion} prior flows in {path}")
                return replace(self, flows=cached)
            log(f"{path} holds {cached.shape}, not {shape}: deriving it again")
        log(f"deriving the {motion} prior flows of {len(self)} triplets (once)")
        derived = np.empty(shape, np.float16)
        start = time.monotonic()
        chunks = [
            range(i, min(i + DERIVE_CHUNK, len(self))) for i in range(0, len(self), DERIVE_CHUNK)
        ]
        for chunk, flows in zip(
            chunks, parallel_map(_searched_flows, chunks, workers, shared=self), strict=True
        ):
            derived[chunk.start : chunk.stop] = flows
            log(f"  {chunk.stop}/{len(self)} ({time.monotonic() - start:.0f} s)")
        if path is None:
            return replace(self, flows=derived)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
        np.save(tmp, derived)
        tmp.replace(path)
        return replace(self, flows=np.load(path, mmap_mode="r"))

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / "frames.npy", self.frames)
        np.save(folder / "source.npy", self.source)
        if self.flows is not None:
            np.save(folder / "flows.npy", self.flows)
        if self.visibility is not None:
            np.save(folder / "visibility.npy", self.visibility)
        if self.times is not None:
            np.save(folder / "times.npy", self.times)
        (folder / "manifest.json").write_text(json.dumps(self.manifest, indent=2))


DERIVE_CHUNK = 16  # triplets per job when deriving flows


def _searched_flows(bank: TripletBank, chunk: range) -> np.ndarray:
    """The searched prior's flows (len(chunk), 6, S, S) float16 of some of a bank's triplets
    (of the truth's time)."""
    out = []
    for i, at in zip(chunk, bank.time_of(np.array(chunk)), strict=True):
        flows = np.asarray(bank.flows[i], dtype=np.float32)
        out.append(
            searched_prior(
                bank.frames[i, 0], bank.frames[i, 2], flows[FLOW12], flows[FLOW21], float(at)
            ).astype(np.float16)
        )
    return np.stack(out)


def build_bank(
    sources: list[Source],
    settings: BankSettings,
    log: Callable[[str], None] = print,
    workers: int = 1,
) -> TripletBank:
    """Pick up to settings.triplets_per_source triplets from every source, then compute their
    flows on the whole frames, `workers` processes at a time (workers.py; sources are picked
    one per process, flows a few triplets per job, so that the cores finish together). Each
    source's picks depend on the seed and its index only."""
    frames_out, pairs, source_out, times_out = [], [], [], []
    stats = {"cuts": 0, "static": 0, "too_small": 0}
    per_source = []
    start = time.monotonic()
    jobs = parallel_map(_triplets_of_source, enumerate(sources), workers, shared=settings)
    for index, (source, picked) in enumerate(zip(sources, jobs, strict=True)):
        for key in stats:
            stats[key] += picked["stats"][key]
        if picked["too_small"]:
            log(
                f"skip {source.name}: {picked['frames']} frames smaller than the "
                f"{settings.crop}-pixel crop"
            )
            continue
        frames_out += picked["triplets"]
        times_out += picked["times"]
        pairs += picked["pairs"]
        source_out += [index] * len(picked["triplets"])
        per_source.append(
            {"source": source.name, "frames": picked["frames"], "triplets": len(picked["triplets"])}
        )
        log(
            f"[{index + 1}/{len(sources)}] {source.name}: {len(picked['triplets'])} triplets from "
            f"{picked['frames']} frames ({time.monotonic() - start:.0f} s)"
        )
    if not frames_out:
        raise InputError("no usable triplets found in the training sources")
    flows = None
    if settings.with_flows:
        chunks = [pairs[i : i + FLOW_CHUNK] for i in range(0, len(pairs), FLOW_CHUNK)]
        flows, done = [], 0
        for chunk_flows in parallel_map(_crop_flows, chunks, workers, shared=settings.flow_scale):
            flows += chunk_flows
            done += len(chunk_flows)
            if done % (10 * FLOW_CHUNK) < FLOW_CHUNK or done == len(pairs):
                log(f"  flows: {done}/{len(pairs)} ({time.monotonic() - start:.0f} s)")
        flows = np.stack(flows)
    manifest = {
        "settings": asdict(settings),
        "stats": stats,
        "sources": per_source,
        "count": len(frames_out),
    }
    return TripletBank(
        frames=np.stack(frames_out),
        flows=flows,
        source=np.array(source_out, dtype=np.int32),
        manifest=manifest,
        times=np.array(times_out, np.float32) if settings.spans else None,
    )


FLOW_CHUNK = 8  # triplets per job when computing flows


def _crop_flows(
    flow_scale: float, chunk: list[tuple[np.ndarray, np.ndarray, int, int, int]]
) -> list[np.ndarray]:
    """DIS flows of whole frame pairs (frame 0, frame 2, y, x, side), cropped, float16."""
    return [
        bidirectional_flow(f0, f2, flow_scale)[:, y : y + s, x : x + s].astype(np.float16)
        for f0, f2, y, x, s in chunk
    ]


def _triplets_of_source(settings: BankSettings, job: tuple[int, Source]) -> dict:
    """One source's triplets (crops), the whole outer frames of each (for their flows), and
    what was skipped."""
    index, source = job
    rng = np.random.default_rng([settings.seed, index])
    s = settings.crop
    stats = {"cuts": 0, "static": 0, "too_small": 0}
    frames = list(read_frames(source, settings.max_short_side))
    picked = {
        "frames": len(frames),
        "triplets": [],
        "times": [],
        "pairs": [],
        "stats": stats,
        "too_small": False,
    }
    if not frames or min(frames[0].shape[:2]) < s:
        stats["too_small"] += 1
        picked["too_small"] = True
        return picked
    # (first frame, frames to the truth, frames to the last)
    if settings.spans:
        candidates = [
            (t, j, m) for m in settings.spans for j in range(1, m) for t in range(len(frames) - m)
        ]
    else:
        candidates = [(t, k, 2 * k) for k in settings.strides for t in range(len(frames) - 2 * k)]
    rng.shuffle(candidates)
    for t, j, m in candidates:
        if len(picked["triplets"]) >= settings.triplets_per_source:
            break
        f0, f1, f2 = frames[t], frames[t + j], frames[t + m]
        if (
            thumbnail_difference(f0, f1) > settings.cut_threshold
            or thumbnail_difference(f1, f2) > settings.cut_threshold
        ):
            stats["cuts"] += 1
            continue
        h, w = f0.shape[:2]
        best, best_motion = None, -1.0
        for _ in range(settings.window_tries):
            y, x = int(rng.integers(0, h - s + 1)), int(rng.integers(0, w - s + 1))
            motion = float(
                np.abs(f0[y : y + s, x : x + s].astype(np.int16) - f2[y : y + s, x : x + s]).mean()
            )
            if motion > best_motion:
                best, best_motion = (y, x), motion
        if best_motion < settings.static_threshold:
            stats["static"] += 1
            continue
        y, x = best
        picked["triplets"].append(np.stack([f[y : y + s, x : x + s] for f in (f0, f1, f2)]))
        picked["times"].append(j / m)
        picked["pairs"].append((f0, f2, y, x, s))
    return picked


def bank_folder(cache_root: Path, sources: list[Source], settings: BankSettings) -> Path:
    """The cache folder of the bank for these sources and settings (a hash of both)."""
    import hashlib

    names = [str(s.path.resolve()) for s in sources]
    described = asdict(settings)
    if settings.flow_scale == 1.0:
        del described["flow_scale"]  # banks cached before flow_scale existed keep their folder
    if not settings.spans:
        del described["spans"]  # likewise before spans
    key = json.dumps({"sources": names, "settings": described}, sort_keys=True)
    return cache_root / f"bank-{hashlib.sha1(key.encode()).hexdigest()[:12]}"


def load_or_build_bank(
    cache_root: Path,
    sources: list[Source],
    settings: BankSettings,
    log: Callable[[str], None] = print,
    workers: int = 1,
) -> TripletBank:
    folder = bank_folder(cache_root, sources, settings)
    if (folder / "manifest.json").exists():
        log(f"using the triplet bank in {folder}")
        return TripletBank.load(folder)
    log(f"building a triplet bank from {len(sources)} sources into {folder} (once)")
    bank = build_bank(sources, settings, log, workers)
    bank.save(folder)
    return TripletBank.load(folder)
