"""Badge pages for people (issue 19): content negotiation, the page, sharing, downloads, the
public profile.

The JSON documents are compared byte for byte across the Accept headers verifiers send; the
pages are read as HTML with the standard library's parser (every tag, attribute and text the
way a browser gets them); the baked PNGs are read back with pypng, a different PNG library than
the one that drew them (Pillow), and the OB 2.0 baked image is checked by the 1EdTech verifier
(``tests/test_ob2_validator.py`` explains its setup).
"""
from __future__ import annotations

import io
import json
import zlib
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import png
import pytest
from PIL import Image

from achieveup.badges import images, revisions, verification
from achieveup.mastery import store
from tests.badge_support import revoke_skill_of, share_a_badge
from tests.conftest import canvas_settings
from tests.live_server import live_app
from tests.test_ob2_validator import errors, run_verifier

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,"
                     "image/webp,*/*;q=0.8", "User-Agent": "Mozilla/5.0 (X11; Linux x86_64)"}
#: What verifiers and API clients send: none of these may get a page.
NOT_A_BROWSER = [{}, {"Accept": "*/*"}, {"Accept": "application/json"},
                 {"Accept": "application/ld+json, application/json"},
                 {"Accept": "text/html, application/json"},           # a tie goes to JSON
                 {"Accept": "application/json, text/plain, */*"},     # the web app (axios)
                 {"Accept": "text/html;q=0.5, */*"},
                 {"Accept": "application/json", "User-Agent": "LinkedInBot/1.0"}]
ISSUER = {"badge_issuer_name": "UCF AchieveUp", "badge_issuer_url": "https://achieveup.example.edu",
          "badge_issuer_email": "badges@achieveup.example.edu"}


