"""Which Canvas hosts the server may talk to, and what base URL a `link` turns into."""
from __future__ import annotations

import pytest

from knowgap.canvas.hosts import canvas_base_url
from knowgap.core.errors import AppError
from tests.conftest import make_config

CONFIG = make_config(canvas_allowed_hosts=("canvas.example.edu", "*.instructure.com",
                                           "127.0.0.1"))


@pytest.mark.parametrize("link, expected", [
    ("canvas.example.edu", "https://canvas.example.edu"),
    ("https://canvas.example.edu/courses/101/quizzes", "https://canvas.example.edu"),
    ("ucf.instructure.com", "https://ucf.instructure.com"),
    ("127.0.0.1:8900", "http://127.0.0.1:8900"),           # local sandbox: no TLS
    ("http://127.0.0.1:8900/", "http://127.0.0.1:8900"),
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
])
def test_refused_links(link):
    with pytest.raises(AppError) as excinfo:
        canvas_base_url(link, CONFIG)
    assert excinfo.value.status in (400, 403)
