"""AI suggestions for AchieveUp: course skills, and skills + complexity per question.

Every answer first asks the AI (``knowgap.ai.client``: strict-JSON prompt, reply validated by
a marshmallow schema, one retry). With no API key, on an error, a timeout or an invalid reply
the offline heuristics (``achieveup.ai.heuristic``) answer instead. Each result says which
engine produced it (``source: "ai" | "heuristic"``); a response is ``ai`` when at least one of
its items came from the AI.

Skills suggested for a question always come from the course's skill matrices (all of them,
or the one given): the AI sees that list, and anything it answers outside it is dropped; a
question for which the AI gave no usable skill gets the heuristic's choice. Only when the
course has no matrix skills at all (or no course was named) are free-form skill names
suggested. The result for a question is never empty.
"""
from __future__ import annotations

import asyncio
import logging

from achieveup.ai import heuristic
from achieveup.ai.schemas import COMPLEXITY, AIAnalyzeReply, AISuggestSkillsReply
from knowgap.ai import client as ai
from knowgap.topics.text import fallback_topic, html_to_text

log = logging.getLogger("achieveup.ai")

AI, HEURISTIC = "ai", "heuristic"
BATCH_SIZE = 20              # questions per AI request (requests of a call run concurrently)
PROMPT_TEXT_CHARS = 2000     # question text sent to the AI (after HTML is stripped)
PROMPT_DESCRIPTION_CHARS = 4000
MAX_SKILLS_PER_QUESTION = 5
MAX_COURSE_SKILLS = 15
MAX_SKILL_CHARS = 100

ANALYZE_INSTRUCTIONS = """
For every question in INPUT.questions, choose the skills it assesses and rate its cognitive
complexity. Reply with exactly this JSON object and nothing else:
{"questions": [{"questionId": "<the question's id, as given>",
                "suggestedSkills": ["<skill>", ...],
                "complexity": "low" | "medium" | "high",
                "confidence": <number from 0 to 1>}]}
Rules: one entry per input question, same ids. When INPUT.skills is a non-empty list, every
suggested skill MUST be copied exactly from INPUT.skills (1 to 3 skills, most relevant first);
never invent skills then. When INPUT.skills is empty, suggest 1 to 3 short skill names
(at most 6 words each). Complexity follows Bloom's taxonomy: low = recall/recognize,
medium = apply/explain/calculate, high = analyze/evaluate/create.
"""

COURSE_SKILLS_INSTRUCTIONS = """
Suggest 5 to 10 skills a student should master in the course described by INPUT. Reply with
exactly this JSON object and nothing else:
{"skills": [{"skill": "<short skill name, at most 6 words>",
             "description": "<one sentence>",
             "relevance": <number from 0 to 1>}]}
Most relevant first. Skills must be specific to the course content, not generic study skills.
"""


