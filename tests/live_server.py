"""The app served for real over loopback HTTP, for clients that fetch its URLs themselves
(the 1EdTech Open Badges verifier follows the links between the hosted documents)."""
from __future__ import annotations

import contextlib
import threading

from werkzeug.serving import WSGIRequestHandler, make_server

from knowgap import create_app
from knowgap.core.extensions import limiter
from tests.conftest import make_config


class _QuietHandler(WSGIRequestHandler):
    def log(self, *args, **kwargs):  # the app's request log already records each request
        pass


@contextlib.contextmanager
def live_app(db, **settings):
    """An app whose ``PUBLIC_BASE_URL`` is the loopback address it is served on."""
    holder: dict = {}
    server = make_server("127.0.0.1", 0, lambda environ, start: holder["app"](environ, start),
                         threaded=True, request_handler=_QuietHandler)
    base_url = f"http://127.0.0.1:{server.server_port}"
    app = create_app(make_config(public_base_url=base_url, **settings), db=db)
    app.config["TESTING"] = True
    holder["app"] = app
    limiter.reset()
    thread = threading.Thread(target=server.serve_forever, name="live-app", daemon=True)
    thread.start()
    try:
        yield app
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        limiter.reset()
