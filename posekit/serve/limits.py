"""The service's bounds: the request body's size and time, and bounded admission (503 beyond).

:class:`Admission` lets ``workers`` images be estimated at once and ``queue`` more wait;
one more is refused at once (:class:`Overloaded`: the app answers 503 with
``Retry-After``), so a burst never piles up into timeouts. :func:`read_body` reads a
request's body up to a limit and a deadline, so that neither a large nor a slow client
holds memory or a place for long. The body is read before a place is taken: a client still
uploading never holds one.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, AsyncIterator, Callable, Optional, TypeVar

from anyio import to_thread
from starlette.requests import ClientDisconnect

T = TypeVar("T")


class Overloaded(Exception):
    """Every worker is busy and the queue is full: answer 503 with ``Retry-After``."""


class BodyError(ValueError):
    """A body refused: too large (413), too slow (408), a bad length (400) or the client left
    (:data:`CLIENT_CLOSED`)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


#: The status of a body whose client disconnected mid-upload (nginx's "client closed").
CLIENT_CLOSED = 499


class Admission:
    """At most ``workers`` calls running and ``queue`` waiting; more are refused at once.

    Args:
        workers: calls run at once (each in a thread of its own).
        queue: calls waiting for a worker; the next is refused with :class:`Overloaded`.

    Raises:
        ValueError: ``workers`` < 1 or ``queue`` < 0.
    """

    def __init__(self, workers: int, queue: int) -> None:
        if workers < 1 or queue < 0:
            raise ValueError(f"workers must be >= 1 and queue >= 0, got {workers}, {queue}")
        self.workers = workers
        self.capacity = workers + queue
        self._inside = 0
        self._running = 0
        self._lock = threading.Lock()
        self._slots: Optional[asyncio.Semaphore] = None

    @property
    def running(self) -> int:
        """Calls running now."""
        return self._running

    @property
    def waiting(self) -> int:
        """Calls admitted and waiting for a worker (the queue depth)."""
        return self._inside - self._running

    def _enter(self, refuse: bool) -> None:
        with self._lock:
            if refuse and self._inside >= self.capacity:
                raise Overloaded(f"busy: {self._running} images in work and {self.waiting} "
                                 "waiting (the limit); retry later")
            self._inside += 1

    async def run(self, func: Callable[..., T], *args: Any, refuse: bool = True) -> T:
        """``func(*args)`` in a worker thread once a worker is free.

        Args:
            func: the blocking work.
            args: its arguments.
            refuse: raise :class:`Overloaded` when full (False: wait; a stream's frames,
                whose number is bounded by the streams themselves).

        Raises:
            Overloaded: full (with ``refuse``); whatever ``func`` raises.
        """
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.workers)
        self._enter(refuse)
        try:
            async with self._slots:
                self._running += 1
                try:
                    return await to_thread.run_sync(func, *args)
                finally:
                    self._running -= 1
        finally:
            with self._lock:
                self._inside -= 1


async def read_body(chunks: AsyncIterator[bytes], length: Optional[str], limit: int,
                    seconds: float) -> bytes:
    """A request's body, refused beyond ``limit`` bytes or ``seconds``.

    Args:
        chunks: the body as it arrives (``request.stream()``).
        length: the ``Content-Length`` header (None when absent).
        limit: most bytes.
        seconds: most time to receive it all.

    Returns:
        The body.

    Raises:
        BodyError: 413 (a ``Content-Length`` over the limit, before reading a byte, or more
            bytes than the limit), 408 (too slow), 400 (a bad ``Content-Length``) or
            :data:`CLIENT_CLOSED` (the client disconnected mid-upload).
    """
    if length is not None:
        try:
            declared = int(length)
        except ValueError:
            raise BodyError(f"bad Content-Length header: {length[:40]!r}", 400) from None
        if declared > limit:
            raise BodyError(f"the body is {declared:,} bytes, more than the {limit:,}-byte "
                            "limit", 413)
    parts, total = [], 0

    async def collect() -> None:
        nonlocal total
        async for chunk in chunks:
            total += len(chunk)
            if total > limit:
                raise BodyError(f"the body is more than the {limit:,}-byte limit", 413)
            parts.append(chunk)

    try:
        await asyncio.wait_for(collect(), seconds)
    except asyncio.TimeoutError:
        raise BodyError(f"the body did not arrive within {seconds:g} s", 408) from None
    except ClientDisconnect:
        raise BodyError("the client disconnected before its body was sent",
                        CLIENT_CLOSED) from None
    return b"".join(parts)
