"""The job handles: delivery on the UI thread, cancellation, and nothing kept once done."""

import gc
import os
import threading
import weakref

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from dsepconv_gui.gui.jobs import JobRunner, LatestJob  # noqa: E402


class Model:
    """Stands for what a job captures (an interpolator with its weights)."""


def test_a_finished_job_keeps_nothing_it_captured(qtbot):
    runner = JobRunner()
    model = Model()
    alive = weakref.ref(model)
    ui_thread, seen = threading.get_ident(), []

    def fn(context, model=model):
        context.progress(1, 2, "half")
        return id(model)

    job = runner.start(fn)
    job.returned.connect(lambda value: seen.append(("returned", threading.get_ident())))
    with qtbot.waitSignal(job.finished, timeout=10000):
        pass
    assert seen == [("returned", ui_thread)]
    del model, fn
    gc.collect()
    assert alive() is None, "a finished job still holds what its function captured"
    assert runner.wait(5000)


def test_the_newest_job_wins_and_a_cancelled_one_says_only_aborted(qtbot):
    runner = JobRunner()
    slot = LatestJob(runner, "work")
    release = threading.Event()
    outcomes = []

    def slow(context):
        release.wait(5)
        context.check()
        return "slow"

    first = slot.start(slow)
    for name in ("returned", "errored", "aborted"):
        getattr(first, name).connect(lambda *_, name=name: outcomes.append(("first", name)))
    second = slot.start(lambda context: "fast")
    second.returned.connect(lambda value: outcomes.append(("second", value)))
    assert first.cancelled and slot.busy
    with qtbot.waitSignal(second.finished, timeout=10000):
        pass
    release.set()
    with qtbot.waitSignal(first.finished, timeout=10000):
        pass
    assert sorted(outcomes) == [("first", "aborted"), ("second", "fast")]
    assert not slot.busy
    assert runner.wait(5000)
