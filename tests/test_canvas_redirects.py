"""Which redirects the Canvas client follows (issue 17, finding 3).

The probe's Canvas answered ``302 Location: https://<other host>`` and the server followed it,
for ordinary API GETs too (six TLS handshakes reached the probe's listener). Now
(``knowgap/canvas/client.py`` ``CanvasClient._follow`` and ``get_url``; hosts in
``knowgap/canvas/hosts.py`` ``download_allowed``):

- an API call follows a redirect only on the Canvas origin (with the token); anywhere else it
  is refused before any connection is made;
- a download (``get_url``: a report's Progress or file URL) may also follow to a host on
  ``CANVAS_FILE_HOSTS``, over https, without the token (plain http only between loopback
  hosts, i.e. this sandbox and its fakes).
"""
from __future__ import annotations

import contextlib

import pytest
from aiohttp import web

from knowgap.canvas.client import CanvasClient
from knowgap.canvas.errors import CanvasBadResponse
from knowgap.canvas.runner import run_sync
from tests.conftest import make_config
from tests.loopback import LoopThread
from tests.test_canvas_hosts import Listener

TOKEN = "teacher-token"
FAST = dict(backoff_base=0.01, backoff_cap=0.05, request_timeout=2.0)


class Server:
    """An aiohttp app on a loopback port in its own thread; ``seen`` records each request's
    path and Authorization header."""

    def __init__(self, routes):
        self.seen: list[tuple[str, str | None]] = []
        self._routes = routes
        self._thread = LoopThread("redirect-fake")
        self._runner = None
        self.port = None

    async def _setup(self):
        @web.middleware
        async def record(request, handler):
            self.seen.append((request.path, request.headers.get("Authorization")))
            return await handler(request)

        app = web.Application(middlewares=[record])
        for path, handler in self._routes(self).items():
            app.router.add_get(path, handler)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def _shutdown(self):
        await self._runner.cleanup()

    def __enter__(self):
        self._thread.start(self._setup)
        return self

    def __exit__(self, *exc):
        self._thread.stop(self._shutdown)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"http://{self.host}"


def file_host_routes(server):
    async def report(request):
        return web.json_response([{"attempt": 1, "user_id": 1001}])
    return {"/signed/report.json": report}


def redirecting_canvas(targets: dict):
    """A Canvas that redirects, like Canvas does for file downloads (``/files/:id/download``
    answers 302 to the signed URL of Instructure's file service, ``inst-fs-*.inscloudgate.net``,
    which needs no token) and, in the probe, for API calls (302 to any https host).
    ``targets`` maps the Canvas path to the ``Location`` it answers."""
    def routes(server):
        def redirect(location):
            async def handler(request):
                raise web.HTTPFound(location)
            return handler

        async def quizzes(request):
            return web.json_response([{"id": 1, "title": "Quiz"}])

        out = {path: redirect(location) for path, location in targets.items()}
        out["/api/v1/courses/1/quizzes-moved"] = quizzes
        return out
    return routes


def call(canvas, fn, **config):
    cfg = make_config(canvas_base_url=canvas.base_url, canvas_allowed_hosts=(canvas.host,),
                      canvas_max_retries=0, **config)

    async def main():
        async with CanvasClient(None, TOKEN, config=cfg, **FAST) as client:
            return await fn(client)
    return run_sync(main, timeout=10)


@contextlib.contextmanager
def other_host():
    """A listener standing for a host the request must never reach (checked on exit)."""
    listener = Listener(banner=b"")
    try:
        yield listener
    finally:
        listener.close()
    assert listener.connections == 0


def test_api_call_follows_no_redirect_to_another_host():
    """Today's client followed this one to https: the listener saw TLS handshakes."""
    with other_host() as listener, Server(redirecting_canvas({
            "/api/v1/users/self": f"https://127.0.0.1:{listener.port}/api/v1/users/self",
            "/api/v1/courses/1/quizzes": f"http://127.0.0.1:{listener.port}/x"})) as canvas:
        for path in ("/users/self", "/courses/1/quizzes"):
            with pytest.raises(CanvasBadResponse) as err:
                call(canvas, lambda c, p=path: c.get(p))
            assert "stopped for safety" in err.value.message


def test_api_call_follows_a_redirect_on_the_canvas_origin():
    with Server(redirecting_canvas({
            "/api/v1/courses/1/quizzes": "/api/v1/courses/1/quizzes-moved"})) as canvas:
        assert call(canvas, lambda c: c.get("/courses/1/quizzes")) == [
            {"id": 1, "title": "Quiz"}]
    assert [auth for _, auth in canvas.seen] == [f"Bearer {TOKEN}"] * 2


def test_download_follows_to_an_allowed_file_host_without_the_token():
    with Server(file_host_routes) as files:
        with Server(redirecting_canvas({
                "/api/v1/files/7/download":
                    f"{files.base_url}/signed/report.json?verifier=x"})) as canvas:
            body = call(canvas, lambda c: c.get_url("/api/v1/files/7/download"),
                        canvas_file_hosts=(files.host,))
    assert body == [{"attempt": 1, "user_id": 1001}]
    assert canvas.seen == [("/api/v1/files/7/download", f"Bearer {TOKEN}")]
    assert files.seen == [("/signed/report.json", None)]          # no token to storage


def test_download_to_a_host_not_on_the_file_list_is_refused():
    with other_host() as listener, Server(redirecting_canvas({
            "/api/v1/files/7/download": f"https://127.0.0.1:{listener.port}/f",
            "/api/v1/files/8/download": f"http://127.0.0.1:{listener.port}/f"})) as canvas:
        for n in (7, 8):
            with pytest.raises(CanvasBadResponse):
                call(canvas, lambda c, n=n: c.get_url(f"/api/v1/files/{n}/download"),
                     canvas_file_hosts=("*.inscloudgate.net",))


def test_probe_through_the_app_reaches_no_other_host(db):
    """KnowGap's identity check (``/users/self``) against a Canvas that redirects it away: a
    clear 502 and nothing sent elsewhere (today: TLS handshakes to the other host)."""
    from knowgap import create_app

    with other_host() as listener, Server(redirecting_canvas({
            "/api/v1/users/self": f"https://127.0.0.1:{listener.port}/u"})) as canvas:
        config = make_config(canvas_base_url=canvas.base_url,
                             canvas_allowed_hosts=(canvas.host,), canvas_max_retries=1)
        response = create_app(config, db=db).test_client().post(
            "/get-course-quizzes", json={"course_id": "101", "access_token": TOKEN})
    assert response.status_code == 502
    assert response.get_json()["error"] == "canvas_bad_response"
