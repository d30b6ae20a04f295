"""Bounded hand-offs between threads for streaming exports: decoding runs ahead of the
interpolation in one thread, encoding runs behind it in another, and each queue holds only a
few frames, so a long clip never sits in memory. Errors cross back to the caller."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

_END = object()


class ReadAhead:
    """Iterates `source` in a background thread, at most `size` items ahead of the consumer."""

    def __init__(self, source: Iterable[Any], size: int = 4) -> None:
        self._queue: queue.Queue = queue.Queue(maxsize=size)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(source,), name="export-reader", daemon=True
        )
        self._thread.start()

    def _run(self, source: Iterable[Any]) -> None:
        try:
            for item in source:
                if not self._put((True, item)):
                    return
            self._put((True, _END))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            self._put((False, exc))

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[Any]:
        while True:
            ok, item = self._queue.get()
            if not ok:
                raise item
            if item is _END:
                return
            yield item

    def close(self) -> None:
        """Stop the reader (also when the consumer gave up early) and wait for it."""
        self._stop.set()
        self._thread.join(timeout=10)


class WriteBehind:
    """Calls `consume(item)` for each `put` item in a background thread, at most `size` items
    behind. An error in `consume` is raised by the next `put` or by `finish`."""

    def __init__(self, consume: Callable[[Any], None], size: int = 8) -> None:
        self._consume = consume
        self._queue: queue.Queue = queue.Queue(maxsize=size)
        self._error: BaseException | None = None
        self.consumed = 0
        self._thread = threading.Thread(target=self._run, name="export-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if self._error is not None:
                continue  # drain after a failure so put() never blocks forever
            try:
                self._consume(item)
                self.consumed += 1
            except BaseException as exc:  # noqa: BLE001 - raised in the producer's thread
                self._error = exc

    def put(self, item: Any) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(item)

    def finish(self) -> None:
        """Wait until every item is consumed; raise the consumer's error if there was one."""
        self._queue.put(_END)
        self._thread.join()
        if self._error is not None:
            raise self._error

    def abandon(self) -> None:
        """Stop without raising (the producer failed or was cancelled)."""
        self._error = self._error or RuntimeError("abandoned")
        self._queue.put(_END)
        self._thread.join(timeout=30)
