"""Where training triplets come from: video files, folders of numbered frames, and the
Vimeo90K `vimeo_triplet/` layout. Every source yields RGB uint8 frames, scaled down so that
the shorter side is at most `max_short_side` (compressed footage is cleaner smaller)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from dsepconv_gui.base.errors import InputError
from dsepconv_gui.frames.images import read_image
from dsepconv_gui.video.clips import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, numbered_images, open_clip


@dataclass(frozen=True)
class Source:
    """One clip: a video file, a folder of frames, or one Vimeo90K triplet folder."""

    path: Path
    kind: str  # "video", "frames" or "vimeo"

    @property
    def name(self) -> str:
        return str(self.path)


def discover_sources(paths: list[Path]) -> list[Source]:
    """Expand the paths a user gave into clips: video files, folders holding numbered
    images, and vimeo_triplet roots (with sequences/ and tri_trainlist.txt)."""
    found: list[Source] = []
    for path in paths:
        if not path.exists():
            raise InputError(f"{path}: no such file or folder")
        if path.is_file():
            if path.suffix.lower() not in VIDEO_EXTENSIONS:
                raise InputError(f"{path}: not a video file ({', '.join(VIDEO_EXTENSIONS)})")
            found.append(Source(path, "video"))
        elif (path / "tri_trainlist.txt").exists() and (path / "sequences").is_dir():
            for line in (path / "tri_trainlist.txt").read_text().split():
                found.append(Source(path / "sequences" / line, "vimeo"))
        elif any(p.suffix.lower() in IMAGE_EXTENSIONS for p in path.iterdir()):
            found.append(Source(path, "frames"))
        else:
            found.extend(
                discover_sources(sorted(p for p in path.iterdir() if not p.name.startswith(".")))
            )
    return found


def _scaled(frame: np.ndarray, max_short_side: int) -> np.ndarray:
    short = min(frame.shape[:2])
    if short <= max_short_side:
        return frame
    scale = max_short_side / short
    size = (round(frame.shape[1] * scale), round(frame.shape[0] * scale))
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


def read_frames(source: Source, max_short_side: int = 360) -> Iterator[np.ndarray]:
    """The source's frames in order, RGB uint8, scaled down to max_short_side."""
    if source.kind == "video":
        clip = open_clip(source.path)  # the app's decoder: the same frames as it shows
        try:
            for _, frame in clip.iter_frames():
                yield _scaled(frame, max_short_side)
        finally:
            clip.close()
    elif source.kind == "vimeo":
        for name in ("im1.png", "im2.png", "im3.png"):
            yield _scaled(read_image(source.path / name), max_short_side)
    else:
        for path in numbered_images(source.path):
            yield _scaled(read_image(path), max_short_side)
