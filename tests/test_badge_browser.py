"""A shared badge's link opened in a real browser: Debian's Chromium, driven by Playwright.

The app is served on a loopback port (``tests/live_server.py``) and Chromium opens the link a
student shares, exactly as a recruiter's browser would: what a person sees is checked (title,
the verified mark, the LinkedIn link, the badge image actually loaded and decoded), the page
must load without a single failed request or console error (so nothing is blocked by its
Content-Security-Policy and nothing is fetched from elsewhere), and a screenshot is saved in the
test's temporary folder. ``scripts/system-packages.txt`` brings ``chromium``;
``requirements-dev.txt`` pins Playwright (whose own browser download is not used).
"""
from __future__ import annotations

import os
import re
from urllib.parse import urlsplit

import pytest

from achieveup.badges.images import contrast
from tests.badge_support import share_a_badge
from tests.conftest import canvas_settings
from tests.live_server import live_app

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

#: The colour of an element's text and the first opaque background behind it, as rendered.
COLORS = """el => {
  const fg = getComputedStyle(el).color;
  let node = el, bg = "rgba(0, 0, 0, 0)";
  while (node && /rgba\\(.*, 0\\)|transparent/.test(bg)) {
    bg = getComputedStyle(node).backgroundColor; node = node.parentElement;
  }
  return [fg, bg];
}"""

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                reason="Debian's chromium is not installed (bootstrap.sh as "
                                       "root installs scripts/system-packages.txt)")


@pytest.fixture
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


def _open(browser, url: str, screenshot):
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}")
            if msg.type in ("error", "warning") else None)
    page.on("requestfailed", lambda req: problems.append(f"failed: {req.url}"))
    requested: list[str] = []
    page.on("request", lambda req: requested.append(req.url))
    response = page.goto(url, wait_until="load")
    page.screenshot(path=str(screenshot), full_page=True)
    return page, response, problems, requested


def _hex(css: str) -> str:
    r, g, b = (int(v) for v in re.findall(r"\d+", css)[:3])
    return f"#{r:02x}{g:02x}{b:02x}"


def _check_accessibility(page) -> None:
    """lang, one h1 first, alt text on every image, text contrast of at least 4.5:1."""
    assert page.evaluate("document.documentElement.lang") == "en"
    headings = page.evaluate("[...document.querySelectorAll('h1,h2,h3')].map(h => h.tagName)")
    assert headings[0] == "H1" and headings.count("H1") == 1
    assert page.evaluate("[...document.images].every(i => i.alt.trim().length > 0)")
    for selector in ("h1", "p", "a", "dt", "dd", "li", "#verified-mark", "#linkedin",
                     "header a", "footer"):
        for element in page.locator(selector).all():
            fg, bg = element.evaluate(COLORS)
            assert contrast(_hex(fg), _hex(bg)) >= 4.5, (selector, fg, bg)


def test_a_shared_badge_opens_as_a_verified_page(browser, sandbox, db, tmp_path):
    with live_app(db, **canvas_settings(sandbox), badge_issuer_name="UCF AchieveUp") as app:
        ctx = share_a_badge(app.test_client(), app, sandbox.world)
        view = ctx["view"]
        shot = tmp_path / "badge-page.png"
        page, response, problems, requested = _open(browser, view["shareable_link"], shot)
        assert response.status == 200 and response.headers["content-type"].startswith(
            "text/html")
        assert page.title() == f"{view['badge_name']} — UCF AchieveUp"
        assert page.get_by_role("heading", level=1).inner_text() == view["badge_name"]
        mark = page.locator("#verified-mark")
        assert mark.is_visible() and mark.inner_text().strip() == "✓ Verified"
        linkedin = page.get_by_role("link", name="Add to LinkedIn profile")
        assert linkedin.is_visible()
        href = linkedin.get_attribute("href")
        assert href.startswith("https://www.linkedin.com/profile/add?startTask=CERTIFICATION_NAME")
        image = page.get_by_role("img", name=f"{view['badge_level'].capitalize()} level badge",
                                 exact=False)
        loaded = image.evaluate("img => img.complete && img.naturalWidth")
        assert loaded == 512 and image.is_visible()
        assert problems == []
        _check_accessibility(page)
        ours = urlsplit(view["shareable_link"]).netloc
        assert {urlsplit(u).netloc for u in requested} == {ours}
        assert shot.stat().st_size > 10_000

        # a badge nobody shared: the 404 page, also in the browser
        missing = view["shareable_link"].rsplit("/", 1)[0] + "/AAAAAAAAAAAAAAAAAAAAAA"
        page, response, problems, _ = _open(browser, missing, tmp_path / "not-found.png")
        assert response.status == 404
        assert page.get_by_role("heading", level=1).inner_text() == "Badge not found"
        # Chromium reports the 404 document itself as a console error; nothing else may fail
        assert [p for p in problems if "404" not in p] == []


def test_the_public_profile_in_the_browser(browser, sandbox, db, tmp_path):
    with live_app(db, **canvas_settings(sandbox)) as app:
        client = app.test_client()
        ctx = share_a_badge(client, app, sandbox.world)
        client.put("/achieveup/badge-profile", json={"show_name": True}, headers=ctx["student"])
        name = client.get("/achieveup/badge-profile", headers=ctx["student"]).get_json()["name"]
        url = ctx["view"]["shareable_link"].split("/assertions/")[0] + \
            f"/student/{ctx['badge']['student_id']}"
        page, response, problems, _ = _open(browser, url, tmp_path / "profile.png")
        assert response.status == 200 and problems == []
        assert page.title() == f"{name}'s badges — AchieveUp"
        _check_accessibility(page)
        page.get_by_role("link", name=ctx["view"]["badge_name"]).click()
        page.wait_for_load_state("load")
        assert page.url == ctx["view"]["shareable_link"]
        assert page.locator("#verified-mark").inner_text().strip() == "✓ Verified"
