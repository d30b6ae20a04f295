"""The app's state and the work it asks for, without Qt (testable on its own).

A Session holds the open clips, the active one, the loaded model and the slow-motion cache,
and turns each request (open these paths, analyse this pair, make this slow motion) into a
job function `fn(context) -> value` that the window runs off the UI thread (jobs.py). The
window only lays out widgets, forwards user actions here and shows what comes back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from dsepconv_gui.base.errors import DSepConvError, InputError
from dsepconv_gui.export.overrides import Override, with_override
from dsepconv_gui.frames.resize import resized, thumbnail
from dsepconv_gui.interpolation.bisection import intermediate_frames
from dsepconv_gui.interpolation.interpolator import Interpolator
from dsepconv_gui.interpolation.pair_analysis import PairAnalysis, analyse_pair, pair_inputs
from dsepconv_gui.model.device import resolve_device
from dsepconv_gui.model.weights import resolve_model
from dsepconv_gui.video.clips import IMAGE_EXTENSIONS, Clip, demo_clip, open_clip

TIMELINE_THUMBNAILS = 16
LIST_ICON_WIDTH = 96
TIMELINE_THUMBNAIL_WIDTH = 120
SLOWMO_CACHE_FRAMES = 2000  # interpolated preview frames kept between plays


class Context(Protocol):
    """What a job function is given (jobs.JobContext): a cancel check, progress, and a way to
    hand partial results to the UI."""

    def check(self) -> None: ...
    def progress(self, done: int, total: int, text: str = "") -> None: ...
    def send(self, value: object) -> None: ...


Job = Callable[[Context], object]


@dataclass(frozen=True)
class OpenedClip:
    """One path the user opened: the clip and its list icon, or the reason it failed."""

    path: Path
    clip: Clip | None
    icon: np.ndarray | None = None
    error: str | None = None


@dataclass(frozen=True)
class SlowMotion:
    """The in/out range with factor - 1 interpolated frames between each pair, ready to play.
    original_of[i] is the position in `frames` of the input frame last shown at position i
    (the original sequence, held, for A/B comparison); rate is the clip's frame rate."""

    frames: list[np.ndarray]
    labels: list[str]
    note: str
    original_of: list[int]
    factor: int
    rate: float


def clip_paths(chosen: list[Path]) -> list[Path]:
    """What to open for the files chosen in a dialog: a picked image stands for its folder
    (a numbered image sequence), a video file for itself."""
    return [p.parent if p.suffix.lower() in IMAGE_EXTENSIONS else p for p in chosen]


def demo_opened() -> OpenedClip:
    """The built-in demo clip, as if opened."""
    clip = demo_clip()
    return OpenedClip(clip.info.path, clip, thumbnail(clip.read(0), LIST_ICON_WIDTH))


