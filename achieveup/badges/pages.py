"""Badge pages for people: which requests get a page, and what the pages show.

**Content negotiation.** The public assertion and credential URLs (and the student's public
profile) answer a page when the request prefers ``text/html`` over JSON: what a browser sends.
Everything else — verifiers, ``Accept: */*``, no Accept, JSON or JSON-LD asked for, a
``?format=`` — gets exactly the JSON (or VC-JWT) it got before. (Other query parameters, such
as the ``fbclid`` a social network appends to a link, change nothing.) One exception keeps link
previews working: the crawlers that build previews for LinkedIn, Facebook, X, Slack, Discord,
WhatsApp, Telegram and iMessage often send ``Accept: */*``; they are recognised by their
user agent and get the page (its Open Graph and Twitter-card tags), unless they ask for JSON
explicitly. Negotiated responses carry ``Vary: Accept, User-Agent``.

**What a page shows.** The badge image (PNG from the level's design), badge and skill name,
level, course, issuer (name and URL), the student's name only when the student chose to show
it, issue date, criteria, evidence, and the verification panel computed at request time
(``achieveup.badges.verification.panel``); sharing: LinkedIn's documented "Add to profile"
link for certifications (``https://www.linkedin.com/profile/add?startTask=CERTIFICATION_NAME``
with ``name``, ``organizationId`` when ``BADGE_ISSUER_LINKEDIN_ID`` is set else
``organizationName``, ``issueYear``, ``issueMonth``, ``certUrl``, ``certId``), Open Graph and
Twitter-card tags, and downloads (the OB 3.0 credential as ``.jwt`` and JSON, baked PNGs).

A badge that is missing, not shared or revoked, and a profile with nothing shared, all get the
same 404 page, byte for byte. Pages load nothing from other hosts (no fonts, scripts or CDNs;
a Content-Security-Policy says so), and carry no script at all.
"""
from __future__ import annotations

import re
from urllib.parse import urlencode

from flask import Response, render_template, request

from achieveup.badges import images, ob3, privacy, public, service, verification
from knowgap.core.clock import aware
from knowgap.core.schemas import ID_PATTERN

OFFERED = ["application/json", "application/ld+json", ob3.MEDIA_TYPE, "text/html"]
PREVIEW_AGENTS = re.compile(
    r"facebookexternalhit|facebookcatalog|LinkedInBot|Twitterbot|Slackbot|Discordbot|"
    r"WhatsApp|TelegramBot|Applebot|redditbot|Pinterest", re.I)
LINKEDIN_ADD = "https://www.linkedin.com/profile/add"
CSP = ("default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; base-uri 'none'; "
       "form-action 'none'; frame-ancestors 'none'")


def wants_html() -> bool:
    """Should this request get a page (see module docstring)?"""
    if "format" in request.args or "download" in request.args:
        return False
    accept = request.accept_mimetypes
    if accept.best_match(OFFERED) == "text/html":
        return True
    explicit = any(kind in OFFERED[:3] and quality > 0 for kind, quality in accept)
    return not explicit and bool(PREVIEW_AGENTS.search(request.user_agent.string or ""))


def _html(body: str, status: int = 200) -> Response:
    response = Response(body, status=status, mimetype="text/html")
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _render(config, template: str, **context) -> str:
    """A page; ``icon`` (the tab's icon, so browsers do not ask for /favicon.ico) is the
    page's badge image, or the top level's."""
    context.setdefault("icon", image_url(config, images.ICON_LEVEL))
    return render_template(f"badges/{template}", issuer=service.issuer_profile(config),
                           **context)


def not_found_page(config) -> Response:
    """The one 404 page of every public badge URL: it names nothing that was asked for."""
    return _html(_render(config, "not_found.html"), 404)


# ------------------------------------------------------------------ the badge page


def _date(value) -> str:
    value = aware(value)
    return f"{value.day} {value:%B %Y}"


def _moment(value) -> str:
    value = aware(value)
    return f"{_date(value)}, {value:%H:%M} UTC"


def image_url(config, level: str) -> str:
    return service.public_url(config, f"images/{level}.png")


