"""Topics and videos for a course's questions, generated concurrently in one event loop.

Why one pipelined batch: a course has hundreds of questions and both the AI and YouTube answer
in hundreds of milliseconds, so sequential calls would take minutes. Each distinct question
text (cache key: text hash + course-context hash) becomes one AI task and each distinct topic
one YouTube task; tasks are shared through dicts of futures, so duplicates (question banks,
the same topic in two questions) cost one call. Two semaphores cap concurrency at
``AI_CONCURRENCY`` / ``YOUTUBE_CONCURRENCY`` each, and a question's video search starts as soon
as its topic is known, so the YouTube calls overlap the AI calls instead of waiting for all of
them. Wall time is about ``ceil(distinct texts / 8) x AI latency`` plus one YouTube latency.
Failures degrade, never raise: once the AI has failed ``AI_BREAKER_FAILURES`` times without a
success the rest of the batch gets offline topics at once, and a YouTube quota/key error stops
further searches in the batch (the questions keep their topic and get a status note).

Which questions are (re)generated: not overridden by the instructor (``video_override``), not
text-only items, and either their ``topic_key`` differs from the current one (text or course
context changed), or their topic came from the offline fallback while AI is now available, or
their video is missing because of a retryable YouTube failure.
"""
from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter

from knowgap.ai.client import ai_enabled, ask_json_async, async_client
from knowgap.courses import store
from knowgap.topics import service as topics
from knowgap.videos import store as vstore
from knowgap.videos import youtube
from knowgap.videos.youtube import STATUS_MESSAGES, STOP_KINDS, YouTubeError

AI_CONCURRENCY = 8
YOUTUBE_CONCURRENCY = 8
# After this many AI failures with no success in a batch, the AI is treated as down for the
# rest of the batch (fallback topics at once instead of waiting out one timeout per question).
AI_BREAKER_FAILURES = 3
RETRY_VIDEO_STATUSES = frozenset({None, "unavailable", "quota", "forbidden", "not_configured"})
# Most important first when summarising why videos are missing.
STATUS_ORDER = ("not_configured", "forbidden", "quota", "unavailable", "no_results")


def _plan(questions, ctx_hash: str, ai_on: bool, yt_on: bool, video_cooldown, now):
    work = []
    for q in questions:
        if q.get("video_override") or q.get("question_type") in store.NO_TOPIC_TYPES:
            continue
        key = topics.topic_key(q.get("text_hash") or "", ctx_hash)
        # Lazy fills (a student's request: video_cooldown set) do not retry fallback topics;
        # explicit syncs and regenerations do.
        need_topic = (q.get("topic_key") != key or not q.get("core_topic")
                      or (ai_on and video_cooldown is None
                          and q.get("topic_source") == "heuristic"))
        status = q.get("video_status")
        need_video = need_topic or status in RETRY_VIDEO_STATUSES
        if not need_topic and status == "not_configured" and not yt_on:
            need_video = False                    # nothing changed: no point re-marking
        if need_video and not need_topic and video_cooldown is not None and status is not None:
            checked = q.get("video_checked_at")
            if checked is not None and checked.tzinfo is None:
                checked = checked.replace(tzinfo=dt.timezone.utc)
            if checked is not None and now - checked < video_cooldown:
                need_video = False
        if need_topic or need_video:
            work.append((q, key, need_topic, need_video))
    return work