class Session:
    def __init__(self, log: Callable[[str], None] | None = None) -> None:
        self.clips: list[Clip] = []
        self.active: Clip | None = None
        self.interpolator: Interpolator | None = None
        self.model_spec: str | None = None  # None: the default model
        self.analysis: PairAnalysis | None = None
        self.log = log  # messages from worker threads (a memory fallback)
        self._slowmo_cache: dict[tuple, list[np.ndarray]] = {}
        self._marks: dict[int, tuple[int, tuple[int, int] | None]] = {}
        self._overrides: dict[int, tuple[Override, ...]] = {}  # per clip, for its exports

    # ----- model and device ---------------------------------------------------------------
    def load_model(
        self, spec: str | None, device_spec: str = "auto", precision: str = "auto"
    ) -> str | None:
        """Load a model on a device, its network in `precision` (model/device.py); returns a
        warning to show, if any. On failure raises DSepConvError and keeps the previous
        model."""
        device = resolve_device(device_spec, precision)
        loaded, warning = resolve_model(spec, device.device)
        self.interpolator = Interpolator(loaded, device, log=self.log)
        self.model_spec = spec
        self._slowmo_cache.clear()
        return warning

    def midpoint(self) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
        """The loaded model as a midpoint function, bound now: a later model switch does not
        change what a running export uses."""
        if self.interpolator is None:
            raise DSepConvError("no model is loaded")
        return self.interpolator

    # ----- clips --------------------------------------------------------------------------
    @staticmethod
    def open_job(paths: list[Path]) -> Job:
        """Open clips; each one that fails is reported by name (OpenedClip.error)."""

        def job(context: Context) -> list[OpenedClip]:
            opened = []
            for done, path in enumerate(paths):
                context.progress(done, len(paths), f"opening {Path(path).name}")
                try:
                    clip = open_clip(path)
                    icon = thumbnail(clip.read(0), LIST_ICON_WIDTH)
                    opened.append(OpenedClip(Path(path), clip, icon))
                except DSepConvError as exc:
                    opened.append(OpenedClip(Path(path), None, error=str(exc)))
            return opened

        return job

    def add(self, opened: list[OpenedClip]) -> list[str]:
        """Keep the clips that opened; returns what the user should read: each failure, and
        each clip's notes (what was converted or is damaged)."""
        messages = [item.error for item in opened if item.clip is None]
        for item in opened:
            if item.clip is not None:
                self.clips.append(item.clip)
                messages += [f"{item.path.name}: {note}" for note in item.clip.notes]
        return messages

    def row_of(self, path: Path) -> int | None:
        """The row of the open clip read from `path`, if one is open."""
        target = Path(path).resolve()
        for row, clip in enumerate(self.clips):
            if Path(clip.info.path).resolve() == target:
                return row
        return None

    def activate(
        self, row: int, position: int = 0, in_out: tuple[int, int] | None = None
    ) -> Clip | None:
        """Make clip `row` the active one. The clip left keeps its playhead `position` and
        `in_out` points, given back by marks() when it is shown again."""
        if not 0 <= row < len(self.clips):
            return None
        if self.active is not None:
            self._marks[id(self.active)] = (position, in_out)
        self.active = self.clips[row]
        self.analysis = None
        return self.active

    def marks(self) -> tuple[int, tuple[int, int] | None]:
        """The active clip's playhead and in/out points when it was last left (0, None: new)."""
        return self._marks.get(id(self.active), (0, None))

    def overrides(self) -> tuple[Override, ...]:
        """The active clip's export overrides (ranges that repeat or blend instead)."""
        return self.overrides_of(self.active)

    def overrides_of(self, clip: Clip | None) -> tuple[Override, ...]:
        return self._overrides.get(id(clip), ())

    def add_override(self, override: Override) -> tuple[Override, ...]:
        """Add an override to the active clip's (replacing those it overlaps); returns them."""
        self._overrides[id(self.active)] = with_override(self.overrides(), override)
        return self.overrides()

    def clear_overrides(self) -> None:
        self._overrides.pop(id(self.active), None)

    def thumbnails_job(self) -> Job:
        """Thumbnails spread over the active clip: (clip, [(index, image)])."""
        clip = self.active

        def job(context: Context):
            count = min(TIMELINE_THUMBNAILS, len(clip))
            indices = np.linspace(0, len(clip) - 1, count).round().astype(int)
            thumbs = []
            for done, index in enumerate(indices):
                context.progress(done, count, "thumbnails")
                thumbs.append(
                    (int(index), thumbnail(clip.read(int(index)), TIMELINE_THUMBNAIL_WIDTH))
                )
            return clip, thumbs

        return job

    def close(self) -> None:
        for clip in self.clips:
            clip.close()

    # ----- the pair at the playhead ---------------------------------------------------------
    def analysis_job(
        self, index: int, step: int, with_peers: bool, time: float = 0.5
    ) -> Job | None:
        """The pair (index, index + step) analysed at `time` (a midpoint model takes 1/2
        only), or None without a clip or model. The decoded frames are sent first
        (PairInputs), before the interpolation."""
        if self.active is None or self.interpolator is None:
            return None
        clip, interpolator = self.active, self.interpolator
        return lambda context: analyse_pair(
            interpolator, clip, index, step, with_peers, context.check, context.send, time
        )

    def inputs_job(self, index: int, step: int, time: float = 0.5) -> Job | None:
        """Only the pair's frames (PairInputs): quick, so they show while a previous pair's
        interpolation still runs."""
        if self.active is None:
            return None
        clip = self.active
        return lambda context: pair_inputs(clip, index, step, time)

    # ----- slow motion ----------------------------------------------------------------------
    def slow_motion_job(self, in_out: tuple[int, int], factor: int, scale: float) -> Job | None:
        """The frames of in_out with factor - 1 interpolated frames between each pair, at
        `scale` of the clip's size. InputError for a range of one frame."""
        if self.active is None or self.interpolator is None:
            return None
        clip, interpolator, cache = self.active, self.interpolator, self._slowmo_cache
        first, last = in_out
        if last <= first:
            raise InputError(
                f"the in/out range holds one frame ({first}): set the out point after the in "
                "point (O), or the in point before it (I)"
            )

        def between(context: Context, k: int, a: np.ndarray, b: np.ndarray) -> Iterator[np.ndarray]:
            key = (id(clip), k, factor, scale, id(interpolator))
            if key not in cache:
                if sum(len(v) for v in cache.values()) > SLOWMO_CACHE_FRAMES:
                    cache.clear()  # bounded memory: older ranges are recomputed if needed
                made = []
                for frame in intermediate_frames(interpolator, a, b, factor):
                    context.check()
                    made.append(frame)
                cache[key] = made
            return iter(cache[key])

        def job(context: Context) -> SlowMotion:
            frames, labels, original_of = [], [], []
            for done, k in enumerate(range(first, last)):
                context.progress(done, last - first, f"interpolating ×{factor}")
                a, b = resized(clip.read(k), scale), resized(clip.read(k + 1), scale)
                original = len(frames)
                frames.append(a)
                labels.append(f"frame {k}")
                for step, frame in enumerate(between(context, k, a, b), start=1):
                    frames.append(frame)
                    labels.append(f"frame {k} + {step}/{factor}")
                original_of += [original] * factor
            original_of.append(len(frames))
            frames.append(resized(clip.read(last), scale))
            labels.append(f"frame {last}")
            h, w = frames[0].shape[:2]
            size_note = (
                "full resolution"
                if scale == 1.0
                else f"PREVIEW at {w}×{h} ({scale:g}× of {clip.info.width}×{clip.info.height})"
            )
            note = f"Frames {first}–{last} at ×{factor}: {len(frames)} frames, {size_note}"
            return SlowMotion(frames, labels, note, original_of, factor, clip.info.fps)

        return job
