"""The pose service: an HTTP API, a WebSocket stream and a page, on FastAPI (or Ray Serve).

Modules, one idea each: :mod:`~posekit.serve.settings` (what is fixed at start),
:mod:`~posekit.serve.uploads` (an uploaded image checked from its header, then decoded in
memory), :mod:`~posekit.serve.limits` (body limit, bounded admission: 503 beyond it),
:mod:`~posekit.serve.metrics` (Prometheus text), :mod:`~posekit.serve.engine` (the
network, loaded once, and the ``conf`` / ``kpt_conf`` filter), :mod:`~posekit.serve.stream`
(``/v1/stream``: newest frame, one tracker per connection), :mod:`~posekit.serve.app`
(the routes) and :mod:`~posekit.serve.ray_app` (the same app as a Ray Serve deployment).
The page is ``page/`` (plain HTML, CSS and JavaScript, package data). The command is
``posekit serve`` (``posekit/apps/serve.py``). Nothing here touches process-wide state.
"""
