"""DIS estimators kept between calls (flow/dis_estimators.py): the same flow as a fresh one,
within the memory budget, one per thread at a time, none inherited by a forked child."""

import multiprocessing
import threading

import cv2
import numpy as np
import pytest

from dsepconv_gui.flow import dis_estimators, prior
from dsepconv_gui.frames.demo import render_demo_frames


@pytest.fixture(autouse=True)
def nothing_kept():
    dis_estimators.release_kept()
    yield
    dis_estimators.release_kept()


def fresh_flow(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    gray = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in (source, target)]
    flow = dis_estimators.new_estimator().calc(*gray, None)
    return np.ascontiguousarray(flow[:, :, ::-1].transpose(2, 0, 1))


def test_a_kept_estimator_gives_a_fresh_ones_flow_whatever_it_ran_before():
    frames = render_demo_frames(6, height=120, width=160)
    small = [cv2.resize(f, (96, 72), interpolation=cv2.INTER_AREA) for f in frames]
    # sizes change and pairs alternate through the same kept estimator(s)
    for a, b in [(frames[0], frames[1]), (small[2], small[3]), (frames[4], frames[5])] * 2:
        for source, target in ((a, b), (b, a)):
            np.testing.assert_array_equal(
                prior.dis_flow(source, target), fresh_flow(source, target)
            )
    assert 0 < dis_estimators.kept_bytes() <= dis_estimators.KEPT_BUDGET


def test_kept_estimators_stay_within_the_budget(monkeypatch):
    a, b = render_demo_frames(2, height=120, width=160)
    prior.bidirectional_flow(a, b)  # both directions at once: two estimators
    assert dis_estimators.kept_bytes() == 2 * dis_estimators.DIS_BYTES_PER_PIXEL * 120 * 160
    dis_estimators.release_kept()
    monkeypatch.setattr(dis_estimators, "KEPT_BUDGET", dis_estimators.DIS_BYTES_PER_PIXEL * 19200)
    prior.bidirectional_flow(a, b)
    assert dis_estimators.kept_bytes() == dis_estimators.DIS_BYTES_PER_PIXEL * 19200  # one
    prior.dis_flow(a, b, 1.5)  # larger than the budget: used, then freed
    assert dis_estimators.kept_bytes() == dis_estimators.DIS_BYTES_PER_PIXEL * 19200
    dis_estimators.release_kept()
    monkeypatch.setattr(dis_estimators, "KEPT_MAX_PIXELS", 120 * 160 - 1)
    prior.bidirectional_flow(a, b)  # within the budget, but a frame larger than kept ones
    assert dis_estimators.kept_bytes() == 0


def test_threads_borrow_estimators_of_their_own():
    borrowed, both_in = [], threading.Barrier(2, timeout=10)

    def borrow() -> None:
        with dis_estimators.borrowed_estimator(100) as estimator:
            borrowed.append(estimator)
            both_in.wait()  # the other thread borrows while this one holds its estimator

    with dis_estimators.borrowed_estimator(100):
        pass  # one kept, which only one of the threads can have
    threads = [threading.Thread(target=borrow) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(borrowed) == 2 and borrowed[0] is not borrowed[1]


def test_a_forked_child_keeps_none_of_its_parents():
    a, b = render_demo_frames(2, height=120, width=160)
    prior.dis_flow(a, b)
    assert dis_estimators.kept_bytes() > 0
    with multiprocessing.get_context("fork").Pool(1) as pool:
        assert pool.apply(dis_estimators.kept_bytes) == 0
