"""``posekit serve`` (also ``posekit-serve``): the pose service and its page, on uvicorn or Ray Serve.

Why a command of its own: ``posekit`` is the demo (its first argument is an input path),
so ``posekit serve`` is dispatched here by :func:`posekit.apps.demo.main` when its first
word is ``serve``; a file or folder named ``serve`` in the current folder would make that
ambiguous, so then the demo refuses with one line (``./serve`` names the file,
``posekit-serve`` the service). The body runs through the one command skeleton
(``posekit.apps.command``): Ctrl-C or SIGTERM stops the server after the requests in
flight are answered, with one line and status 130.

Safe by default: it binds 127.0.0.1; any other ``--host`` needs ``--token`` (or
``POSEKIT_TOKEN``), or it refuses in one line.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
import threading
from typing import Iterable, Optional

from posekit.extras import require
from posekit.apps.command import CommandError, Interrupted, SignalGate, run_command
from posekit.apps.common import (HelpFormatter, Parser, add_network_options,
                                 add_verbosity_options, add_version_option, configure_logging,
                                 max_side, native_stderr_filtered, number,
                                 quiet_native_logs)
from posekit.pipeline import DEFAULT_MAX_SIDE

PROG = "posekit-serve"
#: The environment variable holding the token (keeps it out of the process list).
TOKEN_ENV = "POSEKIT_TOKEN"


def build_parser(prog: str = PROG) -> Parser:
    """The command line of ``posekit serve``."""
    from posekit.serve.settings import DEFAULT_MAX_BODY

    parser = Parser(prog=prog, formatter_class=HelpFormatter, description=(
        "Serve pose estimation over HTTP: POST /v1/pose, the WebSocket /v1/stream, the page "
        "at /, /healthz, /readyz, /metrics and the API docs at /docs."))
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind; any but loopback needs --token")
    parser.add_argument("--port", type=int, default=8000, help="port (0: any free one)")
    parser.add_argument("--token", default=None,          # never shown: read at the start
                        help=f"bearer token every API call must carry (default: ${TOKEN_ENV})")
    add_network_options(parser)
    parser.add_argument("--max-side", type=max_side, default=DEFAULT_MAX_SIDE,
                        help="longest side fed to the network by default (0: never shrink)")
    limits = parser.add_argument_group("limits")
    limits.add_argument("--max-body-mb", type=number(float, 0.001, 1000),
                        default=DEFAULT_MAX_BODY / 1e6, help="largest body or frame, MB")
    limits.add_argument("--workers", type=number(int, 1, 64), default=1,
                        help="images estimated at once")
    limits.add_argument("--queue", type=number(int, 0, 10000), default=4,
                        help="requests waiting beyond those; more are answered 503")
    limits.add_argument("--max-streams", type=number(int, 1, 1000), default=4,
                        help="WebSocket streams at once")
    ray = parser.add_argument_group("Ray Serve")
    ray.add_argument("--ray", action="store_true", help="run on Ray Serve")
    ray.add_argument("--address",
                     help="a Ray cluster's address (default: start a local Ray, never join one)")
    ray.add_argument("--replicas", type=number(int, 1, 1000), default=1,
                     help="replicas, one network each")
    add_verbosity_options(parser, "only errors")
    add_version_option(parser)
    return parser


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (``localhost``, 127.0.0.0/8, ``::1``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: Optional[str]) -> None:
    """The bind rule: beyond loopback, a token.

    Raises:
        CommandError: ``host`` is not loopback and there is no token.
    """
    if not is_loopback(host) and not token:
        raise CommandError(f"--host {host} can be reached from other machines: give --token "
                           f"(or ${TOKEN_ENV}) so that only clients holding it are served, or "
                           "bind 127.0.0.1")


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (IPv4 or IPv6).

    Raises:
        CommandError: the address cannot be bound (in use, unknown host).
    """
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        raise CommandError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def main(argv: Optional[Iterable[str]] = None, prog: str = PROG) -> int:
    """Run ``posekit serve``; returns the exit status."""
    args = build_parser(prog).parse_args(None if argv is None else list(argv))
    with native_stderr_filtered(args.verbose):      # TFLite's notices: only with -v
        configure_logging(args.quiet, args.verbose)
        quiet_native_logs()
        gate = SignalGate()
        return run_command(prog, lambda: _serve(args, prog, gate), gate)


def _settings(args):
    from posekit.serve.settings import ServeSettings

    try:
        return ServeSettings(model=args.model, weights=args.weights, runtime=args.runtime,
                             skip_hash_check=args.skip_hash_check, max_side=args.max_side,
                             token=args.token, max_body=int(args.max_body_mb * 1e6),
                             workers=int(args.workers), queue=int(args.queue),
                             max_streams=int(args.max_streams),
                             max_connections=64 + int(args.max_streams)).checked()
    except ValueError as exc:
        raise CommandError(str(exc)) from None


def _serve(args, prog: str, gate: SignalGate) -> int:
    for package in ("fastapi", "uvicorn"):
        require(package, "posekit serve")
    args.token = args.token or os.environ.get(TOKEN_ENV) or None
    check_bind(args.host, args.token)
    settings = _settings(args)
    if args.ray:
        return _serve_ray(args, settings, prog)
    import uvicorn

    from posekit.serve.app import create_app

    sock = bind(args.host, args.port)
    host, port = sock.getsockname()[:2]
    app = create_app(settings)
    config = uvicorn.Config(app, log_level="warning", access_log=False,
                            limit_concurrency=settings.max_connections,
                            ws_max_size=settings.max_body, timeout_graceful_shutdown=10,
                            lifespan="off")
    server = uvicorn.Server(config)
    shown = f"[{host}]" if ":" in host else host
    print(f"{prog}: listening on http://{shown}:{port}/ (API docs at /docs; Ctrl-C stops)",
          file=sys.stderr, flush=True)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while thread.is_alive():
            thread.join(0.5)
    except KeyboardInterrupt:
        server.should_exit = True
        with gate.muted():
            thread.join(15)
        raise Interrupted("stopped; the requests in flight were answered") from None
    finally:
        sock.close()
    raise CommandError("the server stopped on its own (see above)")


def _serve_ray(args, settings, prog: str) -> int:
    require("ray", "posekit serve --ray", extra="ray")
    from posekit.serve.ray_app import run_ray, stop_ray

    try:
        run_ray(settings, args.host, args.port, int(args.replicas),
                address=args.address or "local")
    except (ValueError, RuntimeError, ConnectionError) as exc:
        raise CommandError(f"Ray Serve did not start: {exc}") from None
    print(f"{prog}: Ray Serve, {int(args.replicas)} replicas, listening on "
          f"http://{args.host}:{args.port}/ (Ctrl-C stops)", file=sys.stderr, flush=True)
    stop = threading.Event()
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        stop_ray()
        raise Interrupted("stopped Ray Serve") from None
    return 0


if __name__ == "__main__":
    sys.exit(main())
