"""Tests of posekit.apps.batch.ray_cluster without a Ray cluster: the processes a run starts, and signals.

The whole command (signals during a real start-up, an address where nothing
answers) runs in tests/test_batch_reliability.py.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from posekit.apps.batch import processes
from posekit.apps.batch import ray_cluster as batch_ray

linux = pytest.mark.skipif(not Path("/proc/self/stat").is_file() or
                           not sys.platform.startswith("linux"), reason="needs Linux /proc")
main_int = pytest.mark.skipif(signal.getsignal(signal.SIGINT) is not signal.default_int_handler,
                              reason="SIGINT is not Python's KeyboardInterrupt here")


@linux
def test_local_ray_ends_what_appeared_below_it_and_nothing_else():
    """A child that leaves an orphan (as a raylet killed before its agents): the orphan comes
    back to this process (child subreaper) and is ended; a child from before is not."""
    before = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        local = processes.LocalRay()
        parent = subprocess.Popen(
            [sys.executable, "-c", "import subprocess, sys; p = subprocess.Popen([sys.executable,"
             " '-c', 'import time; time.sleep(120)']); print(p.pid, flush=True)"],
            stdout=subprocess.PIPE, text=True)
        orphan = int(parent.stdout.readline())
        parent.wait()                                      # gone: its child is an orphan
        deadline = time.monotonic() + 60
        while orphan not in local.processes():             # back to this process
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert local.end(grace=0.5) == []
        assert local.processes() == [] and before.poll() is None
        assert not Path(f"/proc/{orphan}").exists() or \
            Path(f"/proc/{orphan}/stat").read_text().split(")")[1].split()[0] == "Z"
    finally:
        before.kill()
        before.wait()


@main_int
def test_a_signal_during_ray_init_waits_for_it_and_a_second_one_does_not():
    pytest.importorskip("ray")
    import ray._private.utils as ray_utils

    setter = ray_utils.set_sigterm_handler
    steps = []
    with pytest.raises(KeyboardInterrupt):
        with batch_ray._init_guarded(None):
            ray_utils.set_sigterm_handler(lambda signum, frame: None)   # Ray's: kept out
            signal.raise_signal(signal.SIGTERM)
            steps.append("init went on")                 # not cut in half
    assert steps == ["init went on"] and ray_utils.set_sigterm_handler is setter
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with pytest.raises(KeyboardInterrupt):
        with batch_ray._init_guarded(None):
            signal.raise_signal(signal.SIGINT)
            signal.raise_signal(signal.SIGINT)           # the user insists: at once
            steps.append("not reached")
    assert steps == ["init went on"]