def linkedin_url(config, doc: dict, name: str, issuer: str) -> str:
    earned = aware(doc["earned_at"])
    params = {"startTask": "CERTIFICATION_NAME", "name": name}
    if config.badge_issuer_linkedin_id:
        params["organizationId"] = config.badge_issuer_linkedin_id
    else:
        params["organizationName"] = issuer
    params.update(issueYear=earned.year, issueMonth=earned.month,
                  certUrl=service.shareable_link(config, doc["public_id"]),
                  certId=doc["public_id"])
    return f"{LINKEDIN_ADD}?{urlencode(params)}"


def badge_context(db, config, doc: dict) -> dict:
    pid, level = doc["public_id"], doc["level"]
    cls = service.class_document(db, config, doc)
    issuer = service.issuer_profile(config)
    student = privacy.display_name(service.badge_db(db, doc), doc["student_id"])
    credential = service.credential_url(config, pid)
    assertion = service.shareable_link(config, pid)
    panel = verification.panel(db, config, doc)
    description = (f"{level.capitalize()} level in {doc['skill']}, "
                   f"{service.course_label(doc)}. Issued by {issuer['name']} on "
                   f"{_date(doc['earned_at'])}; verifiable as an Open Badge.")
    return {
        "title": cls["name"], "description": description, "url": assertion,
        "image": image_url(config, level), "image_size": images.PNG_SIZE,
        "image_alt": f"{level.capitalize()} level badge: a medal with a star and the word "
                     f"{level.upper()}",
        "badge": {"name": cls["name"], "skill": doc["skill"], "level": level.capitalize(),
                  "course": service.course_label(doc), "issued": _date(doc["earned_at"]),
                  "issued_iso": aware(doc["earned_at"]).isoformat(),
                  "criteria": cls["criteria"]["narrative"],
                  "evidence_name": service.EVIDENCE_NAME,
                  "evidence": service.evidence_narrative(doc)},
        "student": student,
        "profile": public.profile_url_of(config, doc) if student else None,
        "verification": panel, "checked": _moment(panel["checked_at"]),
        "checked_iso": aware(panel["checked_at"]).isoformat(),
        "linkedin": linkedin_url(config, doc, cls["name"], issuer["name"]),
        "downloads": [
            ("Open Badges 3.0 credential (.jwt)", f"{credential}?format=jwt&download=true"),
            ("Open Badges 3.0 credential (JSON)", f"{credential}?format=json&download=true"),
            ("Baked badge image, Open Badges 3.0 (PNG)", f"{credential}/image.png"),
            ("Baked badge image, Open Badges 2.0 (PNG)", f"{assertion}/image.png"),
        ],
    }


def badge_page(db, config, public_id: str) -> Response:
    doc = public.shown(db, public_id) if ID_PATTERN.match(public_id) else None
    if doc is None:
        return not_found_page(config)
    context = badge_context(db, config, doc)
    return _html(_render(config, "badge.html", icon=context["image"], **context))


# ------------------------------------------------------------------ the profile page


def profile_page(db, config, student_id: str) -> Response:
    badges = public.shared_badges_of(db, student_id) if ID_PATTERN.match(student_id) else []
    if not badges:
        return not_found_page(config)
    issuer = service.issuer_profile(config)
    name = privacy.display_name(db, student_id)
    title = f"{name}'s badges" if name else "Shared badges"
    items = [{"name": service.badge_name(b["skill"], b["level"]), "skill": b["skill"],
              "level": b["level"].capitalize(), "course": service.course_label(b),
              "issued": _date(b["earned_at"]), "issued_iso": aware(b["earned_at"]).isoformat(),
              "url": service.shareable_link(config, b["public_id"]),
              "image": image_url(config, b["level"]),
              "image_alt": f"{b['level'].capitalize()} level badge"} for b in badges]
    return _html(_render(
        config, "profile.html", title=title, student=name, badges=items,
        url=public.profile_url(config, student_id),
        description=f"{len(items)} verifiable badge{'s' if len(items) != 1 else ''} issued by "
                    f"{issuer['name']}.",
        image=items[0]["image"], image_size=images.PNG_SIZE, image_alt=items[0]["image_alt"]))
