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

from ..core.errors import InputError
from ..core.flow_prior import bidirectional_flow, searched_prior, searched_prior_signature
from ..core.scene_cuts import DEFAULT_CUT_THRESHOLD, thumbnail_difference
from .sources import Source, read_frames


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
    with_flows: bool = True
    flow_scale: float = 1.0  # DIS on frames resized by this (the configuration's flow_scale)
    seed: int = 0


@dataclass
class TripletBank:
    """frames (N, 3, S, S, 3) uint8 RGB; flows (N, 4, S, S) float16 (DIS, 1→2 then 2→1) or
    None, or (N, 6, S, S) after with_prior_motion("searched"); source (N,) int."""

    frames: np.ndarray
    flows: np.ndarray | None
    source: np.ndarray
    manifest: dict
    folder: Path | None = None  # where it is cached (derived flows are cached there too)

    def __len__(self) -> int:
        return len(self.frames)

    @classmethod
    def load(cls, folder: Path) -> TripletBank:
        manifest_path = folder / "manifest.json"
        if not manifest_path.exists():
            raise InputError(f"{folder}: not a triplet bank (no manifest.json)")
        manifest = json.loads(manifest_path.read_text())
        frames = np.load(folder / "frames.npy", mmap_mode="r")
        flows = np.load(folder / "flows.npy", mmap_mode="r") if (folder / "flows.npy").exists() else None
        return cls(frames=frames, flows=flows, source=np.load(folder / "source.npy"), manifest=manifest, folder=folder)

    def with_prior_motion(self, motion: str, log: Callable[[str], None] = print) -> TripletBank:
        """The bank with the flow input a network with this prior_motion takes. "searched"
        is derived from each stored crop and its DIS flows (flow_prior.searched_prior), so
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
        for i in range(len(self)):
            flows = np.asarray(self.flows[i], dtype=np.float32)
            derived[i] = searched_prior(self.frames[i, 0], self.frames[i, 2], flows[0:2], flows[2:4])
            if (i + 1) % 200 == 0:
                log(f"  {i + 1}/{len(self)} ({time.monotonic() - start:.0f} s)")
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
        (folder / "manifest.json").write_text(json.dumps(self.manifest, indent=2))


def build_bank(
    sources: list[Source],
    settings: BankSettings,
    log: Callable[[str], None] = print,
) -> TripletBank:
    """Pick up to settings.triplets_per_source triplets from every source."""
    rng = np.random.default_rng(settings.seed)
    s = settings.crop
    frames_out, flows_out, source_out = [], [], []
    stats = {"cuts": 0, "static": 0, "too_small": 0}
    per_source = []
    start = time.monotonic()
    for index, source in enumerate(sources):
        frames = list(read_frames(source, settings.max_short_side))
        if not frames or min(frames[0].shape[:2]) < s:
            stats["too_small"] += 1
            log(f"skip {source.name}: {len(frames)} frames smaller than the {s}-pixel crop")
            continue
        candidates = [(t, k) for k in settings.strides for t in range(len(frames) - 2 * k)]
        rng.shuffle(candidates)
        taken = 0
        for t, k in candidates:
            if taken >= settings.triplets_per_source:
                break
            f0, f1, f2 = frames[t], frames[t + k], frames[t + 2 * k]
            if thumbnail_difference(f0, f1) > settings.cut_threshold or thumbnail_difference(f1, f2) > settings.cut_threshold:
                stats["cuts"] += 1
                continue
            h, w = f0.shape[:2]
            best, best_motion = None, -1.0
            for _ in range(settings.window_tries):
                y, x = int(rng.integers(0, h - s + 1)), int(rng.integers(0, w - s + 1))
                motion = float(np.abs(f0[y:y + s, x:x + s].astype(np.int16) - f2[y:y + s, x:x + s]).mean())
                if motion > best_motion:
                    best, best_motion = (y, x), motion
            if best_motion < settings.static_threshold:
                stats["static"] += 1
                continue
            y, x = best
            frames_out.append(np.stack([f[y:y + s, x:x + s] for f in (f0, f1, f2)]))
            if settings.with_flows:
                flows_out.append(bidirectional_flow(f0, f2, settings.flow_scale)[:, y:y + s, x:x + s].astype(np.float16))
            source_out.append(index)
            taken += 1
        per_source.append({"source": source.name, "frames": len(frames), "triplets": taken})
        log(f"[{index + 1}/{len(sources)}] {source.name}: {taken} triplets from {len(frames)} frames "
            f"({time.monotonic() - start:.0f} s)")
    if not frames_out:
        raise InputError("no usable triplets found in the training sources")
    manifest = {"settings": asdict(settings), "stats": stats, "sources": per_source, "count": len(frames_out)}
    return TripletBank(
        frames=np.stack(frames_out),
        flows=np.stack(flows_out) if settings.with_flows else None,
        source=np.array(source_out, dtype=np.int32),
        manifest=manifest,
    )


def bank_folder(cache_root: Path, sources: list[Source], settings: BankSettings) -> Path:
    """The cache folder of the bank for these sources and settings (a hash of both)."""
    import hashlib

    names = [str(s.path.resolve()) for s in sources]
    described = asdict(settings)
    if settings.flow_scale == 1.0:
        del described["flow_scale"]  # banks cached before flow_scale existed keep their folder
    key = json.dumps({"sources": names, "settings": described}, sort_keys=True)
    return cache_root / f"bank-{hashlib.sha1(key.encode()).hexdigest()[:12]}"


def load_or_build_bank(
    cache_root: Path, sources: list[Source], settings: BankSettings, log: Callable[[str], None] = print
) -> TripletBank:
    folder = bank_folder(cache_root, sources, settings)
    if (folder / "manifest.json").exists():
        log(f"using the triplet bank in {folder}")
        return TripletBank.load(folder)
    log(f"building a triplet bank from {len(sources)} sources into {folder} (once)")
    bank = build_bank(sources, settings, log)
    bank.save(folder)
    return TripletBank.load(folder)
