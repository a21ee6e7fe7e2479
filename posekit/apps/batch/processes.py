"""The processes a local Ray of one batch run starts, found in ``/proc`` and ended, whatever ends the run.

Ray's own shutdown stops the processes it knows, but the agents that the
raylet starts outlive an interrupted start-up (seen running 60 s later with
parent 1); so this process is made the "child subreaper" of its descendants
while Ray runs (orphans come back to it, never to init) and
:meth:`LocalRay.end` ends every process that appeared below it since the
start, then waits until they are gone. Linux; elsewhere only Ray's shutdown
stops them. Changes process-wide state: for commands only, never the library.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import time
from typing import Dict, List, Optional, Set, Tuple

#: Seconds the processes of a local Ray get to exit after Ray's shutdown, before they are
#: killed; then as long again to be gone.
EXIT_GRACE = 2.0
#: prctl(2) options (Linux).
_PR_SET_CHILD_SUBREAPER, _PR_GET_CHILD_SUBREAPER = 36, 37

Identity = Tuple[int, int]          # (pid, start time in clock ticks after boot)


def _processes() -> Dict[int, Tuple[int, int, str]]:
    """Every process: pid -> (parent pid, start time, state letter); {} without /proc."""
    table = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return table
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                stat = handle.read().decode("ascii", "replace")
        except OSError:
            continue                    # gone meanwhile
        fields = stat[stat.rindex(")") + 2:].split()
        table[int(name)] = (int(fields[1]), int(fields[19]), fields[0])
    return table


def _children(table: Dict[int, Tuple[int, int, str]]) -> Dict[int, List[int]]:
    """Each process's children."""
    children: Dict[int, List[int]] = {}
    for pid, (parent, _, _) in table.items():
        children.setdefault(parent, []).append(pid)
    return children


def _kill(identity: Identity) -> None:
    """SIGKILL to the process ``identity`` names, never to another that took its pid since
    (a pidfd pins the process; its start time is checked once pinned)."""
    pid, start = identity
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        fd = None                           # no pidfd here (or gone): check, then kill
    try:
        if _processes_one(pid) != start:
            return
        if fd is not None:
            signal.pidfd_send_signal(fd, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGKILL)
    except OSError:
        pass                                # gone meanwhile
    finally:
        if fd is not None:
            os.close(fd)


def _processes_one(pid: int) -> Optional[int]:
    """The start time of process ``pid`` (None when there is none)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read().decode("ascii", "replace")
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2:].split()[19])


class LocalRay:
    """The processes a local Ray of this run starts, and their end (Linux; elsewhere only
    Ray's own shutdown stops them).

    Create it just before ``ray.init``: the children this process has then are
    not its business. While it lives this process is the child subreaper of its
    descendants (``prctl(PR_SET_CHILD_SUBREAPER)``), so that a process whose
    parent (the raylet) dies first stays findable. Changes process-wide state:
    for commands only, never the library.
    """

    def __init__(self) -> None:
        self.pid = os.getpid()
        table = _processes()
        self._before: Set[Identity] = {(pid, start) for pid, (parent, start, _) in table.items()
                                       if parent == self.pid}
        self._subreaper: Optional[int] = None
        if sys.platform.startswith("linux"):
            try:
                libc = ctypes.CDLL(None, use_errno=True)
                was = ctypes.c_int(0)
                if libc.prctl(_PR_GET_CHILD_SUBREAPER, ctypes.byref(was), 0, 0, 0) == 0 and \
                        libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0:
                    self._subreaper = was.value
            except (OSError, AttributeError):
                pass

    def processes(self) -> List[int]:
        """The live processes below this one that appeared since it was created."""
        return [pid for pid, _ in self._processes()]

    def _processes(self) -> List[Identity]:
        table = _processes()
        children = _children(table)
        todo = [pid for pid in children.get(self.pid, [])
                if (pid, table[pid][1]) not in self._before]
        found = []
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo.extend(children.get(pid, []))
        zombies = [pid for pid in found if table[pid][2] == "Z"]
        for pid in zombies:             # our own zombies (orphans that came back): reaped
            if table[pid][0] == self.pid:
                try:
                    os.waitpid(pid, os.WNOHANG)
                except OSError:
                    pass
        return [(pid, table[pid][1]) for pid in found if table[pid][2] != "Z"]

    def end(self, grace: float = EXIT_GRACE) -> List[int]:
        """Wait up to ``grace`` seconds for the processes to exit, kill those left (SIGKILL),
        wait up to ``grace`` again; then stop being a subreaper.

        Returns:
            The pids still there at the end ([] in every run we saw).
        """
        try:
            deadline = time.monotonic() + grace
            left = self._processes()
            while left and time.monotonic() < deadline:
                time.sleep(0.05)
                left = self._processes()
            deadline = time.monotonic() + grace
            while left and time.monotonic() < deadline:
                for identity in left:
                    _kill(identity)
                time.sleep(0.05)
                left = self._processes()
            return [pid for pid, _ in left]
        finally:
            if self._subreaper is not None:
                try:
                    ctypes.CDLL(None).prctl(_PR_SET_CHILD_SUBREAPER, self._subreaper, 0, 0, 0)
                except (OSError, AttributeError):
                    pass
                self._subreaper = None
