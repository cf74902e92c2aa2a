"""The course pipeline: every update of a course's results runs its stages here, in this order.

    store results -> mastery -> badges -> insights/engagement -> risk (-> xAPI)

=================  ==================================================  =========================
stage              function (module)                                   inputs -> outputs
=================  ==================================================  =========================
store results      ``store_snapshot``, or ``result_docs`` +            a Canvas snapshot (or an
                   ``store_results`` (``achieveup.sync.service``)      uploaded report's
                                                                       results) -> stored
                                                                       quizzes, questions,
                                                                       students, results,
                                                                       evidence, item responses
mastery            ``compute_course_state``                            stored evidence, skill
                   (``achieveup.mastery.service``)                     map, settings, fits ->
                                                                       summaries, new fits,
                                                                       quiz percentages
badges             ``apply_awards``, ``revoke_in_summaries``,          summaries, matrix,
                   ``revoke_in_collection``                            settings -> new badges,
                   (``achieveup.badges.service``)                      badge state in summaries
insights /         ``engagement_indices``, ``student_engagement``      stored submissions,
engagement         (``achieveup.insights.service``)                    evidence, videos ->
                                                                       engagement index
risk               ``compute_risk`` (``knowgap.risk.calc``),           current score, quiz
                   ``risk_for_student`` (``knowgap.risk.service``)     percentages, mastery
                                                                       average, engagement ->
                                                                       risk level and index
xAPI (after a      ``course_updated`` (``knowgap.xapi.stage``)         the new summaries ->
sync only)                                                             skill statements queued,
                                                                       the delivery job queued
=================  ==================================================  =========================

No stage imports another (``tests/test_import_graph.py`` holds them to it): this module hands
each stage what the earlier ones produced and stores the outcome. The mastery, badge and risk
stages of a course run under the course's write lock (``store.course_lock``) and the summaries
and fits are written last, in one go, so a failure leaves the previous ones in place.

Who calls it:

* the AchieveUp course sync job (``achieveup.sync.job``): :func:`update_course`, every stage;
* the Student Analysis CSV upload (``achieveup.sync.upload``): :func:`store_results`, then it
  queues the recompute job;
* the recompute job that a settings change or an upload queues (``achieveup.settings.service``):
  :func:`recompute`, mastery to risk;
* ``POST /achieveup/badges/generate``: :func:`award_badges`, the badges of the stored summaries;
* a matrix change or an import that drops skills (``achieveup.skills.service``,
  ``achieveup.exchange.service``): :func:`revoke_removed_skills`;
* KnowGap's ``POST /get-risk`` (``knowgap.risk.routes``): :func:`student_risk`.
"""
from __future__ import annotations

import time

from achieveup.badges import service as badges
from achieveup.insights import ingest, service as insights
from achieveup.mastery import service as mastery
from achieveup.mastery import store, summaries
from achieveup.sync import service as results
from knowgap.risk import service as risk
from knowgap.risk.calc import compute_risk
from knowgap.xapi import stage as xapi


def _lap(timings: dict | None, stage: str, started: float) -> float:
    """Add the seconds since ``started`` to ``timings[stage]``; returns the time now."""
    now = time.perf_counter()
    if timings is not None:
        timings[stage] = timings.get(stage, 0.0) + now - started
    return now


def update_course(db, config, course_id: str, snap, now, *, course_name: str | None = None,
                  counts: dict, report=None, timings: dict | None = None) -> None:
    """Every stage for a course snapshot fetched from Canvas (``knowgap.canvas.snapshot``):
    store it, then :func:`recompute` with a refit of the BKT parameters when due, then hand the
    new summaries to xAPI (nothing when it is off for the course). ``counts``
    receives the stages' counts; ``report`` (the job's reporter) hears ``progress=0.7`` once
    the results are stored; ``timings``, when given, the seconds each stage took
    (``store_results``, then those of :func:`recompute`, then ``xapi``)."""
    started = time.perf_counter()
    counts.update(results.store_snapshot(db, course_id, snap, now))
    _lap(timings, "store_results", started)
    if report is not None:
        report(progress=0.7, counts=counts)
    new_summaries, _ = recompute(db, config, course_id, now, course_name=course_name,
                                 refit=True, counts=counts, timings=timings)
    started = time.perf_counter()
    xapi.course_updated(db, config, course_id, summaries=new_summaries, now=now)
    _lap(timings, "xapi", started)


def store_results(db, course_id: str, question_results: list, now) -> dict:
    """The store-results stage for results that come without a snapshot (``QuestionResult``
    rows of an uploaded report): new rows inserted, changed rows replaced, the evidence of
    the students they touch written, the item responses updated. Returns the counts; the rest
    of the pipeline runs as :func:`recompute`."""
    rows = results.result_docs(db, course_id, question_results)
    counts, dirty = results.store_results(db, course_id, rows, now)
    counts["evidence_rebuilt"] = len(dirty)
    counts["item_responses_written"] = ingest.update_item_responses(db, course_id, rows, now,
                                                                    full=False)
    return counts


