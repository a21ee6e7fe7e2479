"""The one command skeleton: exit statuses, the error type, the interruption, signals.

Every command (``posekit``, ``posekit-batch``, ``posekit-eval``, ``posekit-fetch``)
runs its body through :func:`run_command`:

* a :class:`CommandError` (a problem the user can fix) is one ``PROG: error:``
  line on standard error and status :data:`EXIT_ERROR` (or the error's own);
* Ctrl-C and SIGTERM (``kill``, ``timeout``) alike end the run with one line
  saying what was kept and status :data:`EXIT_INTERRUPTED`, never a traceback;
* while a block is held (:meth:`SignalGate.held`: one image's or frame's
  outputs, a manifest's commit) a signal waits for the end of the block.

Usage errors are argparse's (status :data:`EXIT_USAGE`). Only commands use this
module: it installs signal handlers, which library code never does.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from typing import Callable, Iterator, Optional

from posekit.extras import MissingExtra

#: Exit statuses of every command.
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
#: 128 + SIGINT, as shells report a command that Ctrl-C ended.
EXIT_INTERRUPTED = 130


class CommandError(Exception):
    """A problem the user can fix; printed as one ``PROG: error:`` line.

    Attributes:
        status: the exit status (:data:`EXIT_ERROR` unless given).
    """

    def __init__(self, message: str, status: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.status = status


class Interrupted(Exception):
    """Ctrl-C or SIGTERM during a run; the message says what was kept."""


def one_line(message: object) -> str:
    """``message`` with every run of white space (newlines included) made one space."""
    return " ".join(str(message).split())


class SignalGate:
    """SIGINT and SIGTERM as ``KeyboardInterrupt``, except where a block says otherwise.

    * :meth:`held`: a block that a signal does not split; it raises at the end of the block
      (with ``insistent``, a second signal raises at once: the user insists);
    * :meth:`muted`: a block where signals are only noted (:attr:`pending`), for endings
      that must complete however many signals come (a manifest written);
    * :meth:`live`: inside a muted block, signals raise again (a noted one at once).

    A signal mask cannot hold a signal back on its own: the kernel hands a
    process's signal to any thread that does not block it (the network's
    worker threads), and Python then runs the handler in the main thread at
    once. :meth:`installed` puts :meth:`handler` in place (main thread only);
    without it the blocks change nothing.
    """

    def __init__(self) -> None:
        self._depth = 0
        self._insistent = 0
        self._muted = 0
        self._pending = 0

    @property
    def pending(self) -> bool:
        """Whether a signal was noted and not raised yet."""
        return self._pending > 0

    def handler(self, signum: int, frame: object) -> None:
        """Raise ``KeyboardInterrupt``, or note the signal inside a held or muted block."""
        if not (self._depth or self._muted):
            raise KeyboardInterrupt
        self._pending += 1
        if self._insistent and not self._muted and self._pending > 1:
            self._pending = 0
            raise KeyboardInterrupt

    def _raise_pending(self) -> None:
        if self._pending and not self._depth and not self._muted:
            self._pending = 0
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def held(self, insistent: bool = False) -> Iterator[None]:
        """A block that Ctrl-C does not split: a signal meanwhile raises at its end (or,
        when the block ended with an error, at the start of the next block); with
        ``insistent`` a second signal raises at once."""
        self._raise_pending()
        self._depth += 1
        self._insistent += insistent
        try:
            yield
        finally:
            self._depth -= 1
            self._insistent -= insistent
        self._raise_pending()

    @contextlib.contextmanager
    def muted(self) -> Iterator[None]:
        """A block where signals are only noted (:attr:`pending`), never raised."""
        self._muted += 1
        try:
            yield
        finally:
            self._muted -= 1

    @contextlib.contextmanager
    def live(self) -> Iterator[None]:
        """Inside :meth:`muted`: signals raise again for the block, one noted before at once."""
        muted, self._muted = self._muted, 0
        try:
            self._raise_pending()
            yield
        finally:
            self._muted = muted

    def take_pending(self) -> bool:
        """Whether a signal was noted (and forget it)."""
        noted, self._pending = self._pending > 0, 0
        return noted

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """:meth:`handler` for SIGINT and SIGTERM during the block, the previous handlers
        restored afterwards (nothing changes outside the main thread)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handler)
                    for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler if handler is not None else signal.SIG_DFL)


def run_command(prog: str, body: Callable[[], int], gate: Optional[SignalGate] = None,
                cleanup: Optional[Callable[[], None]] = None) -> int:
    """Run a command's body with the shared error, interruption and signal handling.

    Args:
        prog: the command's name, the first word of each message.
        body: the work; returns the exit status.
        gate: the run's :class:`SignalGate` (a new one when None), installed for the body.
        cleanup: called before an error or interruption is reported (closes progress bars).

    Returns:
        ``body()``'s status, the :class:`CommandError`'s status, or
        :data:`EXIT_INTERRUPTED`.
    """
    gate = gate if gate is not None else SignalGate()
    try:
        with gate.installed():
            return body()
    except CommandError as exc:
        _report(cleanup, f"{prog}: error: {one_line(exc)}")
        return exc.status
    except MissingExtra as exc:
        _report(cleanup, f"{prog}: error: {one_line(exc)}")
        return EXIT_ERROR
    except Interrupted as exc:
        _report(cleanup, f"{prog}: {one_line(exc)}")
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        _report(cleanup, f"{prog}: interrupted")
        return EXIT_INTERRUPTED


def _report(cleanup: Optional[Callable[[], None]], line: str) -> None:
    """Clean up (a second Ctrl-C there is ignored), then print ``line`` on standard error."""
    if cleanup is not None:
        with contextlib.suppress(Exception, KeyboardInterrupt):
            cleanup()
    print(line, file=sys.stderr)
