"""Open Badges 2.0 hosted documents checked by the 1EdTech verifier (``openbadges`` on PyPI).

The app is served on a loopback port and the verifier fetches the Assertion, then the
BadgeClass, its image and the Issuer over real HTTP, exactly as a badge platform would. The
only document it cannot reach here is the Open Badges v2 JSON-LD context on w3id.org (no
internet): it is answered with the verifier's own bundled copy of that context, every other
request passes through to the app.

``scripts/bootstrap.sh`` installs the verifier (see README "Dependencies").
"""
from __future__ import annotations

import pytest
import responses
from openbadges import verify
from openbadges.verifier.openbadges_context import (OPENBADGES_CONTEXT_V2_DICT,
                                                    OPENBADGES_CONTEXT_V2_URI)

from tests.badge_support import revoke_skill_of, share_a_badge
from tests.conftest import canvas_settings
from tests.live_server import live_app


def run_verifier(app, url: str, email: str | None = None) -> dict:
    base = app.extensions["knowgap"].config.public_base_url
    profile = {"email": email} if email else None
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.GET, OPENBADGES_CONTEXT_V2_URI, json=OPENBADGES_CONTEXT_V2_DICT)
        mock.add_passthru(base)
        return verify(url, recipient_profile=profile)


def errors(result: dict) -> list[dict]:
    return [m for m in result["report"]["messages"] if m["messageLevel"] == "ERROR"]


@pytest.fixture
def shared(sandbox, db):
    """A live app with a synced course 101 and one badge its student shared."""
    with live_app(db, **canvas_settings(sandbox), badge_issuer_name="UCF AchieveUp",
                  badge_issuer_url="https://achieveup.example.edu",
                  badge_issuer_email="badges@achieveup.example.edu") as app:
        client = app.test_client()
        ctx = share_a_badge(client, app, sandbox.world)
        yield {**ctx, "app": app, "client": client, "url": ctx["view"]["shareable_link"]}


def test_shared_badge_passes_the_1edtech_verifier(shared):
    result = run_verifier(shared["app"], shared["url"], shared["email"])
    report = result["report"]
    assert errors(result) == [], report["messages"]
    assert report["valid"] is True and report["openBadgesVersion"] == "2.0"
    assert report["warningCount"] == 0, report["messages"]
    assert report["recipientProfile"] == {"email": shared["email"]}
    # the verifier fetched and validated the whole graph: assertion, badge class, issuer
    nodes = {node["id"]: node for node in result["graph"]}
    assertion = nodes[shared["url"]]
    assert assertion["type"] == "Assertion"
    badge_class = nodes[assertion["badge"]]
    assert badge_class["type"] == "BadgeClass" and badge_class["criteria"]["narrative"]
    issuer = nodes[badge_class["issuer"]]
    assert issuer["type"] == "Issuer" and issuer["name"] == "UCF AchieveUp"
    assert issuer["url"] == "https://achieveup.example.edu"
    assert issuer["email"] == "badges@achieveup.example.edu"


def test_recipient_check_fails_for_another_email(shared):
    result = run_verifier(shared["app"], shared["url"], "someone.else@example.edu")
    assert result["report"]["valid"] is False
    assert [m["name"] for m in errors(result)] == ["VERIFY_RECIPIENT_IDENTIFIER"]
    assert "did not match" in errors(result)[0]["result"]


def test_revoked_badge_fails_the_1edtech_verifier(shared):
    revoke_skill_of(shared["client"], shared)
    gone = shared["client"].get(shared["url"])
    assert gone.status_code == 410
    body = gone.get_json()
    assert body["revoked"] is True and body["id"] == shared["url"]
    assert body["statusCode"] == 410 and body["error"] == "badge_revoked"
    result = run_verifier(shared["app"], shared["url"], shared["email"])
    assert result["report"]["valid"] is False
    # a revoked assertion carries none of the claims: no recipient, badge class, issue date
    missing = " ".join(m["result"] for m in errors(result))
    assert "recipient" in missing and "badge" in missing, result["report"]["messages"]