def _clamp(value, default: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    if number != number:  # NaN
        return default
    return round(max(0.0, min(1.0, number)), 2)


def _clean_name(name) -> str:
    return " ".join(str(name or "").split())[:MAX_SKILL_CHARS].strip()


def _ask(config, task: str, payload: dict, schema, instructions: str):
    try:
        return ai.ask_json(config, task, payload, schema, instructions)
    except Exception:  # the client catches API errors; anything else must not break the page
        log.exception("AI task %s failed unexpectedly; using the offline fallback", task)
        return None


async def _ask_many(config, task: str, payloads: list[dict], schema, instructions: str):
    client = ai.async_client(config)
    try:
        async def one(payload):
            try:
                return await ai.ask_json_async(config, task, payload, schema, instructions,
                                               client=client)
            except Exception:
                log.exception("AI task %s failed unexpectedly; using the offline fallback", task)
                return None
        return await asyncio.gather(*(one(p) for p in payloads))
    finally:
        await client.close()


def _ask_batches(config, task: str, payloads: list[dict], schema, instructions: str) -> list:
    if not payloads or not ai.ai_enabled(config):
        return [None] * len(payloads)
    if len(payloads) == 1:
        return [_ask(config, task, payloads[0], schema, instructions)]
    try:
        asyncio.get_running_loop()
    except RuntimeError:  # the normal case: no loop in this thread, ask concurrently
        return asyncio.run(_ask_many(config, task, payloads, schema, instructions))
    # Already inside an event loop (an async server worker): ask one by one.
    return [_ask(config, task, p, schema, instructions) for p in payloads]


# ------------------------------------------------------------------ course skills


def suggest_course_skills(config, *, course_name: str, course_code: str = "",
                          description: str | None = None) -> tuple[list[dict], str]:
    """``([{skill, description, relevance, source}], source)``; never empty."""
    payload = {"course_name": course_name, "course_code": course_code or "",
               "course_description": html_to_text(description or "")[:PROMPT_DESCRIPTION_CHARS]}
    reply = _ask(config, "suggest_skills", payload, AISuggestSkillsReply(),
                 COURSE_SKILLS_INSTRUCTIONS)
    items: list[dict] = []
    seen: set[str] = set()
    for entry in (reply or {}).get("skills", []):
        name = _clean_name(entry.get("skill"))
        if not name or name.casefold() in seen:
            continue
        seen.add(name.casefold())
        items.append({"skill": name,
                      "description": " ".join(str(entry.get("description") or "").split())[:500]
                      or f"Ability in {name}.",
                      "relevance": _clamp(entry.get("relevance"), 0.7), "source": AI})
        if len(items) >= MAX_COURSE_SKILLS:
            break
    if items:
        items.sort(key=lambda i: -i["relevance"])
        return items, AI
    fallback = heuristic.suggest_course_skills(course_name, course_code, description)
    return [{**item, "relevance": _clamp(item.get("relevance"), 0.5), "source": HEURISTIC}
            for item in fallback], HEURISTIC


# ------------------------------------------------------------------ questions


def _free_skills(text: str, description: str | None) -> list[str]:
    """Skill names for a question when the course has no matrix skills."""
    phrases = [i["skill"] for i in heuristic.suggest_course_skills(None, None, text)
               if i.get("relevance", 0) > 0.45]
    if phrases:
        return phrases[:3]
    topic = fallback_topic(text)
    if topic:
        return [" ".join(w[:1].upper() + w[1:] for w in topic.split())[:MAX_SKILL_CHARS]]
    return ["General Understanding"]


def _heuristic_item(question: dict, skills: list[str], description: str | None) -> dict:
    text = html_to_text(question.get("text") or "")
    level, confidence = heuristic.complexity(text, question.get("type"), question.get("points"))
    if skills:
        picked = heuristic.suggest_skills_for_question(text, skills, description, limit=3)
        ranked = dict(heuristic.rank_skills(text, skills, description))
        best = ranked.get(picked[0], 0.0) if picked else 0.0
        confidence = round(min(0.9, 0.3 + 0.6 * best), 2)
    else:
        picked = _free_skills(text, description)
    if not picked:  # cannot happen with a non-empty skill list; keep the promise anyway
        picked = skills[:1] or ["General Understanding"]
    return {"questionId": question["id"], "suggestedSkills": picked, "complexity": level,
            "confidence": confidence, "source": HEURISTIC}


def _ai_item(question: dict, result: dict, allowed: dict[str, str]) -> dict | None:
    picked: list[str] = []
    for raw in result.get("suggestedSkills") or []:
        name = _clean_name(raw)
        if not name:
            continue
        if allowed:
            name = allowed.get(name.casefold())
            if name is None:
                continue
        if name not in picked:
            picked.append(name)
        if len(picked) >= MAX_SKILLS_PER_QUESTION:
            break
    if not picked:
        return None
    level = str(result.get("complexity") or "").strip().lower()
    if level not in COMPLEXITY:
        level, _ = heuristic.complexity(question.get("text") or "", question.get("type"),
                                        question.get("points"))
    return {"questionId": question["id"], "suggestedSkills": picked, "complexity": level,
            "confidence": _clamp(result.get("confidence"), 0.7), "source": AI}


def analyze_questions(config, questions: list[dict], skills: list[str], *,
                      course: dict | None = None) -> tuple[list[dict], str]:
    """One result per question, in input order: ``{questionId, suggestedSkills,
    complexity, confidence, source}``; plus the overall source.

    ``questions``: ``[{id, text, type?, points?}]``; ``skills``: the allowed skills (empty
    means free-form suggestions); ``course``: optional ``{name, code, description}`` context.
    """
    course = course or {}
    description = course.get("description") or None
    allowed = {s.casefold(): s for s in skills}
    batches = [questions[i:i + BATCH_SIZE] for i in range(0, len(questions), BATCH_SIZE)]
    context = {k: v for k, v in (
        ("name", course.get("name")), ("code", course.get("code")),
        ("description", html_to_text(description or "")[:PROMPT_DESCRIPTION_CHARS]))
        if v}
    payloads = [{"course": context, "skills": list(skills),
                 "questions": [{"id": q["id"],
                                "text": html_to_text(q.get("text") or "")[:PROMPT_TEXT_CHARS],
                                **({"type": q["type"]} if q.get("type") else {}),
                                **({"points": q["points"]} if q.get("points") is not None else {})}
                               for q in batch]}
                for batch in batches]
    replies = _ask_batches(config, "analyze_questions", payloads, AIAnalyzeReply(),
                           ANALYZE_INSTRUCTIONS)

    by_id: dict[str, dict] = {}
    for reply in replies:
        for result in (reply or {}).get("questions", []):
            by_id.setdefault(result["questionId"], result)
    items = []
    for question in questions:
        result = by_id.get(question["id"])
        item = _ai_item(question, result, allowed) if result else None
        items.append(item or _heuristic_item(question, list(skills), description))
    source = AI if any(i["source"] == AI for i in items) else HEURISTIC
    return items, source


def suggest_for_question(config, text: str, skills: list[str], *,
                         context: str | None = None) -> tuple[list[str], str]:
    """Skill names for one question (never empty) and the source."""
    items, source = analyze_questions(config, [{"id": "q", "text": text}], skills,
                                      course={"description": context})
    return items[0]["suggestedSkills"], source
