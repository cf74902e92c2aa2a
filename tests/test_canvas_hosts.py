"""Which Canvas hosts the server may talk to, and what base URL a `link` turns into.

The allow-list is the server's only defence against request forgery through ``link``: an
outside probe had the server send a caller's token to ``127.0.0.1:8929`` and to the server
itself, because an entry without a port (``127.0.0.1``) admitted every port. Now an entry
without a port admits the scheme's default port only (``knowgap/canvas/hosts.py``
``host_allowed``), and a refused host:port is refused before any connection, so the answer
says nothing about what listens there.
"""
from __future__ import annotations

import socket
import threading

import pytest

from knowgap.canvas.hosts import canvas_base_url, canvas_host, download_allowed, host_allowed
from knowgap.core.errors import AppError
from tests.conftest import make_config

CONFIG = make_config(canvas_allowed_hosts=("canvas.example.edu", "*.instructure.com",
                                           "127.0.0.1:8900", "inst-fs-*.example.net"))


@pytest.mark.parametrize("link, expected", [
    ("canvas.example.edu", "https://canvas.example.edu"),
    ("https://canvas.example.edu/courses/101/quizzes", "https://canvas.example.edu"),
    ("https://canvas.example.edu:443/x", "https://canvas.example.edu"),     # one spelling
    ("ucf.instructure.com", "https://ucf.instructure.com"),
    ("127.0.0.1:8900", "http://127.0.0.1:8900"),           # local sandbox: no TLS
    ("http://127.0.0.1:8900/", "http://127.0.0.1:8900"),
    ("inst-fs-iad-prod.example.net", "https://inst-fs-iad-prod.example.net"),
])
def test_allowed_links(link, expected):
    assert canvas_base_url(link, CONFIG) == expected


@pytest.mark.parametrize("link", [
    "evil.example.com",
    "instructure.com.evil.net",
    "http://canvas.example.edu",                 # plain http only on loopback
    "https://canvas.example.edu@evil.example.com",
    "ftp://canvas.example.edu",
    "",
    # an entry without a port admits the default port only
    "https://canvas.example.edu:8443",
    "canvas.example.edu:22",
    "https://ucf.instructure.com:8080",
    # an entry with a port admits that port only
    "127.0.0.1:8929",
    "http://127.0.0.1:5001",
    "127.0.0.1",
    # ``*`` stays inside its label
    "inst-fs-a.b.example.net",
    "evil.inst-fs-x.example.net",
])
def test_refused_links(link):
    with pytest.raises(AppError) as excinfo:
        canvas_base_url(link, CONFIG)
    assert excinfo.value.status == 403
    assert excinfo.value.error == "canvas_host_not_allowed"


def test_entry_without_port_is_the_schemes_default_port():
    assert host_allowed("127.0.0.1", 80, ("127.0.0.1",), "http")
    assert host_allowed("127.0.0.1", 443, ("127.0.0.1",), "https")
    assert not host_allowed("127.0.0.1", 8929, ("127.0.0.1",), "http")
    assert not host_allowed("127.0.0.1", 80, ("127.0.0.1",), "https")
    assert host_allowed("127.0.0.1", 8929, ("127.0.0.1:8929",), "http")
    assert not host_allowed("127.0.0.1", 80, ("127.0.0.1:8929",), "http")


def test_canvas_host_is_the_tenant_key():
    assert canvas_host("https://UCF.instructure.com") == "ucf.instructure.com"
    assert canvas_host("https://ucf.instructure.com:443") == "ucf.instructure.com"
    assert canvas_host("http://127.0.0.1:8900") == "127.0.0.1:8900"
    assert canvas_host("http://[::1]:8900") == "[::1]:8900"
    # the same Canvas however the link was written
    assert len({canvas_host(canvas_base_url(link, CONFIG)) for link in (
        "ucf.instructure.com", "https://ucf.instructure.com/", "https://ucf.instructure.com:443",
        "UCF.Instructure.com.")}) == 1


def test_download_hosts():
    files = ("*.inscloudgate.net", "instructure-uploads-*.s3.*.amazonaws.com",
             "127.0.0.1:9100")
    canvas = "https://ucf.instructure.com"
    assert download_allowed("https://inst-fs-iad-prod.inscloudgate.net/f?x=1", canvas, files)
    assert download_allowed("https://instructure-uploads-pdx.s3.us-west-2.amazonaws.com/a",
                            canvas, files)
    assert download_allowed("https://ucf.instructure.com/files/1/download", canvas, files)
    assert not download_allowed("http://inst-fs-iad-prod.inscloudgate.net/f", canvas, files)
    assert not download_allowed("https://evil.example.com/f", canvas, files)
    assert not download_allowed("https://evil-bucket.s3.us-west-2.amazonaws.com/a", canvas,
                                files)
    assert not download_allowed("https://fiu.instructure.com/files/1", canvas, files)
    # loopback http only where Canvas itself is loopback (the sandbox and its fakes)
    assert download_allowed("http://127.0.0.1:9100/f", "http://127.0.0.1:8900", files)
    assert not download_allowed("http://127.0.0.1:9100/f", canvas, files)
    assert not download_allowed("http://127.0.0.1:9200/f", "http://127.0.0.1:8900", files)


# ------------------------------------------------------------------ the probe, over HTTP


class Listener:
    """A TCP port that counts connections; ``banner`` is sent to each (a non-HTTP service)."""

    def __init__(self, banner: bytes = b"SSH-2.0-OpenSSH_9.6\r\n"):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.banner = banner
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            try:
                conn.sendall(self.banner)
            finally:
                conn.close()

    def close(self):
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def probe_app(sandbox, db):
    from knowgap import create_app

    # what the probe met: a loopback entry without a port
    config = make_config(canvas_base_url=sandbox.base_url, canvas_allowed_hosts=("127.0.0.1",))
    return create_app(config, db=db).test_client()


def test_ports_are_indistinguishable_and_never_contacted(probe_app, sandbox):
    """Closed, non-HTTP and HTTP (a real Canvas sandbox) ports of an allowed host name give
    the same answer, and none of them is ever connected to (so there is no timing to tell
    them apart either). Today's code connects and answers 502, 502 and 401 differently."""
    listener = Listener()
    try:
        targets = {"closed": _closed_port(), "non-http": listener.port, "http": sandbox.port}
        answers = {}
        for name, port in targets.items():
            response = probe_app.post("/get-course-quizzes", json={
                "course_id": "101", "access_token": "teacher-token",
                "link": f"127.0.0.1:{port}"})
            answers[name] = (response.status_code, response.get_json())
        assert listener.connections == 0
        assert sandbox.state.total_requests == 0
    finally:
        listener.close()
    bodies = {name: body for name, (_, body) in answers.items()}
    assert {status for status, _ in answers.values()} == {403}
    assert len({repr(sorted(b.items())) for b in bodies.values()}) == 1, bodies
    assert bodies["closed"]["error"] == "canvas_host_not_allowed"
    assert str(targets["closed"]) not in bodies["closed"]["message"]