def recompute(db, config, course_id: str, now=None, *, course_name: str | None = None,
              refit: bool = False, counts: dict | None = None,
              timings: dict | None = None) -> tuple[list[dict], list[dict]]:
    """Mastery -> badges -> engagement -> risk for the whole course from what is stored, under
    the course's write lock; stores the summaries (and new fits). Returns ``(summaries, newly
    awarded badges)``. ``refit``: fit the BKT parameters again first when it is due
    (``mastery.compute_course_state``). ``counts``, when given, receives ``bkt_refit`` (1 when
    parameters were fitted), ``bkt_skills_fitted``, ``students_with_mastery`` and
    ``badges_awarded``; ``timings``, when given, the seconds of each stage (``mastery``,
    ``badges``, ``engagement``, ``risk``) and of the ``write``."""
    now = now or store.utcnow()
    with store.course_lock(db, course_id):
        started = time.perf_counter()
        state = mastery.compute_course_state(db, config, course_id, now, refit=refit)
        started = _lap(timings, "mastery", started)
        awarded, _ = badges.apply_awards(db, config, course_id, state.summaries, now=now,
                                         course_name=course_name)
        started = _lap(timings, "badges", started)
        engagement = insights.engagement_indices(db, course_id)
        started = _lap(timings, "engagement", started)
        for doc in state.summaries:
            sid = doc["student_id"]
            found = compute_risk(doc["current_score"], state.quiz_percentages[sid],
                                 doc["average_score"], engagement=engagement.get(sid))
            doc["risk_level"], doc["risk_index"] = found.risk_level, found.risk_index
        started = _lap(timings, "risk", started)
        if state.fitted is not None:   # replaces every fit document of the course, recency's too
            store.replace_course_docs(db, store.BKT_PARAMETERS, str(course_id),
                                      state.fitted + [state.recency] if state.recency
                                      else state.fitted)
        elif state.recency is not None:
            store.replace_many(db[store.BKT_PARAMETERS], [state.recency])
        summaries.write_summaries(db, course_id, state.summaries)
        _lap(timings, "write", started)
    if counts is not None:
        counts["bkt_refit"] = int(state.fitted is not None)
        counts["bkt_skills_fitted"] = sum(1 for d in state.fitted or []
                                          if d["scope"] == "skill" and d["source"] == "fitted")
        counts.update(students_with_mastery=len(state.summaries), badges_awarded=len(awarded))
    return state.summaries, awarded


def award_badges(db, config, course_id: str, *, now=None,
                 course_name: str | None = None) -> list[dict]:
    """The badge stage on the stored summaries: award every badge they justify that does not
    exist yet (and revoke those of skills no matrix has any more); returns the new ones."""
    course_id = str(course_id)
    now = now or store.utcnow()
    with store.course_lock(db, course_id):
        docs = summaries.summaries_of_course(db, course_id)
        new, changed = badges.apply_awards(db, config, course_id, docs, now=now,
                                           course_name=course_name)
        if changed:
            summaries.write_summaries(db, course_id, docs)
    return new


def revoke_removed_skills(db, course_id: str, skills: set[str], *, now=None,
                          wait_seconds: float = 120.0) -> int:
    """Revoke the course's badges whose skill is not in ``skills`` (collection and summaries);
    returns how many badges were revoked.

    The collection is written first, without waiting: from then on the badges are revoked
    everywhere (lists, public URLs, the status list). The summaries are then rewritten under
    the course lock, which also revokes any badge of those skills that a recompute running
    meanwhile awarded from the matrix it had read. If the lock is not free within
    ``wait_seconds`` the error propagates; the badges stay revoked and the next recompute
    brings the summaries in line (it revokes what no matrix has)."""
    course_id = str(course_id)
    now = now or store.utcnow()
    count = badges.revoke_in_collection(db, course_id, skills, now=now)
    with store.course_lock(db, course_id, wait_seconds=wait_seconds):
        count += badges.revoke_in_collection(db, course_id, skills, now=now)
        docs = summaries.summaries_of_course(db, course_id)
        if badges.revoke_in_summaries(db, course_id, docs, skills):
            summaries.write_summaries(db, course_id, docs)
    return count


def skill_mastery_average(db, course_id: str, student_id: str) -> float | None:
    """Mean of the student's AchieveUp skill scores (0–100) over the skills with evidence;
    None when AchieveUp has no summary for the student."""
    doc = summaries.summary_of(db, str(course_id), str(student_id))
    values = [float(entry["score"]) for entry in summaries.skills_of(doc)
              if entry.get("evidence_count") and isinstance(entry.get("score"), (int, float))]
    return sum(values) / len(values) if values else None


def student_risk(db, gateway_or_data, course_id, student_id) -> dict:
    """KnowGap's risk for one student (``knowgap.risk.service.risk_for_student``: Canvas
    through ``gateway_or_data``), with the mastery average and engagement index AchieveUp
    stored for them."""
    return risk.risk_for_student(
        gateway_or_data, course_id, student_id,
        skill_mastery=skill_mastery_average(db, course_id, student_id),
        engagement=insights.student_engagement(db, str(course_id), str(student_id))["index"])
