"""The app's Qt-free session: opening clips, choosing the model, the pair analysis and the
slow-motion preview as job functions, run here without Qt or threads."""

import sys

import numpy as np
import pytest

from dsepconv_gui.base.errors import DSepConvError
from dsepconv_gui.gui.session import Session, clip_paths

from .media import write_shapes_clip


class Context:
    """A job context that never cancels and records progress."""

    def __init__(self):
        self.reports, self.sent = [], []

    def check(self):
        pass

    def progress(self, done, total, text=""):
        self.reports.append((done, total, text))

    def send(self, value):
        self.sent.append(value)


@pytest.fixture
def clip_path(tmp_path):
    return write_shapes_clip(tmp_path / "shapes.mp4", 6, height=48, width=64)


@pytest.fixture
def session(clip_path, tmp_path):
    session = Session()
    session.load_model("random:tiny", "cpu")
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video" * 50)
    context = Context()
    opened = session.open_job([clip_path, broken])(context)
    messages = session.add(opened)
    assert [o.clip is not None for o in opened] == [True, False]
    assert len(messages) == 1 and "broken.mp4" in messages[0]
    assert [r[:2] for r in context.reports] == [(0, 2), (1, 2)]
    yield session
    session.close()


def test_the_session_never_imports_qt():
    import subprocess

    code = (
        "import sys, dsepconv_gui.gui.session\n"
        "assert not any(m.split('.')[0] in ('PySide6', 'pyqtgraph') for m in sys.modules)\n"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_a_picked_image_stands_for_its_sequence(tmp_path):
    assert clip_paths([tmp_path / "seq" / "0001.png", tmp_path / "a.mp4"]) == [
        tmp_path / "seq",
        tmp_path / "a.mp4",
    ]


def test_analysis_of_the_active_pair(session):
    assert session.analysis_job(0, 1, False) is None  # no active clip yet
    assert session.activate(5) is None and session.activate(0) is session.clips[0]
    context = Context()
    analysis = session.analysis_job(2, 2, True)(context)
    assert (analysis.index_a, analysis.index_b, analysis.truth_index) == (2, 4, 3)
    (inputs,) = context.sent  # the decoded frames went out before the interpolation
    assert (inputs.index_a, inputs.index_b, inputs.truth_index) == (2, 4, 3)
    assert inputs.frame_a is analysis.frame_a and inputs.truth is analysis.truth
    assert set(analysis.peers) == {"frame average", "DIS flow"}
    clip, thumbs = session.thumbnails_job()(Context())
    assert clip is session.active and [i for i, _ in thumbs] == list(range(6))


def test_a_bad_model_keeps_the_previous_one(session, tmp_path):
    before = session.interpolator
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 64)
    with pytest.raises(DSepConvError):
        session.load_model(str(bad), "cpu")
    assert session.interpolator is before and session.model_spec == "random:tiny"


def test_the_export_keeps_the_model_it_was_given(session):
    midpoint = session.midpoint()
    session.load_model("random:small", "cpu")
    assert midpoint is not session.midpoint()


def test_slow_motion_is_made_once_and_reused(session, monkeypatch):
    session.activate(0)
    calls = []
    real = session.interpolator.interpolate
    monkeypatch.setattr(
        session.interpolator, "interpolate", lambda a, b, **kw: calls.append(1) or real(a, b, **kw)
    )
    first = session.slow_motion_job((1, 3), 4, 0.5)(Context())
    assert len(first.frames) == 2 * 4 + 1 and len(calls) == 2 * 3
    assert first.frames[0].shape == (24, 32, 3) and "PREVIEW at 32×24" in first.note
    assert first.labels[:3] == ["frame 1", "frame 1 + 1/4", "frame 1 + 2/4"]
    again = session.slow_motion_job((1, 3), 4, 0.5)(Context())
    assert len(calls) == 2 * 3  # from the cache
    assert all(np.array_equal(a, b) for a, b in zip(first.frames, again.frames, strict=True))
    session.load_model("random:tiny", "cpu")  # a new model empties the cache
    whole = session.slow_motion_job((0, 5), 2, 1.0)(Context())
    assert len(whole.frames) == 5 * 2 + 1 and "full resolution" in whole.note
    with pytest.raises(DSepConvError, match="holds one frame"):
        session.slow_motion_job((3, 3), 2, 1.0)
