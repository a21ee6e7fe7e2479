"""Ray for one batch run: a cluster's address checked first, a local Ray started, and stopped
with every process it started, whatever signal ends the run.

* :func:`check_address` (``--address``): before ``ray.init``, which otherwise
  retries an address where nothing answers for many minutes (590 s seen)
  printing its own warnings, one gRPC call to the cluster's GCS with a
  deadline (:data:`ADDRESS_TIMEOUT`) says whether a Ray cluster answers
  there; if not, one line says why (the name does not resolve, nothing
  listens, or what listens is not Ray).
* :func:`start_ray`: Ctrl-C or SIGTERM while ``ray.init`` runs is acted on
  once it returns (a second signal at once): a KeyboardInterrupt inside the
  driver's construction (``CoreWorker.__cinit__``) made the process die at
  its exit with SIGSEGV or SIGABRT, and ``ray.init``'s own SIGTERM handler
  exits at once (status 15, nothing recorded); it is kept out.
* :class:`RayForRun` puts these together for a run with
  :class:`posekit.apps.batch.processes.LocalRay` (every process a local Ray
  started is ended); the run's signals are the command's
  :class:`posekit.apps.command.SignalGate`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
from typing import Dict, Iterator, Optional

from posekit.apps.batch.processes import LocalRay
from posekit.apps.command import SignalGate
from posekit.apps.common import worker_env
from posekit.paths import ROOT

#: Object store of a local Ray (MB): frames in flight live there; Ray Data keeps its
#: queues within a share of it, which bounds the run's memory.
DEFAULT_OBJECT_STORE_MB = 1024
#: Largest block of decoded frames (bytes): about one chunk of 4 frames at 720p.
BLOCK_BYTES = 8 * 1024 * 1024
#: Seconds the cluster's GCS gets to answer before ``--address`` is refused.
ADDRESS_TIMEOUT = 10.0


def check_address(address: str, timeout: float = ADDRESS_TIMEOUT) -> str:
    """Make sure a Ray cluster answers at ``address`` within ``timeout`` seconds.

    ``HOST:PORT`` and ``auto`` are resolved as ``ray.init`` resolves them
    (``auto``: ``RAY_ADDRESS``, else the latest cluster started on this
    machine); then one call to the cluster's GCS, with ``timeout`` as its
    deadline. A ``ray://`` (Ray Client) address is not checked.

    Returns:
        The GCS address (``HOST:PORT``) that answered, or ``address`` for ``ray://``.

    Raises:
        ValueError: one line: the address is malformed, its name does not resolve,
            nothing answers there, or what answers is not a Ray cluster.
    """
    if "://" in address:
        return address
    from ray._private import services

    try:
        gcs = services.canonicalize_bootstrap_address(address)
    except ConnectionError as exc:          # auto: no cluster on this machine
        raise ValueError(f"--address {address}: {' '.join(str(exc).split())[:300]}") from None
    except Exception as exc:  # noqa: BLE001 - Ray's parsing: a malformed address
        raise ValueError(f"--address {address} is not HOST:PORT ({exc})") from None
    if gcs is None:
        raise ValueError(f"--address {address} names no cluster; leave --address out to "
                         "start a local Ray")
    import grpc
    from ray._private.gcs_utils import create_gcs_channel
    from ray.core.generated import gcs_service_pb2, gcs_service_pb2_grpc

    channel = create_gcs_channel(gcs)
    try:
        stub = gcs_service_pb2_grpc.NodeInfoGcsServiceStub(channel)
        stub.GetClusterId(gcs_service_pb2.GetClusterIdRequest(), timeout=timeout)
    except grpc.RpcError as exc:
        code = exc.code()
        # a GCS that wants a token still is a Ray cluster (ray.init brings the token)
        if code not in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
            where = f"{address} ({gcs})" if gcs != address else address
            if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                why = f"no Ray cluster answered within {timeout:g} s"
            elif code == grpc.StatusCode.UNAVAILABLE and "lookup" in (exc.details() or ""):
                why = "the host name does not resolve: " + _short(exc.details())
            elif code == grpc.StatusCode.UNAVAILABLE:
                why = "nothing answers there: " + _short(exc.details())
            else:
                why = f"what answers there is not a Ray cluster ({code.name})"
            raise ValueError(f"cannot join the Ray cluster at {where}: {why}") from None
    finally:
        channel.close()
    return gcs


def _short(details: Optional[str]) -> str:
    """gRPC's reason, without its address prefixes (``failed to connect ...: ipv4:...:``)."""
    text = " ".join((details or "unavailable").split())
    for mark in ("lookup error:", "Failed to connect to remote host:"):
        if mark in text:
            text = text.split(mark, 1)[1].strip().rstrip("]").strip()
    return text[:200]


