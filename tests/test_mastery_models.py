"""The course's score model over HTTP: the recency default, Canvas's calculation methods in the
settings (validated like the other settings), badges kept across a change, and every score's
model, evidence and explanation in student-analytics and progress."""
from __future__ import annotations

import pytest

from achieveup.mastery import calc, model, store
from achieveup.mastery import service as mastery
from knowgap.core.tenancy import key
from tests.test_course_settings import URL, badges_of, put, run_job
from tests.test_mastery_sync import COURSE, SKILLS, setup_course, signup, sync  # noqa: F401
from tests.test_mastery_sync import synced, teacher  # noqa: F401  (fixtures)

ANALYTICS = f"/achieveup/instructor/courses/{COURSE}/student-analytics"


def breakdown(client, headers) -> dict:
    body = client.get(ANALYTICS, headers=headers).get_json()
    return {(s["id"], skill): item for s in body["students"]
            for skill, item in s["skillBreakdown"].items()}


def test_default_scores_are_the_recency_model_computed_from_the_stored_evidence(
        client, app, teacher, synced):
    db = synced
    items = breakdown(client, teacher)
    assert {i["model"] for i in items.values()} == {"recency"}
    # the same numbers from the pure functions on what the sync stored
    qskills = calc.prepare_course_skills(store.question_skill_map(db, COURSE))
    groups = {e["student_id"]: calc.group_rows(store.unpack_evidence(e["packed"]))
              for e in db[store.EVIDENCE].find({"course_id": COURSE})}
    fit = calc.fit_recency(groups.values(), qskills)
    policies = mastery.policies(store.quizzes_of(db, COURSE))
    m = calc.MasteryModel(score="recency", recency=fit,
                          levels=model.levels(model.effective(None, 3)))
    for sid, g in groups.items():
        for skill, state in calc.compute_grouped(g, qskills, calc.DEFAULT_PARAMS, policies,
                                                 m).items():
            item = items[(sid, skill)]
            assert item["score"] == state.score and item["explanation"] == state.explanation
            assert item["evidence"] == state.evidence == state.evidence_count
    # the fit is stored and shown with the settings
    fitted = client.get(URL, headers=teacher).get_json()["fitted_parameters"]
    assert fitted["recency"]["answers"] == fit.answers
    assert fitted["recency"]["half_life_days"] == fit.half_life_days
    doc = db[store.BKT_PARAMETERS].find_one({"_id": key(db, COURSE, "*recency*")})
    assert doc["course_id"] == COURSE and doc["scope"] == "recency"
    assert {e["skill"] for e in doc["levels"]} == set(SKILLS)
    # and survives a BKT refit (which rewrites the course's fit documents)
    db[store.BKT_PARAMETERS].update_one({"scope": "course", "course_id": COURSE},
                                        {"$set": {"evidence.rows": 1}})
    assert sync(client, app, teacher)["counts"]["bkt_refit"] == 1
    assert db[store.BKT_PARAMETERS].find_one({"_id": key(db, COURSE, "*recency*")}) is not None


def test_canvas_method_by_name_with_its_parameter_and_explanations(client, app, teacher,
                                                                   synced):
    body = put(client, teacher, {"mastery_model": "decaying_average"})
    assert body["settings"]["calculation_int"] == 65          # Canvas's default
    run_job(client, app, teacher, body["job_id"])
    items = breakdown(client, teacher)
    assert {i["model"] for i in items.values()} == {"decaying_average"}
    started = [i for i in items.values() if i["level"] != "not_started"]
    assert started and all(i["explanation"].startswith("Canvas decaying average")
                           for i in started)
    body = put(client, teacher, {"calculation_int": 80})
    assert body["settings"]["mastery_model"] == "decaying_average"
    run_job(client, app, teacher, body["job_id"])
    assert any("counts 80 %" in i["explanation"] for i in breakdown(client, teacher).values())
    # progress says the same as student-analytics
    sid = next(iter(items))[0]
    progress = client.get(f"/achieveup/progress/{sid}/{COURSE}", headers=teacher).get_json()
    current = breakdown(client, teacher)
    for skill, p in progress["skill_progress"].items():
        item = current[(sid, skill)]
        assert (p["model"], p["evidence"], p["explanation"], p["score"]) == \
            (item["model"], item["evidence"], item["explanation"], item["score"])
    # a new method without a parameter resets it, as Canvas does
    assert put(client, teacher, {"mastery_model": "latest"})["settings"]["calculation_int"] \
        is None
    assert put(client, teacher, {"mastery_model": "n_mastery"})["settings"][
        "calculation_int"] == 5


@pytest.mark.parametrize("body", [
    {"mastery_model": "n_mastery", "calculation_int": 11},
    {"mastery_model": "standard_decaying_average", "calculation_int": 49},
    {"mastery_model": "highest", "calculation_int": 5},
    {"calculation_int": 65},                             # the default model takes none
    {"mastery_model": "decaying_average", "calculation_int": 65.5},
    {"mastery_model": "decaying_average", "calculation_int": "65"},
    {"mastery_model": "weighted", "calculation_int": 65},
])
def test_invalid_method_parameters_are_refused_and_nothing_is_stored(client, app, teacher,
                                                                     body):
    r = client.put(URL, headers=teacher, json=body)
    assert r.status_code == 422, r.get_json()
    err = r.get_json()
    assert set(err) >= {"error", "message", "statusCode"} and err["statusCode"] == 422
    assert set(err["details"]) & {"calculation_int", "mastery_model"}
    assert app.extensions["knowgap"].db[store.SETTINGS].count_documents({}) == 0


def test_a_stored_parameter_is_checked_against_the_new_method(client, app, teacher):
    put(client, teacher, {"mastery_model": "decaying_average", "calculation_int": 30})
    r = client.put(URL, headers=teacher, json={"mastery_model": "standard_decaying_average",
                                               "calculation_int": 30})
    assert r.status_code == 422
    stored = app.extensions["knowgap"].db[store.SETTINGS].find_one({"course_id": COURSE})
    assert stored["mastery_model"] == "decaying_average" and stored["calculation_int"] == 30


def test_switching_models_keeps_every_earned_badge(client, app, teacher, synced):
    db = synced
    before = badges_of(db)
    holders = {(d["student_id"], d["skill"]) for d in db[store.BADGES].find({"course_id": COURSE})}
    assert before and holders
    # n_mastery 10: with 4 quizzes nobody has a score, yet every earned badge stays earned
    run_job(client, app, teacher, put(client, teacher, {"mastery_model": "n_mastery",
                                                        "calculation_int": 10})["job_id"])
    items = breakdown(client, teacher)
    assert all(i["score"] == 0.0 for i in items.values())
    assert {k: v for k, v in badges_of(db).items() if k in before} == before
    assert all(items[key].get("badgeLevel") for key in holders)
    run_job(client, app, teacher, put(client, teacher, {"mastery_model": "percentage"})["job_id"])
    assert set(badges_of(db)) >= set(before)
    items = breakdown(client, teacher)
    assert {i["model"] for i in items.values()} == {"percentage"}
    assert all(i["evidence"] == i["questionsAttempted"] for i in items.values())


def test_graphs_follow_the_course_model(client, app, teacher, synced):
    items = breakdown(client, teacher)
    sid = next(iter(items))[0]
    graphs = client.get(f"/achieveup/graphs/individual/{sid}?course_id={COURSE}",
                        headers=teacher).get_json()
    assert graphs["timeSeriesData"]
    scores = {p["skill"]: p["score"] for p in graphs["performance"]}
    assert scores == {skill: items[(sid, skill)]["score"] for skill in SKILLS}