async def _produce(svc, work, context: str, stats: Counter) -> list[tuple[str, dict]]:
    config, db = svc.config, svc.db
    cached = topics.load_cached(db, {key for _, key, need, _ in work if need})
    ai_sem = asyncio.Semaphore(AI_CONCURRENCY)
    yt_sem = asyncio.Semaphore(YOUTUBE_CONCURRENCY)
    topic_tasks: dict[str, asyncio.Future] = {}
    video_tasks: dict[str, asyncio.Future] = {}
    stopped: dict[str, str | None] = {"kind": None}
    ai_health = {"ok": 0, "failed": 0}
    ai = async_client(config) if ai_enabled(config) else None
    session = youtube.new_session() if youtube.configured(config) else None
    now = dt.datetime.now(dt.timezone.utc)

    async def topic_for(key: str, text: str) -> tuple[str, str]:
        if key in cached:
            stats["topic_cache_hits"] += 1
            return cached[key], "ai"
        def ai_down() -> bool:
            return ai_health["ok"] == 0 and ai_health["failed"] >= AI_BREAKER_FAILURES

        if ai is not None and text and not ai_down():
            async with ai_sem:
                if ai_down():
                    reply = None
                else:
                    stats["ai_calls"] += 1
                    reply = await ask_json_async(config, topics.TASK,
                                                 topics.payload(text, context),
                                                 topics.TopicReply(), topics.INSTRUCTIONS,
                                                 client=ai)
            topic = topics.clean_topic(reply.get("topic")) if isinstance(reply, dict) else ""
            if topic:
                ai_health["ok"] += 1
                topics.store_cached(db, key, topic, config.openai_model)
                return topic, "ai"
            ai_health["failed"] += 1
            stats["ai_failures"] += 1
        stats["heuristic_topics"] += 1
        return topics.offline_topic(text), "heuristic"

    async def video_for(topic: str) -> tuple[dict | None, str]:
        if not topic:
            return None, "no_results"
        key = vstore.topic_cache_key(topic)
        hit = vstore.cached_video(db, key)
        if hit is not None:
            stats["video_cache_hits"] += 1
            return hit
        if session is None:
            return None, "not_configured"
        async with yt_sem:
            if stopped["kind"]:
                return None, stopped["kind"]
            stats["youtube_calls"] += 1
            try:
                video = await youtube.search(session, config, topic)
            except YouTubeError as exc:
                stats["youtube_errors"] += 1
                if exc.kind in STOP_KINDS:
                    stopped["kind"] = exc.kind
                return None, exc.kind
        status = "ok" if video else "no_results"
        vstore.put_video(db, key, topic, video, status)
        return video, status

    def shared(tasks: dict, key: str, make):
        if key not in tasks:
            tasks[key] = asyncio.ensure_future(make())
        return tasks[key]

    async def one(q, key, need_topic, need_video):
        if need_topic:
            topic, source = await shared(topic_tasks, key,
                                         lambda: topic_for(key, q.get("question_text") or ""))
        else:
            topic, source = q.get("core_topic") or "", q.get("topic_source")
        out = {"core_topic": topic, "topic_source": source, "topic_key": key}
        if need_video:
            video, status = await shared(video_tasks, vstore.topic_cache_key(topic),
                                         lambda: video_for(topic))
            out.update(video=video, video_status=status, video_checked_at=now)
        return q["question_id"], out

    try:
        return await asyncio.gather(*(one(*w) for w in work))
    finally:
        if ai is not None:
            await ai.close()
        if session is not None:
            await session.close()


def video_status_note(statuses) -> str | None:
    """One sentence explaining missing videos (most important cause first), or None."""
    present = set(statuses)
    for kind in STATUS_ORDER:
        if kind in present:
            return STATUS_MESSAGES[kind]
    return None


def generate_course_content(svc, course_id: str, *, question_ids=None,
                            video_cooldown: dt.timedelta | None = None) -> dict:
    """Generate missing/stale topics and videos for a course (or some of its questions).

    Returns a summary: ``{questions, generated, topics: {...}, videos: {...}, video_status}``.
    Never raises for AI or YouTube failures (they become fallback topics / status notes).
    """
    db, config = svc.db, svc.config
    context, ctx_hash = store.get_context(db, course_id)
    questions = store.questions_of(db, course_id, question_ids)
    now = dt.datetime.now(dt.timezone.utc)
    work = _plan(questions, ctx_hash, ai_enabled(config), youtube.configured(config),
                 video_cooldown, now)
    stats: Counter = Counter()
    results = asyncio.run(_produce(svc, work, context, stats)) if work else []
    if results:
        store.update_generated(db, course_id, results)
    updated = dict(results)
    statuses = []
    found = 0
    for q in questions:
        if q.get("question_type") in store.NO_TOPIC_TYPES:
            continue
        status = updated.get(q["question_id"], {}).get("video_status", q.get("video_status"))
        if q.get("video_override") or status == "ok":
            found += 1
        elif status:
            statuses.append(status)
    return {
        "questions": len(questions), "generated": len(results),
        "topics": {"ai_calls": stats["ai_calls"], "cache_hits": stats["topic_cache_hits"],
                   "ai_failures": stats["ai_failures"], "heuristic": stats["heuristic_topics"],
                   "distinct": len({f["core_topic"] for _, f in results})},
        "videos": {"youtube_calls": stats["youtube_calls"],
                   "cache_hits": stats["video_cache_hits"],
                   "errors": stats["youtube_errors"], "with_video": found,
                   "without_video": len(statuses)},
        "video_status": video_status_note(statuses),
    }
