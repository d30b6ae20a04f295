"""training.workers.parallel_map: forked workers and what they inherit."""

import gc
import os
import sys

import pytest

from dsepconv_gui.training.workers import parallel_map

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="workers fork on Linux only"
)


class _FinalizedWhere:
    """A reference cycle whose finalizer writes the pid of the process that collects it (a
    PyAV container left unclosed frees its codec's threads there, which hangs a child)."""

    def __init__(self, record):
        self.record = record
        self.me = self

    def __del__(self):
        with open(self.record, "a") as out:
            out.write(f"{os.getpid()}\n")


def _collect_in_child(_shared, item):
    gc.collect()
    return os.getpid()


def test_garbage_is_collected_before_the_workers_fork(tmp_path):
    record = tmp_path / "collected-by"
    enabled = gc.isenabled()
    gc.disable()  # no collection of its own between the cycle and the fork
    try:
        _FinalizedWhere(record)  # garbage at once: only a collection frees it
        workers = set(parallel_map(_collect_in_child, [1, 2, 3], workers=2))
        assert os.getpid() not in workers  # the jobs ran in forked children
        gc.collect()
    finally:
        if enabled:
            gc.enable()
    assert record.read_text().split() == [str(os.getpid())]
