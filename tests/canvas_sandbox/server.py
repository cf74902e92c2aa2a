"""The sandbox HTTP server: aiohttp app + middleware, run in a background thread.

Why real HTTP over loopback instead of mocking the client: the backend's Canvas client is
concurrent (aiohttp), so what matters is how it behaves under latency, per-token throttling,
pagination, and broken responses.  Only a real socket shows connection resets, truncated
bodies, hung requests and the in-flight concurrency the throttle reacts to.

Request pipeline (``_pipeline`` middleware), in order:
  1. count the request (``state.begin``) and look for an injected fault;
  2. authenticate ``Authorization: Bearer <token>`` (or ``?access_token=``): unknown/missing
     -> 401 + ``WWW-Authenticate: Bearer realm="canvas-lms"``;
  3. throttle: reserve the up-front cost in the token's leaky bucket or answer 403/429;
  4. sleep ``state.latency_s`` (holding the reservation, like a slow real request);
  5. run the handler, settle the bucket with the actual cost, stamp ``X-Request-Cost`` and
     ``X-Rate-Limit-Remaining``; log the request.

Usage::

    with SandboxServer(build_world(), latency_s=0.01).start() as srv:
        api = srv.base_url + "/api/v1"
        srv.state.inject("503", count=2, path="/quizzes")
"""

from __future__ import annotations

import asyncio
import math
import socket
import struct
import time

from aiohttp import web

from tests.loopback import LoopThread

from .api import CACHE, ITEMS, USER_ID, WORLD, add_routes, error, json_response
from .cache import ResponseCache
from .new_quizzes import REPORTS, ReportDesk
from .state import FaultRule, SandboxState
from .world import World

STATE = web.AppKey("state", SandboxState)
STOPPING = web.AppKey("stopping", asyncio.Event)

REALM = 'Bearer realm="canvas-lms"'


