"""``/docs`` works offline: the page and every file it references come from the app itself
(Swagger UI from the installed ``flask-swagger-ui`` package), none from another host."""
from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from knowgap.core import swagger_ui

CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


class References(HTMLParser):
    """URLs of the scripts, stylesheets/icons and images a page loads."""

    ATTRS = {"script": "src", "link": "href", "img": "src"}

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        value = dict(attrs).get(self.ATTRS.get(tag, ""))
        if value:
            self.urls.append(value)


def references(html: str) -> list[str]:
    parser = References()
    parser.feed(html)
    return parser.urls


def test_docs_and_every_asset_it_references_are_served_by_the_app(client):
    page = client.get("/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    urls = references(html)
    assert len(urls) == 3, urls            # swagger-ui.css, the standalone preset, the bundle
    assert "cdn" not in html.lower()
    for url in urls:
        absolute = urljoin("http://localhost/docs", url)
        parts = urlsplit(absolute)
        assert parts.netloc == "localhost", f"{url} is loaded from another host"
        r = client.get(parts.path)
        assert r.status_code == 200, url
        suffix = parts.path[parts.path.rfind("."):]
        assert r.mimetype == CONTENT_TYPES[suffix], (url, r.mimetype)
        assert len(r.data) > 1000, url    # the real file, not an error page
        assert r.cache_control.max_age == swagger_ui.MAX_AGE
    bundle = client.get(swagger_ui.URL + "swagger-ui-bundle.js").get_data(as_text=True)
    assert "SwaggerUIBundle" in bundle
    assert '"validatorUrl": null' in html   # the page sends the spec to no online validator


def test_asset_urls_carry_the_installed_version_and_stay_inside_the_package(client):
    assert swagger_ui.VERSION in swagger_ui.URL
    assert client.get(swagger_ui.URL + "favicon-32x32.png").mimetype == "image/png"
    for path in ("missing.js", "../__init__.py", "..%2f__init__.py", "%2e%2e/flask_swagger_ui.py"):
        r = client.get(swagger_ui.URL + path)
        assert r.status_code == 404, path
    other_version = swagger_ui.URL.replace(swagger_ui.VERSION, "0.0.0")
    assert client.get(other_version + "swagger-ui.css").status_code == 404