class Page(HTMLParser):
    """A page as a list of (tag, attributes) and its visible text."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self._skip = 0
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag in ("style", "title"):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in ("style", "title"):
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.text.append(" ".join(data.split()))

    def all(self, tag: str, **attrs) -> list[dict]:
        return [a for t, a in self.tags if t == tag
                and all(a.get(k) == v for k, v in attrs.items())]

    def meta(self, key: str) -> str | None:
        found = [a.get("content") for t, a in self.tags if t == "meta"
                 and key in (a.get("property"), a.get("name"))]
        return found[0] if found else None

    @property
    def visible(self) -> str:
        return " ".join(self.text)


def local(url: str) -> str:
    return "/" + url.split("/", 3)[3]


@pytest.fixture
def shared(client, app, canvas_world):
    return share_a_badge(client, app, canvas_world)


def page(client, url: str, **headers) -> tuple[int, Page, object]:
    r = client.get(local(url), headers={**BROWSER, **headers})
    return r.status_code, Page(r.get_data(as_text=True)), r


# ------------------------------------------------------------------ negotiation


@pytest.mark.parametrize("kind", ["shareable_link", "credential_url"])
def test_verifiers_keep_getting_the_same_bytes(client, shared, kind):
    url = local(shared["view"][kind])
    reference = client.get(url)
    assert reference.status_code == 200
    assert reference.mimetype == ("application/json" if kind == "shareable_link"
                                  else "application/vc+jwt")
    for headers in NOT_A_BROWSER:
        r = client.get(url, headers=headers)
        assert (r.status_code, r.mimetype, r.data) == (200, reference.mimetype, reference.data), \
            headers
        assert {"Accept", "User-Agent"} <= set(r.vary), headers
    # the browser gets the page from the same URL (also with the tracking parameter a social
    # network appends), and asking for a format is never a page
    assert client.get(url, headers=BROWSER).mimetype == "text/html"
    if kind == "shareable_link":
        assert client.get(url + "?fbclid=IwAR0x", headers=BROWSER).mimetype == "text/html"
    if kind == "credential_url":
        as_json = client.get(url + "?format=json", headers=BROWSER)
        assert as_json.mimetype == "application/json" and as_json.get_json()["type"] == [
            "VerifiableCredential", "OpenBadgeCredential"]


def test_link_preview_crawlers_get_the_page(client, shared):
    url = local(shared["view"]["shareable_link"])
    for agent in ("LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www."
                  "linkedin.com)", "facebookexternalhit/1.1", "Twitterbot/1.0", "Slackbot 1.0"):
        r = client.get(url, headers={"Accept": "*/*", "User-Agent": agent})
        assert r.mimetype == "text/html", agent
        assert Page(r.get_data(as_text=True)).meta("og:image"), agent


# ------------------------------------------------------------------ the page


def test_the_page_shows_the_badge_and_its_verification(client, app, shared):
    badge, view = shared["badge"], shared["view"]
    status, html, r = page(client, view["shareable_link"])
    assert status == 200 and r.mimetype == "text/html"
    assert html.all("html")[0]["lang"] == "en"
    text = html.visible
    name = view["badge_name"]
    assert html.all("h1")[0] and name in text
    assert f"{badge['level'].capitalize()} level" in text and badge["skill"] in text
    assert view["course_name"] in text
    assert "AchieveUp" in text                                     # issuer name, linked
    assert html.all("a", href="http://localhost:5001")
    assert "Criteria" in text and "graded questions" in text
    assert "Evidence" in text and f"{badge['percentage']}%" in text
    issued = html.all("time")[0]["datetime"]
    assert issued.startswith(badge["earned_at"].strftime("%Y-%m-%d"))
    # the verification panel, computed now
    assert "✓ Verified" in text
    for check in ("Issuer key:", "Signature:", "Revocation:", "Expiry:"):
        assert f"✓ {check}" in text, check
    assert "Not revoked: position" in text and "It does not expire." in text
    # the image: the level's PNG, described for screen readers
    img = html.all("img")[0]
    assert img["src"].endswith(f"/images/{badge['level']}.png") and "level badge" in img["alt"]
    assert client.get(local(img["src"])).mimetype == "image/png"
    # the student's name is not shown unless they chose to show it
    assert "Earned by" not in text
    assert r.headers["Content-Security-Policy"].startswith("default-src 'none'")


def test_the_page_names_the_student_only_when_they_chose_to(client, app, shared):
    profile = client.get("/achieveup/badge-profile", headers=shared["student"]).get_json()
    assert profile["show_name"] is False and profile["name"]
    assert client.put("/achieveup/badge-profile", json={"show_name": True},
                      headers=shared["student"]).get_json()["show_name"] is True
    _, html, _ = page(client, shared["view"]["shareable_link"])
    assert f"Earned by {profile['name']}" in html.visible
    assert html.all("a", href=profile["profile_url"])
    client.put("/achieveup/badge-profile", json={"show_name": False}, headers=shared["student"])
    assert profile["name"] not in page(client, shared["view"]["shareable_link"])[1].visible


def test_linkedin_link_and_link_preview_tags(client, app, shared):
    view, badge = shared["view"], shared["badge"]
    _, html, _ = page(client, view["shareable_link"])
    link = html.all("a", id="linkedin")[0]["href"]
    parts = urlsplit(link)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "www.linkedin.com",
                                                        "/profile/add")
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query == {"startTask": "CERTIFICATION_NAME", "name": view["badge_name"],
                     "organizationName": "AchieveUp",
                     "issueYear": str(badge["earned_at"].year),
                     "issueMonth": str(badge["earned_at"].month),
                     "certUrl": view["shareable_link"], "certId": view["badge_id"]}
    assert html.meta("og:title") == html.meta("twitter:title") == view["badge_name"]
    assert html.meta("og:url") == view["shareable_link"]
    assert html.meta("twitter:card") == "summary"
    assert html.meta("og:image") == html.meta("twitter:image")
    assert html.meta("og:image").endswith(".png") and html.meta("og:image:alt")
    assert view["course_name"] in html.meta("og:description")


def test_linkedin_organization_id_when_configured(sandbox, db):
    with live_app(db, **canvas_settings(sandbox), badge_issuer_linkedin_id="1337") as app:
        client = app.test_client()
        ctx = share_a_badge(client, app, sandbox.world)
        r = client.get(local(ctx["view"]["shareable_link"]), headers=BROWSER)
        link = Page(r.get_data(as_text=True)).all("a", id="linkedin")[0]["href"]
        query = parse_qs(urlsplit(link).query)
        assert query["organizationId"] == ["1337"] and "organizationName" not in query


def test_the_page_loads_nothing_from_elsewhere_and_runs_no_script(client, shared):
    _, html, _ = page(client, shared["view"]["shareable_link"])
    assert not html.all("script") and not html.all("link", rel="stylesheet")
    for tag, attrs in html.tags:
        if "src" in attrs:
            assert attrs["src"].startswith("http://localhost:5001/"), attrs
    external = {urlsplit(a["href"]).netloc for a in html.all("a")} - {"localhost:5001"}
    assert external == {"www.linkedin.com"}  # the issuer's site is localhost:5001 here


def test_skill_names_are_escaped(client, app, shared):
    db = shared["db"]
    db[store.BADGES].update_one({"_id": shared["badge"]["_id"]},
                                {"$set": {"skill": '<img src=x onerror="alert(1)">'}})
    revisions.bump(db, revocation=False)        # as any change of a shared badge does
    r = client.get(local(shared["view"]["shareable_link"]), headers=BROWSER)
    body = r.get_data(as_text=True)
    assert "<img src=x" not in body and "&lt;img src=x onerror=" in body


def test_missing_unshared_and_revoked_badges_get_the_same_404_page(client, app, shared):
    db, badge = shared["db"], shared["badge"]
    unshared = db[store.BADGES].find_one({"student_id": badge["student_id"], "public": False})
    base = shared["view"]["shareable_link"].rsplit("/", 1)[0]
    missing = client.get(local(f"{base}/AAAAAAAAAAAAAAAAAAAAAA"), headers=BROWSER)
    assert missing.status_code == 404 and missing.mimetype == "text/html"
    assert "Badge not found" in Page(missing.get_data(as_text=True)).visible
    cases = {"unshared": f"{base}/{unshared['public_id']}",
             "natural key": f"{base}/{badge['_id']}", "malformed": f"{base}/not%20an%20id",
             "credential of unshared": shared["view"]["credential_url"].replace(
                 badge["public_id"], unshared["public_id"])}
    for name, url in cases.items():
        r = client.get(local(url), headers=BROWSER)
        assert (r.status_code, r.data) == (404, missing.data), name
    revoke_skill_of(client, shared)
    for url in (shared["view"]["shareable_link"], shared["view"]["credential_url"]):
        r = client.get(local(url), headers=BROWSER)
        assert (r.status_code, r.data) == (404, missing.data), url
    # the JSON of the revoked shared badge still tells verifiers it was revoked
    assert client.get(local(shared["view"]["shareable_link"])).status_code == 410


# ------------------------------------------------------------------ verification panel


def test_panel_reads_the_revocation_from_the_signed_status_list(client, app, shared):
    db, config = shared["db"], app.extensions["knowgap"].config
    doc = dict(db[store.BADGES].find_one({"_id": shared["badge"]["_id"]}))
    ok = verification.panel(db, config, doc)
    assert ok["verified"] is True and [c["name"] for c in ok["checks"]] == [
        "Issuer key", "Signature", "Revocation", "Expiry"]
    # the status list says revoked: the panel reads it from the list, not from the document
    db[store.BADGES].update_one({"_id": doc["_id"]}, {"$set": {"revoked": True}})
    revisions.bump(db, revocation=True)
    failed = verification.panel(db, config, doc)
    assert failed["verified"] is False
    revocation = next(c for c in failed["checks"] if c["name"] == "Revocation")
    assert revocation["ok"] is False and "Revoked according to the issuer's status list" in \
        revocation["text"] and f"index {doc['status_index']}" in revocation["text"]


# ------------------------------------------------------------------ downloads


def _itxt(data: bytes) -> dict[str, tuple[int, str]]:
    """Every iTXt chunk read with pypng: keyword -> (compression flag, text)."""
    found = {}
    for kind, body in png.Reader(bytes=data).chunks():
        if kind == b"iTXt":
            keyword, rest = body.split(b"\0", 1)
            flag, _method, rest = rest[0], rest[1], rest[2:]
            _lang, _translated, text = rest.split(b"\0", 2)
            found[keyword.decode()] = (flag, (zlib.decompress(text) if flag else text).decode())
    return found


def test_downloads_from_the_page(client, app, shared):
    view = shared["view"]
    _, html, _ = page(client, view["shareable_link"])
    links = {a["href"] for a in html.all("a")}
    jwt_url = f"{view['credential_url']}?format=jwt&download=true"
    json_url = f"{view['credential_url']}?format=json&download=true"
    ob3_png, ob2_png = f"{view['credential_url']}/image.png", f"{view['shareable_link']}/image.png"
    assert {jwt_url, json_url, ob3_png, ob2_png} <= links
    token = client.get(local(jwt_url), headers=BROWSER)
    assert token.mimetype == "application/vc+jwt"
    assert token.headers["Content-Disposition"] == \
        f'attachment; filename="badge-{view["badge_id"]}.jwt"'
    as_json = client.get(local(json_url), headers=BROWSER)
    assert as_json.headers["Content-Disposition"].endswith('.json"')
    assert as_json.get_json()["id"] == view["credential_url"]
    # OB 3.0 baked: the credential, verified by the verify endpoint
    baked3 = client.get(local(ob3_png), headers=BROWSER)
    assert baked3.mimetype == "image/png" and "attachment" in baked3.headers[
        "Content-Disposition"]
    chunks = _itxt(baked3.data)
    assert set(chunks) == {"openbadgecredential"}
    flag, credential = chunks["openbadgecredential"]
    assert flag == 0 and credential.count(".") == 2
    result = client.post("/achieveup/badges/verify", json={"credential": credential}).get_json()
    assert result["valid"] is True and result["badge"]["badge_id"] == view["badge_id"]
    # OB 2.0 baked: the hosted assertion's URL
    baked2 = client.get(local(ob2_png))
    assert _itxt(baked2.data) == {"openbadges": (0, view["shareable_link"])}
    picture = Image.open(io.BytesIO(baked2.data))
    assert picture.size == (images.PNG_SIZE, images.PNG_SIZE)
    # the baked picture is the level's image, pixel for pixel
    plain = Image.open(io.BytesIO(client.get(
        f"/achieveup/public/badges/images/{shared['badge']['level']}.png").data))
    assert picture.tobytes() == plain.tobytes()


def test_baked_images_follow_the_badge_state(client, app, shared):
    view, badge, db = shared["view"], shared["badge"], shared["db"]
    unshared = db[store.BADGES].find_one({"student_id": badge["student_id"], "public": False})
    for url in (view["shareable_link"], view["credential_url"]):
        other = url.replace(badge["public_id"], unshared["public_id"])
        r = client.get(local(other) + "/image.png")
        assert r.status_code == 404 and r.get_json()["error"] == "badge_not_found"
    revoke_skill_of(client, shared)
    for url in (view["shareable_link"], view["credential_url"]):
        assert client.get(local(url) + "/image.png").status_code == 410


def test_the_1edtech_verifier_accepts_the_baked_image(sandbox, db):
    with live_app(db, **canvas_settings(sandbox), **ISSUER) as app:
        client = app.test_client()
        ctx = share_a_badge(client, app, sandbox.world)
        baked = client.get(local(ctx["view"]["shareable_link"]) + "/image.png").data
        result = run_verifier(app, io.BytesIO(baked), ctx["email"])
        report = result["report"]
        assert errors(result) == [] and report["valid"] is True, report["messages"]
        assert report["openBadgesVersion"] == "2.0"
        assert ctx["view"]["shareable_link"] in {node["id"] for node in result["graph"]}


# ------------------------------------------------------------------ the profile page


def test_profile_page_lists_shared_badges_only(client, app, shared):
    sid = shared["badge"]["student_id"]
    url = f"/achieveup/public/badges/student/{sid}"
    r = client.get(url, headers=BROWSER)
    html = Page(r.get_data(as_text=True))
    assert r.status_code == 200 and html.all("h1")
    listed = [a["href"] for a in html.all("a") if "/assertions/" in a.get("href", "")]
    assert listed == [shared["view"]["shareable_link"]]
    assert "Shared badges" in html.visible                      # no name: not chosen
    client.put("/achieveup/badge-profile", json={"show_name": True}, headers=shared["student"])
    name = client.get("/achieveup/badge-profile", headers=shared["student"]).get_json()["name"]
    assert f"{name}'s badges" in Page(client.get(url, headers=BROWSER).get_data(
        as_text=True)).visible
    # JSON for everything else: the same document as .../earned
    assert client.get(url).data == client.get(url + "/earned").data
    assert json.loads(client.get(url).data)["badges"][0]["badge_id"] == shared["view"][
        "badge_id"]


def test_profile_of_a_student_who_shared_nothing_is_the_404_page(client, app, shared):
    missing = client.get("/achieveup/public/badges/student/999999", headers=BROWSER)
    assert missing.status_code == 404
    others = [s for s in shared["db"][store.BADGES].distinct("student_id")
              if s != shared["badge"]["student_id"]]
    assert others
    r = client.get(f"/achieveup/public/badges/student/{others[0]}", headers=BROWSER)
    assert (r.status_code, r.data) == (404, missing.data)
    # and once the only shared badge is unshared, the profile is gone too
    sid = shared["badge"]["student_id"]
    client.put(f"/achieveup/badges/{shared['view']['badge_id']}/share", json={"public": False},
               headers=shared["student"])
    r = client.get(f"/achieveup/public/badges/student/{sid}", headers=BROWSER)
    assert (r.status_code, r.data) == (404, missing.data)


def test_level_images(client):
    for level, color in images.LEVEL_COLORS.items():
        r = client.get(f"/achieveup/public/badges/images/{level}.png")
        assert r.status_code == 200 and r.mimetype == "image/png"
        picture = Image.open(io.BytesIO(r.data)).convert("RGB")
        assert picture.size == (images.PNG_SIZE, images.PNG_SIZE)
        # the level's colour fills the medal (sampled between the star and the ring)
        assert picture.getpixel((images.PNG_SIZE // 4, images.PNG_SIZE // 2)) == tuple(
            int(color[i:i + 2], 16) for i in (1, 3, 5))
        svg = client.get(f"/achieveup/public/badges/images/{level}.svg")
        assert color in svg.get_data(as_text=True)
    assert client.get("/achieveup/public/badges/images/gold.png").status_code == 404