def _token_of(request: web.Request) -> str | None:
    auth = request.headers.get("Authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip() or None
    return request.query.get("access_token") or None


def invalid_token() -> web.Response:
    resp = error(401, "Invalid access token.")
    resp.headers["WWW-Authenticate"] = REALM
    return resp


def throttled(state: SandboxState, remaining: float, retry_after: float,
              status: int | None = None) -> web.Response:
    status = status or state.throttle_status
    resp = web.Response(status=status, text=f"{status} {'Forbidden' if status == 403 else 'Too Many Requests'}"
                                            f" (Rate Limit Exceeded)\n")
    resp.headers["X-Request-Cost"] = "0"
    resp.headers["X-Rate-Limit-Remaining"] = f"{remaining:.1f}"
    if status == 429:
        resp.headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
    return resp


def _abort_connection(request: web.Request) -> None:
    """Close the socket with RST (SO_LINGER 0) so the client sees a reset, not a clean EOF."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    transport.abort()


async def _apply_fault(request: web.Request, handler, fault: FaultRule, entry: dict):
    """Return the faulty response (for ``reset`` a dummy one after aborting the socket)."""
    state = request.app[STATE]
    kind = fault.kind
    if kind == "reset":
        _abort_connection(request)
        entry["status"] = "reset"
        return web.Response(status=599)  # never reaches the client: the socket is gone
    if kind == "timeout":
        delay = fault.delay_s if fault.delay_s is not None else state.hang_s
        try:
            await asyncio.wait_for(request.app[STOPPING].wait(), delay)
        except asyncio.TimeoutError:
            pass
        return web.Response(status=504, text="<html><body><h1>504 Gateway Time-out</h1></body></html>",
                            content_type="text/html")
    if kind == "401":
        return invalid_token()
    if kind in ("403", "429", "throttle"):
        entry["throttled"] = True
        status = state.throttle_status if kind == "throttle" else int(kind)
        return throttled(state, 0.0, state.upfront_cost / state.outflow_per_s, status)
    if kind == "500":
        return json_response({"errors": [{"message": "An error occurred."}],
                              "error_report_id": 4242}, 500)
    if kind in ("502", "503", "504"):
        title = {"502": "Bad Gateway", "503": "Service Unavailable", "504": "Gateway Time-out"}[kind]
        return web.Response(status=int(kind), content_type="text/html",
                            text=f"<html><body><h1>{kind} {title}</h1></body></html>")
    if kind == "malformed_json":
        resp = await _serve(request, handler, entry)
        body = resp.body if isinstance(resp.body, bytes) else b'{"errors":[]}'
        cut = web.Response(status=resp.status, body=body[: max(1, len(body) // 2)],
                           content_type="application/json", charset="utf-8")
        for h in ("Link", "X-Request-Cost", "X-Rate-Limit-Remaining"):
            if h in resp.headers:
                cut.headers[h] = resp.headers[h]
        return cut
    raise AssertionError(kind)


async def _serve(request: web.Request, handler, entry: dict) -> web.StreamResponse:
    state: SandboxState = request.app[STATE]
    world: World = request.app[WORLD]
    token = entry["token"]
    user_id = world.tokens.get(token) if token else None
    if user_id is None:
        return invalid_token()
    request[USER_ID] = entry["user_id"] = user_id
    ok, remaining, retry_after = state.reserve(token)
    if not ok:
        entry["throttled"] = True
        return throttled(state, remaining, retry_after)
    cost = state.cost_base
    try:
        if state.latency_s > 0:
            await asyncio.sleep(state.latency_s)
        try:
            resp = await handler(request)
        except web.HTTPException as exc:
            resp = (error(404, "The specified resource does not exist.") if exc.status == 404
                    else web.Response(status=exc.status, text=exc.text,
                                      content_type=exc.content_type or "text/plain"))
        cost = state.request_cost(request.get(ITEMS, 0))
    finally:
        remaining = state.settle(token, cost)
    resp.headers["X-Request-Cost"] = f"{cost:.4f}"
    resp.headers["X-Rate-Limit-Remaining"] = f"{remaining:.1f}"
    entry["cost"], entry["remaining"] = cost, remaining
    return resp


@web.middleware
async def _pipeline(request: web.Request, handler):
    state: SandboxState = request.app[STATE]
    token = _token_of(request)
    key = token or "<none>"
    entry = {"method": request.method, "path": request.path, "query": request.query_string,
             "token": token, "user_id": None, "status": None, "fault": None, "throttled": False,
             "cost": 0.0, "remaining": None, "started": time.time(), "duration_s": None}
    t0 = time.monotonic()
    state.begin(key, request.path)
    try:
        fault = state.take_fault(request.path_qs)
        if fault is not None:
            entry["fault"] = fault.kind
            resp = await _apply_fault(request, handler, fault, entry)
        else:
            resp = await _serve(request, handler, entry)
        entry["status"] = entry["status"] or resp.status
        return resp
    except asyncio.CancelledError:
        entry["status"] = "cancelled"
        raise
    except ConnectionResetError:
        entry["status"] = "reset"
        raise
    except Exception:
        entry["status"] = 500
        raise
    finally:
        entry["duration_s"] = time.monotonic() - t0
        state.end(key, entry)


def build_app(world: World, state: SandboxState,
              reports: ReportDesk | None = None) -> web.Application:
    app = web.Application(middlewares=[_pipeline])
    app[WORLD] = world
    app[STATE] = state
    app[REPORTS] = reports or ReportDesk()
    app[CACHE] = ResponseCache()
    add_routes(app)

    async def _on_startup(app: web.Application) -> None:
        app[STOPPING] = asyncio.Event()   # created on the server loop

    app.on_startup.append(_on_startup)
    return app


class SandboxServer:
    """Fake Canvas on a free loopback port, served from its own thread and event loop.

    Attributes: ``world``, ``state`` (alias ``faults``), ``reports`` (New Quizzes report
    knobs, see ``new_quizzes.ReportDesk``), ``base_url`` (``http://127.0.0.1:PORT``;
    the API root is ``base_url + "/api/v1"``), ``api_url``, ``host`` (``127.0.0.1:PORT``),
    ``port``.  ``start()`` returns self; ``stop()`` releases hung requests and joins the thread.
    """

    def __init__(self, world: World, *, host: str = "127.0.0.1", port: int = 0,
                 latency_s: float = 0.0, throttle: bool = True, **state_kwargs) -> None:
        self.world = world
        self.state = SandboxState(latency_s=latency_s, throttle=throttle, **state_kwargs)
        self.reports = ReportDesk()              # New Quizzes reports: knobs and counters
        self._bind_host, self._bind_port = host, port
        self.port: int | None = None
        self._runtime = LoopThread("canvas-sandbox")
        self._runner: web.AppRunner | None = None
        self._app: web.Application | None = None

    @property
    def faults(self) -> SandboxState:
        return self.state

    @property
    def host(self) -> str:
        return f"{self._bind_host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"http://{self.host}"

    @property
    def api_url(self) -> str:
        return self.base_url + "/api/v1"

    # convenience pass-throughs
    def inject(self, kind: str, count: int = 1, path: str | None = None,
               delay_s: float | None = None) -> None:
        self.state.inject(kind, count, path, delay_s)

    def reset_counters(self) -> None:
        self.state.reset_counters()

    def start(self, timeout: float = 10.0) -> "SandboxServer":
        """Serve; ``timeout``: how long setup (warming a big world's lists) may take."""
        if not self._runtime.running:
            self._runtime.start(self._setup, timeout)
        return self

    async def _setup(self) -> None:
        self._app = build_app(self.world, self.state, self.reports)
        self._app[CACHE].warm(self.world)       # serialise the heavy lists before serving
        self.reports.warm(self.world)
        self._runner = web.AppRunner(self._app, access_log=None, shutdown_timeout=1.0,
                                     handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._bind_host, self._bind_port)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def _shutdown(self) -> None:
        if self._app is not None and STOPPING in self._app:
            self._app[STOPPING].set()
        if self._runner is not None:
            await self._runner.cleanup()

    def stop(self) -> None:
        self._runtime.stop(self._shutdown)

    def __enter__(self) -> "SandboxServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<SandboxServer {self.base_url if self.port else 'stopped'}>"