def start_ray(address: Optional[str] = None, num_cpus: Optional[int] = None,
              object_store_mb: int = DEFAULT_OBJECT_STORE_MB,
              node_ip_address: Optional[str] = None, gate: Optional[SignalGate] = None) -> bool:
    """Connect to Ray unless this process already is; returns whether it connected now.

    A local Ray gets ``num_cpus`` CPUs (default all) and an object store of
    ``object_store_mb``. Workers import this project from its folder (on a
    cluster the project must be at the same path on every machine) and start
    with :func:`posekit.apps.common.worker_env` (OpenCV's pixel cap among it).
    A signal while Ray starts waits for ``ray.init`` (``gate``: the command's installed
    :class:`posekit.apps.command.SignalGate`), then raises KeyboardInterrupt.

    Raises:
        KeyboardInterrupt: SIGINT or SIGTERM during the start-up.
    """
    import ray

    if ray.is_initialized():
        return False
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    os.environ["PYTHONPATH"] = path  # a local Ray's workers inherit it
    quiet = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    env = worker_env()                  # OpenCV's pixel cap, before a worker loads cv2
    with _init_guarded(gate):
        _init(ray, address, num_cpus, object_store_mb, node_ip_address, quiet, env)
    return True


@contextlib.contextmanager
def _init_guarded(gate: Optional[SignalGate]) -> Iterator[None]:
    """Ctrl-C and SIGTERM during ``ray.init``: held by the command's ``gate`` until it
    returned (a second signal at once). Ray's driver is not safe to interrupt while it is
    built: a KeyboardInterrupt inside ``CoreWorker.__cinit__`` made the process die with
    SIGSEGV or SIGABRT at its exit, after the manifest. ``ray.init`` would also replace the
    SIGTERM handler by one that exits at once (``sys.exit(15)``): it is kept from doing so
    for the block. Without a gate (a program of its own), one is installed for the block."""
    import ray._private.utils as ray_utils

    own = gate is None
    gate = SignalGate() if own else gate
    setter = getattr(ray_utils, "set_sigterm_handler", None)
    if setter is not None:
        ray_utils.set_sigterm_handler = lambda handler: None
    try:
        with (gate.installed() if own else contextlib.nullcontext()), gate.held(insistent=True):
            yield
    except SystemExit as exc:               # Ray's own handler (a Ray that installs it anyway)
        if exc.code == signal.SIGTERM:
            raise KeyboardInterrupt from None
        raise
    finally:
        if setter is not None:
            ray_utils.set_sigterm_handler = setter


def _init(ray, address: Optional[str], num_cpus: Optional[int], object_store_mb: int,
          node_ip_address: Optional[str], quiet: dict, env: Dict[str, str]) -> None:
    """``ray.init``: join ``address``, or start a local Ray."""
    if address:
        if node_ip_address:
            quiet["_node_ip_address"] = node_ip_address
        ray.init(address=address, runtime_env={"env_vars": {"PYTHONPATH": str(ROOT), **env}},
                 **quiet)
    else:
        # at least 2 logical CPUs: one actor plus a decoding task must fit (even on 1
        # core); address "local": a new Ray of our own, even when another process on this
        # machine started one (ray.init() would join it)
        ray.init(address="local", num_cpus=max(2, num_cpus or os.cpu_count() or 1),
                 object_store_memory=object_store_mb * 1024 * 1024,
                 runtime_env={"env_vars": env}, **quiet)


def quiet_ray_data() -> None:
    """No Ray Data progress bars or start-up lines: the batch command shows its own."""
    import ray.data

    context = ray.data.DataContext.get_current()
    # Blocks of a few frames: a task's output is cut into blocks of this size, and
    # Ray Data pauses a task whose unread blocks fill its buffer (2 blocks), so this
    # bounds the frames a decoding task holds ahead of the network (default 128 MB).
    context.target_max_block_size = BLOCK_BYTES
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    logger = logging.getLogger("ray.data")
    for handler in logger.handlers:
        if not isinstance(handler, logging.FileHandler):
            handler.setLevel(logging.ERROR)


class RayForRun:
    """Ray for one batch run: :meth:`start` joins ``address`` or starts a local Ray unless
    this process is connected already; :meth:`stop` undoes what :meth:`start` did, also
    after a start that was interrupted half-way (Ray's processes running, ``ray.init``
    not returned)."""

    def __init__(self, address: Optional[str] = None, num_cpus: Optional[int] = None,
                 object_store_mb: int = DEFAULT_OBJECT_STORE_MB,
                 node_ip_address: Optional[str] = None,
                 gate: Optional[SignalGate] = None) -> None:
        self.address, self.num_cpus, self.gate = address, num_cpus, gate
        self.object_store_mb, self.node_ip_address = object_store_mb, node_ip_address
        self.asked = False
        self.local: Optional[LocalRay] = None

    def start(self) -> None:
        """Connect (:func:`start_ray`) and quieten Ray Data.

        Raises:
            KeyboardInterrupt: a signal during the start-up.
        """
        import ray

        if not ray.is_initialized():
            self.asked = True               # ours to stop, even when interrupted half-way
            if not self.address:
                self.local = LocalRay()
            start_ray(self.address, self.num_cpus, self.object_store_mb, self.node_ip_address,
                      self.gate)
        quiet_ray_data()

    def stop(self, note=print) -> None:
        """Disconnect from Ray and end every process of the local Ray started here; a
        problem is one ``note`` line (the caller's manifest comes next)."""
        if self.asked:
            import ray

            try:
                ray.shutdown()
            except Exception as exc:  # noqa: BLE001 - the manifest comes first
                note(f"warning: Ray did not shut down cleanly: "
                     f"{' '.join(str(exc).split())[:300]}")
            self.asked = False
        if self.local is not None:
            left = self.local.end()
            self.local = None
            if left:
                note(f"warning: {len(left)} processes of the local Ray did not end: "
                     f"{' '.join(map(str, left))}")
