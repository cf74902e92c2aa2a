"""xAPI without an LRS: statement building and validation, derivation from stored changes,
the LRS answers' classification, configuration, the instructor routes and the off switch.
(The real LRS is in tests/test_xapi_lrs.py.)"""
from __future__ import annotations

import copy
import datetime as dt

import pytest

from config import ConfigError
from knowgap.xapi import derive, lrs, schema, statements, store
from knowgap.xapi.statements import Identity, build, statement_id
from tests.conftest import canvas_settings, make_config

HOST = "ucf.instructure.com"
IDENT = Identity("https://achieveup.example.edu")
AT = "2024-09-02T13:00:00.000Z"


def event(kind, **fields):
    base = {"kind": kind, "id": statement_id(kind, *sorted(fields.items())),
            "student_id": "1001", "course_id": "101", "at": AT}
    return {**base, **fields}


EVENTS = [
    event("answered", quiz_id="20001", question_id="100001", attempt=1, credit=0.5, points=1,
          points_possible=2, question_type="multiple_choice_question", answer_ids=["7"],
          quiz_title="Quiz 1", question_name="Q1", source="classic"),
    event("answered", quiz_id="nq-40001", question_id="nq-77", attempt=2, credit=1.0,
          points=None, points_possible=None, question_type="essay_question", source="new"),
    event("completed", quiz_id="20001", attempt=1, points=7.5, points_possible=10),
    event("progressed", skill="Cells / ATP", level="intermediate", previous_level="beginner",
          score=61.2, p_mastery=0.41, model="recency", evidence=12),
    event("mastered", skill="Cells", level="advanced", score=80.0, p_mastery=0.97,
          model="bkt_fitted", evidence=30),
    event("earned", skill="Cells", level="advanced", score=80.0, evidence=12,
          model="percentage"),
    event("voided", target=statement_id("x"), reason="The skill was removed from the course."),
    event("voided", target=statement_id("y"), regrade=True),
    event("watched", video="https://www.youtube.com/watch?v=dQw4w9WgXcQ"),
    event("tutored", quiz_id="20001", question_id="100001", messages=4),
]


# ------------------------------------------------------------------ statements and schema

@pytest.mark.parametrize("ev", EVENTS, ids=[e["kind"] for e in EVENTS])
def test_every_kind_builds_a_valid_statement(ev):
    st = build(ev, IDENT, HOST)
    assert schema.problems(st) is None
    assert st["id"] == ev["id"] and st["timestamp"] == AT
    if ev["kind"] == "voided":
        assert st["object"] == {"objectType": "StatementRef", "id": ev["target"]}
        assert st["verb"]["id"] == "http://adlnet.gov/expapi/verbs/voided"
        assert "platform" not in st["context"]
    else:
        assert st["actor"] == {"objectType": "Agent", "account": {
            "homePage": "https://ucf.instructure.com", "name": "1001"}}
    grouping = st["context"]["contextActivities"]["grouping"][0]["id"]
    assert grouping == "https://ucf.instructure.com/courses/101"


def test_activity_ids_follow_canvas_urls_and_engines():
    assert statements.question_iri(HOST, "101", "20001", "100001") == \
        "https://ucf.instructure.com/courses/101/quizzes/20001/questions/100001"
    assert statements.question_iri(HOST, "101", "nq-40001", "nq-77") == \
        "https://ucf.instructure.com/courses/101/assignments/40001/items/77"
    assert statements.canvas_origin("127.0.0.1:8900") == "http://127.0.0.1:8900"
    assert statements.skill_iri(IDENT, HOST, "101", "Cells / ATP") == \
        "https://achieveup.example.edu/xapi/activities/ucf.instructure.com/courses/101/skills/" \
        "Cells%20%2F%20ATP"


def test_statement_ids_are_uuid5_of_the_natural_key_and_differ_per_host():
    a = statement_id(HOST, "101", "1001", "20001", "100001", 1)
    assert a == statement_id(HOST, "101", "1001", "20001", "100001", 1)
    assert a != statement_id("fiu.instructure.com", "101", "1001", "20001", "100001", 1)
    assert a[14] == "5" and a[19] in "89ab"            # version 5, RFC 4122 variant


