"""Core topic of a question through the AI helper, with a cache and an offline fallback.

Why cached by *question text + course context*: quizzes drawing from question banks repeat the
same question many times (and across courses), so the cache key is
``question_hash(text) + ':' + context_hash``: one AI call per distinct text per context. When
the instructor changes the course context, every key changes and topics are regenerated
(overridden questions excepted, see ``pipeline``). Only AI answers are cached: a heuristic
fallback (no key, AI down) is stored on the question but retried on the next generation.

Collection ``knowgap_topic_cache`` {canvas_host, key, topic, model, created_at} unique
(canvas_host, key): per Canvas host like every record, so whether a text was seen before
(the sync's ``cache_hits``) says nothing about another institution's courses.
"""
from __future__ import annotations

import datetime as dt

from marshmallow import Schema, fields, validate

from knowgap.core.tenancy import where
from knowgap.topics.text import fallback_topic

TOPIC_CACHE = "knowgap_topic_cache"
TASK = "core_topic"
MAX_QUESTION_CHARS = 2000
MAX_CONTEXT_CHARS = 3000
INSTRUCTIONS = (
    "Name the single core concept a student must understand to answer the question, as a "
    "short topic of 2 to 6 words that works as a YouTube search query for a tutorial "
    "(no quiz wording, no answer). Use the course context to choose the right subject area. "
    'Reply with JSON: {"topic": "<topic>"}.')


class TopicReply(Schema):
    topic = fields.String(required=True, validate=validate.Length(min=1, max=200))


def topic_key(text_hash: str, ctx_hash: str) -> str:
    return f"{text_hash}:{ctx_hash}"


def clean_topic(value) -> str:
    text = " ".join(str(value or "").split()).strip(" .\"'")
    return text[:100]


def offline_topic(question_text: str) -> str:
    return clean_topic(fallback_topic(question_text))


def payload(question_text: str, context: str) -> dict:
    return {"question": (question_text or "")[:MAX_QUESTION_CHARS],
            "course_context": (context or "")[:MAX_CONTEXT_CHARS]}


def load_cached(db, keys) -> dict[str, str]:
    keys = list(keys)
    if not keys:
        return {}
    return {d["key"]: d["topic"] for d in db[TOPIC_CACHE].find(where(db, key={"$in": keys}),
                                                               {"key": 1, "topic": 1})}


def store_cached(db, key: str, topic: str, model: str) -> None:
    db[TOPIC_CACHE].update_one(
        where(db, key=key),
        {"$set": {"topic": topic, "model": model,
                  "created_at": dt.datetime.now(dt.timezone.utc)}}, upsert=True)
