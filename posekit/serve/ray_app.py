"""The pose service as a Ray Serve application: the same routes, one network per replica.

Each replica builds the FastAPI app of :func:`posekit.serve.app.create_app` at its start
(``__serve_build_asgi_app__``) around its own network, so the API, the page, the stream and
the limits are the same as ``posekit serve``'s. Ray Serve's own bounds come from the same
settings: a replica holds its workers' requests, one more and its streams
(``max_ongoing_requests``), the rest wait in Ray's queue (``max_queued_requests`` =
``queue``; 503 beyond). Keeping the replica's share small matters: the HTTP proxy (on the
head node only, binding the given host and port) sends requests to replicas of its own node
until they are full (Ray's locality routing), so a replica that took many would leave the
other nodes idle. Ray is imported only when this module's functions run.
"""

from __future__ import annotations

import os
from typing import Any, Dict, Optional

from posekit.serve.settings import ServeSettings

#: The application's name in Ray Serve.
APP_NAME = "posekit"


def replica_class() -> Any:
    """The deployment's class (built on first use: it needs ``ray.serve``)."""
    from ray import serve

    class PoseReplica:
        """One replica: one network, the service's app around it."""

        def __init__(self, settings: ServeSettings) -> None:
            import ray

            from posekit.serve.engine import Engine

            node = ray.get_runtime_context().get_node_id()
            self.engine = Engine(settings, name=f"{node[:12]}:{os.getpid()}")
            self.engine.start(wait=True)
            if self.engine.error:
                raise RuntimeError(self.engine.error)
            self.settings = settings

        def __serve_build_asgi_app__(self) -> Any:
            from posekit.serve.app import create_app

            return create_app(self.settings, self.engine, start=False)

    return serve.ingress()(PoseReplica)


def deployment_options(settings: ServeSettings, replicas: int,
                       replica_cpus: float = 1.0) -> Dict[str, Any]:
    """Ray Serve's options for ``replicas`` replicas under ``settings``' limits.

    Raises:
        ValueError: ``replicas`` < 1 or ``replica_cpus`` <= 0.
    """
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 1:
        raise ValueError(f"replicas must be an integer >= 1, got {replicas!r}")
    if not replica_cpus > 0:
        raise ValueError(f"replica_cpus must be > 0, got {replica_cpus!r}")
    return {"name": "PoseReplica", "num_replicas": replicas,
            "max_ongoing_requests": settings.workers + 1 + settings.max_streams,
            "max_queued_requests": max(1, settings.queue),
            "ray_actor_options": {"num_cpus": replica_cpus}}


def run_ray(settings: ServeSettings, host: str, port: int, replicas: int,
            replica_cpus: float = 1.0, address: Optional[str] = None,
            init: Optional[Dict[str, Any]] = None) -> None:
    """Start the service on Ray Serve and return once every replica is up.

    Args:
        settings: the service's settings (each replica loads its network from them).
        host, port: where the HTTP proxy (head node only) listens.
        replicas: replicas (one network each).
        replica_cpus: CPUs each replica asks of Ray.
        address: a running cluster's address; None: connect to the one ``ray.init``
            finds, else start a local one.
        init: more ``ray.init`` arguments (only when not connected yet).

    Raises:
        ValueError: bad options (named).
        RuntimeError: a replica could not load its network.
    """
    import ray
    from ray import serve

    options = deployment_options(settings.checked(), replicas, replica_cpus)
    if not ray.is_initialized():
        ray.init(address=address, **(init or {}))
    serve.start(http_options={"host": host, "port": port, "location": "HeadOnly"})
    deployment = serve.deployment(replica_class()).options(**options)
    serve.run(deployment.bind(settings), name=APP_NAME, route_prefix="/")


def stop_ray() -> None:
    """Remove the application and stop Ray Serve (Ray itself stays up)."""
    from ray import serve

    serve.shutdown()