def test_actor_by_email_only_when_configured():
    ev = {**EVENTS[0], "email": "Ann.Lee@UCF.EDU"}
    assert "mbox" not in build(ev, IDENT, HOST)["actor"]
    by_mail = Identity(IDENT.public_base_url, actor_mbox=True)
    assert build(ev, by_mail, HOST)["actor"] == {"objectType": "Agent",
                                                "mbox": "mailto:Ann.Lee@ucf.edu"}
    no_mail = {k: v for k, v in ev.items() if k != "email"}
    assert "account" in build(no_mail, by_mail, HOST)["actor"]


def test_scores_never_break_the_score_rules():
    assert statements.score(0.5, 1, 0, 2) == {"scaled": 0.5, "raw": 1, "min": 0, "max": 2}
    assert statements.score(1.2, 3, 0, 2) == {"raw": 3}            # bonus points: raw alone
    assert statements.score(None, None, 0, 0) is None
    assert statements.score(float("nan"), 1, 0, 1) == {"raw": 1, "min": 0, "max": 1}


VALID = build(EVENTS[0], IDENT, HOST)


def broken(change):
    st = copy.deepcopy(VALID)
    change(st)
    return st


@pytest.mark.parametrize("change, says", [
    (lambda s: s["actor"].update(mbox="mailto:a@b.edu"), "actor"),                  # 2 IFIs
    (lambda s: s["actor"].pop("account"), "actor"),                                 # no IFI
    (lambda s: s["verb"].update(id="answered"), "verb.id"),                         # not IRI
    (lambda s: s["verb"].update(display={"english!": "x"}), "verb.display"),        # lang tag
    (lambda s: s["result"]["score"].update(scaled=1.5), "scaled"),
    (lambda s: s["result"]["score"].update(raw=3), "raw must lie between"),
    (lambda s: s["result"]["score"].update(min=2), "min must be less"),
    (lambda s: s.update(timestamp="2024-09-02 13:00"), "timestamp"),
    (lambda s: s.update(timestamp="2999-01-01T00:00:00.000Z"), "future"),
    (lambda s: s.update(id="not-a-uuid"), "statement.id"),
    (lambda s: s.update(extra=1), "must not contain"),
    (lambda s: s["result"].update(success="yes"), "success"),
    (lambda s: s["context"]["extensions"].update({"no scheme": 1}), "extensions"),
    (lambda s: s["object"]["definition"].update(interactionType="essay"), "interactionType"),
    (lambda s: s.update(verb={"id": "http://adlnet.gov/expapi/verbs/voided"}), "StatementRef"),
    (lambda s: s.update(object={"objectType": "StatementRef", "id": VALID["id"]}),
     "platform"),
    (lambda s: s.pop("actor"), "actor"),
])
def test_the_schema_refuses_what_the_spec_forbids(change, says):
    problem = schema.problems(broken(change), now=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    assert problem is not None and says in problem, problem


# ------------------------------------------------------------------ derivation

def row(student, quiz, question, attempt, credit, points=None, pp=1.0, graded="2024-09-03T10:00:00Z"):
    return {"student_id": student, "quiz_id": quiz, "question_id": question, "attempt": attempt,
            "credit": credit, "points": credit if points is None else points,
            "points_possible": pp, "correct": None if credit is None else credit >= 1,
            "graded_at": graded, "source": "classic", "answer_ids": []}


ROWS = [row("1001", "20001", "1", 1, 1.0), row("1001", "20001", "2", 1, 0.0),
        row("1001", "20001", "3", 1, None), row("1002", "20001", "1", 1, 0.5, pp=2.0, points=1.0)]


def states_after(changed, old=None):
    out = dict(old or {})
    out.update(changed)
    return out


def test_answers_derive_once_and_regrades_void_and_replace():
    events, changed = derive.answer_events(HOST, "101", ROWS, {}, {}, {})
    kinds = [e["kind"] for e in events]
    assert kinds.count("answered") == 3 and kinds.count("completed") == 2   # ungraded skipped
    done = {e["student_id"]: e for e in events if e["kind"] == "completed"}
    assert (done["1001"]["points"], done["1001"]["points_possible"]) == (1.0, 2.0)
    assert (done["1002"]["points"], done["1002"]["points_possible"]) == (1.0, 2.0)
    first = {e["id"] for e in events}
    assert statement_id(HOST, "101", "1001", "20001", "1", 1) in first
    states = states_after(changed)

    again, changed2 = derive.answer_events(HOST, "101", ROWS, states, {}, {})
    assert again == [] and changed2 == {}                   # a second derivation: nothing

    regraded = [dict(r) for r in ROWS]
    regraded[1].update(credit=1.0, points=1.0, correct=True)          # Canvas regrade
    regraded[2].update(credit=0.0, points=0.0, correct=False)         # graded at last
    ev3, changed3 = derive.answer_events(HOST, "101", regraded, states, {}, {})
    by_kind = [(e["kind"], e.get("revision")) for e in ev3]
    assert by_kind == [("voided", None), ("answered", 1), ("answered", None),
                       ("voided", None), ("completed", 1)]
    old = statement_id(HOST, "101", "1001", "20001", "2", 1)
    assert ev3[0]["target"] == old and ev3[0]["regrade"] is True
    assert ev3[1]["id"] == statement_id(HOST, "101", "1001", "20001", "2", 1, "r1")
    assert ev3[4]["points"] == 2.0 and ev3[4]["points_possible"] == 3.0
    assert derive.answer_events(HOST, "101", regraded, states_after(changed3, states),
                                {}, {})[0] == []


def summary(sid, **skills):
    return {"student_id": sid, "skills": [
        {"skill": name, "score": score, "level": level, "mastered": mastered,
         "p_mastery": 0.5, "model": "recency", "evidence": 4}
        for name, (score, level, mastered) in skills.items()]}


def test_skill_levels_and_mastery_each_change_once():
    now = dt.datetime(2024, 9, 10, tzinfo=dt.timezone.utc)
    s1 = [summary("1001", Cells=(60, "intermediate", False), Energy=(0, "not_started", False))]
    ev, ch = derive.skill_events(HOST, "101", s1, {}, now)
    assert [(e["kind"], e["level"], e["previous_level"]) for e in ev] == [
        ("progressed", "intermediate", "not_started")]
    st = states_after(ch)
    assert derive.skill_events(HOST, "101", s1, st, now) == ([], {})
    s2 = [summary("1001", Cells=(92, "expert", True), Energy=(30, "beginner", False))]
    ev2, ch2 = derive.skill_events(HOST, "101", s2, st, now)
    assert sorted((e["kind"], e["skill"], e["level"]) for e in ev2) == [
        ("mastered", "Cells", "expert"), ("progressed", "Cells", "expert"),
        ("progressed", "Energy", "beginner")]
    st = states_after(ch2, st)
    down = [summary("1001", Cells=(55, "intermediate", False), Energy=(30, "beginner", False))]
    ev3, ch3 = derive.skill_events(HOST, "101", down, st, now)
    st = states_after(ch3, st)
    ev4, _ = derive.skill_events(HOST, "101", s2, st, now)            # back up: told again
    assert [e["kind"] for e in ev3] == ["progressed"]
    assert sorted(e["kind"] for e in ev4) == ["mastered", "progressed"]
    ids = [e["id"] for e in ev + ev2 + ev3 + ev4]
    assert len(ids) == len(set(ids))


def test_badges_in_the_window_and_revocations_void_the_earned_statement():
    t = lambda d: dt.datetime(2024, 9, d, tzinfo=dt.timezone.utc)  # noqa: E731
    badges = [{"student_id": "1001", "skill": "Cells", "level": "beginner", "earned_at": t(2),
               "percentage": 30.0, "evidence_count": 4, "revoked": False},
              {"student_id": "1001", "skill": "Energy", "level": "beginner", "earned_at": t(5),
               "percentage": 40.0, "evidence_count": 4, "revoked": True, "revoked_at": t(8),
               "revocation_reason": "The skill was removed from the course."}]
    first = derive.badge_events(HOST, "101", badges, None, t(6))
    assert [e["kind"] for e in first] == ["earned", "earned"]
    later = derive.badge_events(HOST, "101", badges, t(6), t(9))
    assert [e["kind"] for e in later] == ["voided"]
    assert later[0]["target"] == first[1]["id"]
    assert later[0]["reason"] == "The skill was removed from the course."


# ------------------------------------------------------------------ LRS answers, config

@pytest.mark.parametrize("status, body, kind", [
    (200, b'["a"]', lrs.STORED), (204, b"", lrs.STORED), (409, b'{"detail": "x"}', lrs.CONFLICT),
    (400, b'{"detail": "bad"}', lrs.REJECTED), (413, b"", lrs.REJECTED),
    (422, b'{"detail": [{"loc": ["body", 0, "actor"], "msg": "no"}]}', lrs.REJECTED),
    (401, b"", lrs.RETRY), (403, b"", lrs.RETRY), (404, b"", lrs.RETRY),
    (429, b"", lrs.RETRY), (500, b"", lrs.RETRY), (503, b"", lrs.RETRY),
])
def test_lrs_answers_are_classified(status, body, kind):
    assert lrs.classify(status, body).kind == kind


def test_lrs_error_sentence_and_retry_after():
    out = lrs.classify(422, b'{"detail": [{"loc": ["body", 0, "actor", "mbox"], '
                            b'"msg": "value is not a valid email address"}]}')
    assert out.message == "LRS answered 422: 0.actor.mbox: value is not a valid email address"
    assert lrs.classify(503, b"down", "30").retry_after == 30.0


def test_backoff_doubles_and_is_capped():
    from knowgap.xapi.delivery import backoff_seconds

    assert [backoff_seconds(n, 900) for n in (1, 2, 3, 9)] == [5, 10, 20, 900]
    assert backoff_seconds(1, 900, retry_after=60) == 60


@pytest.mark.parametrize("settings, problem", [
    ({"xapi_lrs_url": "http://lrs.example.edu/xAPI"}, "XAPI_LRS_URL must be an https URL"),
    ({"xapi_lrs_url": "ftp://lrs.example.edu"}, "XAPI_LRS_URL"),
    ({"xapi_batch_size": 0}, "XAPI_BATCH_SIZE"),
])
def test_configuration_refuses_unsafe_settings(settings, problem):
    with pytest.raises(ConfigError, match=problem):
        make_config(**settings)


def test_the_password_is_not_in_the_config_repr():
    config = make_config(xapi_lrs_url="https://lrs.example.edu/xAPI", xapi_lrs_password="s3cr3t")
    assert "s3cr3t" not in repr(config)


# ------------------------------------------------------------------ routes and the off switch

@pytest.fixture
def teacher(client):
    body = {"name": "T", "email": "xapi-teacher@example.edu",
            "password": "Correct horse battery 9", "canvasApiToken": "teacher-token"}
    r = client.post("/auth/signup", json=body)
    assert r.status_code == 201, r.get_json()
    return {"Authorization": f"Bearer {r.get_json()['token']}"}


def test_off_when_no_lrs_is_configured(client, app, teacher):
    from knowgap.jobs.worker import run_pending

    status = client.get("/achieveup/instructor/courses/101/xapi", headers=teacher).get_json()
    assert status["configured"] is False and status["enabled"] is False
    assert status["state"] == "off" and status["lrs"] is None
    r = client.put("/achieveup/instructor/courses/101/xapi", headers=teacher,
                   json={"enabled": True})
    assert r.status_code == 200 and r.get_json()["enabled"] is False
    r = client.post("/achieveup/instructor/course/101/force-sync", headers=teacher)
    assert r.status_code == 202
    run_pending(app)
    db = app.extensions["knowgap"].db
    assert db[store.OUTBOX].count_documents({}) == 0
    assert db["jobs"].count_documents({"kind": "xapi_delivery"}) == 0


@pytest.mark.parametrize("body", [{"enabled": "yes"}, {}, {"enabled": True, "lrs": "x"},
                                  {"enabled": {"$ne": None}}])
def test_switch_body_is_validated(client, teacher, body):
    r = client.put("/achieveup/instructor/courses/101/xapi", headers=teacher, json=body)
    assert r.status_code == 422 and set(r.get_json()) >= {"error", "message", "statusCode"}


def test_extension_iris_are_described_where_they_point(client, config):
    r = client.get("/xapi/extensions/attempt")
    assert r.status_code == 200
    assert r.get_json()["id"] == f"{config.public_base_url}/xapi/extensions/attempt"
    r = client.get("/xapi/extensions/nope")
    assert r.status_code == 404 and r.get_json()["error"] == "extension_not_found"


@pytest.fixture
def config(sandbox):
    return make_config(**canvas_settings(sandbox))
