"""Offline fallback for the AI features: skill suggestions, question analysis, course skills.

Used when no OpenAI key is configured or the AI call fails (timeout, 5xx, malformed JSON).
Pure computation, no I/O, deterministic (same input, same output), so the UI always gets a
useful answer and tests can assert exact behaviour.

The methods are intentionally simple and explainable:

* text -> terms: lower-case word tokens, a small inline stop-word list, and a light suffix
  stripper (not Porter: good enough to make "recursion"/"recursive", "structures"/"structure"
  meet).
* question -> skills: IDF-weighted coverage of each skill name's terms by the question's terms
  (IDF computed over the candidate skills, so a word shared by every skill, like "Python" in
  "Python Loops"/"Python Functions", counts little). A course description acts as a weak prior.
* complexity: Bloom's-taxonomy verbs, question type, length and points, combined as a weighted
  vote.
* course skills: RAKE-style key phrases from the course name and description.
"""
from __future__ import annotations

import math
import re
from typing import Iterable, Sequence

__all__ = [
    "STOP_WORDS",
    "tokenize",
    "stem",
    "terms",
    "rank_skills",
    "suggest_skills_for_question",
    "complexity",
    "suggest_course_skills",
]

STOP_WORDS = frozenset("""
a about above after again against all also am an and any are aren't as at be because been
before being below between both but by can can't cannot could couldn't did didn't do does
doesn't doing don't down during each either etc few for from further get gets given had hadn't
has hasn't have haven't having he her here hers herself him himself his how i if in into is
isn't it it's its itself just let let's may me might more most must my myself no nor not of
off on once only or other our ours ourselves out over own per same shall she should shouldn't
so some such than that that's the their theirs them themselves then there there's these they
this those through to too under until up upon us very via was wasn't we were weren't what
when where which while who whom whose why will with within without won't would wouldn't you
your yours yourself yourselves following true false correct incorrect best statement answer
question select choose one two three
""".split())

_TAG = re.compile(r"<[^>]+>")
_ENTITY = re.compile(r"&(nbsp|amp|lt|gt|quot|#39|#x27);")
_ENTITIES = {"nbsp": " ", "amp": "&", "lt": "<", "gt": ">", "quot": '"', "#39": "'", "#x27": "'"}
_TOKEN = re.compile(r"[a-z0-9]+(?:[+#]+|'[a-z]+)?")


def _plain(text) -> str:
    """Cheap HTML strip (Canvas question text is HTML). Full parsing is not needed for bag-of-
    words scoring, and keeping this module dependency-free keeps it importable anywhere."""
    if not text:
        return ""
    text = _TAG.sub(" ", str(text))
    return _ENTITY.sub(lambda m: _ENTITIES[m.group(1)], text)


def tokenize(text) -> list[str]:
    """Lower-case word tokens in order, HTML tags removed, stop words *kept*.

    Keeps ``c++``/``c#`` and contractions (``don't``) as single tokens.
    """
    return _TOKEN.findall(_plain(text).lower())


_PLURAL_KEEP = ("ss", "us", "is", "ous")
_SUFFIXES = (
    ("ational", "ate"), ("ization", "ize"), ("isation", "ize"), ("fulness", ""), ("iveness", ""),
    ("ousness", ""), ("ations", ""), ("ation", ""), ("itions", ""), ("ition", ""),
    ("ments", ""), ("ment", ""), ("ness", ""), ("ingly", ""), ("ings", ""), ("ing", ""),
    ("edly", ""), ("ities", ""), ("ity", ""), ("ives", ""), ("ive", ""), ("ions", ""), ("ion", ""),
    ("ically", ""), ("ally", ""), ("ly", ""), ("ers", ""), ("er", ""), ("ed", ""), ("ical", ""),
    ("ic", ""), ("al", ""), ("izes", ""), ("ize", ""), ("ises", ""), ("ise", ""),
)


def stem(word: str) -> str:
    """Light suffix stripping: plural, then up to two derivational suffixes, then a final "e"
    and a doubled final consonant ("programming" -> "program", "recursion"/"recursive" ->
    "recurs", "classes" -> "class"). Stems never get shorter than 3 characters."""
    w = word.lower()
    if len(w) <= 3 or not w.isalpha():
        return w
    # plurals
    if w.endswith("ies") and len(w) > 4:
        w = w[:-3] + "y"
    elif w.endswith(("sses", "xes", "ches", "shes", "zes")):
        w = w[:-2]
    elif w.endswith("s") and not w.endswith(_PLURAL_KEEP):
        w = w[:-1]
    # derivational suffixes, at most two rounds
    for _ in range(2):
        for suffix, repl in _SUFFIXES:
            if w.endswith(suffix) and len(w) - len(suffix) + len(repl) >= 3:
                w = w[: len(w) - len(suffix)] + repl
                break
        else:
            break
    if w.endswith("e") and len(w) > 3:
        w = w[:-1]
    if len(w) > 3 and w[-1] == w[-2] and w[-1] not in "aeiouls":
        w = w[:-1]
    return w


def terms(text) -> list[str]:
    """Stems of the non-stop-word tokens of ``text`` (order kept, duplicates kept)."""
    return [stem(t) for t in tokenize(text) if t not in STOP_WORDS and (len(t) > 1 or t.isdigit())]


# ---------------------------------------------------------------------------------------------
# Question -> skills
# ---------------------------------------------------------------------------------------------

#: Credit for a term that only shares a long prefix with a question term ("analysi"/"analyz").
PARTIAL_MATCH = 0.7
#: Weight of the question vs. the course-description prior when a description is given.
QUESTION_WEIGHT = 0.85
DESCRIPTION_WEIGHT = 0.15
#: Scale of the character-trigram fallback used when no skill shares a term with the question.
TRIGRAM_SCALE = 0.2
#: How many skills to return when nothing matches at all.
FALLBACK_COUNT = 3


def _unique_skills(skills: Iterable[str]) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for s in skills or ():
        if not isinstance(s, str):
            continue
        name = " ".join(s.split())
        key = name.lower()
        if name and key not in seen:
            seen.add(key)
            out.append(name)
    return out


def _prefix_match(term: str, vocab: set[str]) -> bool:
    if len(term) < 4:
        return False
    for v in vocab:
        if len(v) < 4:
            continue
        n = 0
        for a, b in zip(term, v):
            if a != b:
                break
            n += 1
        if n >= 4 and n >= 0.8 * min(len(term), len(v)):
            return True
    return False


def _coverage(skill_terms: list[str], idf: dict[str, float], vocab: set[str]) -> float:
    """IDF-weighted share of the skill's terms present in ``vocab`` (exact or by prefix)."""
    if not skill_terms or not vocab:
        return 0.0
    total = got = 0.0
    for t in set(skill_terms):
        weight = idf.get(t, 1.0)
        total += weight
        if t in vocab:
            got += weight
        elif _prefix_match(t, vocab):
            got += PARTIAL_MATCH * weight
    return got / total if total else 0.0


def _trigrams(text: str) -> set[str]:
    t = " " + " ".join(tokenize(text)) + " "
    return {t[i : i + 3] for i in range(len(t) - 2)} if len(t.strip()) else set()


def rank_skills(question_text, skills: Sequence[str], course_description=None) -> list[tuple[str, float]]:
    """Skills relevant to a question, best first: ``[(skill, score in [0, 1])]``.

    Score = IDF-weighted coverage of the skill name's terms by the question (1.0 = every
    term of the skill name appears). With a course description, score = 0.85 * question +
    0.15 * description coverage, so the description only reorders close calls and ranks
    skills when the question says nothing. Only skills with a positive score are returned;
    if none has one, a character-trigram similarity (scaled to at most 0.2) is tried, and if
    even that is zero the first ``FALLBACK_COUNT`` skills are returned with score 0.0.
    Never empty when ``skills`` has a usable name. Ties keep the input order.
    """
    names = _unique_skills(skills)
    if not names:
        return []
    skill_terms = [terms(n) for n in names]
    n = len(names)
    df: dict[str, int] = {}
    for ts in skill_terms:
        for t in set(ts):
            df[t] = df.get(t, 0) + 1
    idf = {t: 1.0 + math.log((n + 1) / (c + 1)) for t, c in df.items()}

    q_vocab = set(terms(question_text))
    d_vocab = set(terms(course_description)) if course_description else set()

    scores = []
    for name, ts in zip(names, skill_terms):
        q = _coverage(ts, idf, q_vocab)
        if d_vocab:
            score = QUESTION_WEIGHT * q + DESCRIPTION_WEIGHT * _coverage(ts, idf, d_vocab)
        else:
            score = q
        scores.append(score)

    if not any(s > 0 for s in scores):
        q_tri = _trigrams(question_text)
        if q_tri:
            for i, name in enumerate(names):
                s_tri = _trigrams(name)
                if s_tri:
                    scores[i] = TRIGRAM_SCALE * len(q_tri & s_tri) / len(q_tri | s_tri)

    order = sorted(range(n), key=lambda i: (-scores[i], i))
    ranked = [(names[i], round(min(1.0, scores[i]), 3)) for i in order if scores[i] > 0]
    if ranked:
        return ranked
    return [(names[i], 0.0) for i in range(min(FALLBACK_COUNT, n))]


def suggest_skills_for_question(
    question_text, skills: Sequence[str], course_description=None, limit: int = 3
) -> list[str]:
    """Up to ``limit`` skills (taken from ``skills`` only, original spelling) for a question.

    Always includes the best-ranked skill; others only if they score at least half of the
    best, so a clear single match is not padded with noise. With no evidence at all (every
    score 0) only the first skill is returned. Empty only when ``skills`` is empty.
    """
    ranked = rank_skills(question_text, skills, course_description)
    if not ranked:
        return []
    limit = max(1, int(limit or 1))
    top = ranked[0][1]
    if top <= 0:
        return [ranked[0][0]]
    return [s for s, score in ranked if score >= 0.5 * top][:limit]


# ---------------------------------------------------------------------------------------------
# Complexity
# ---------------------------------------------------------------------------------------------

_BLOOM_LOW = ("define", "list", "name", "identify", "recall", "state", "label", "match",
              "recognize", "recognise", "select", "choose", "memorize", "repeat", "locate")
_BLOOM_MEDIUM = ("explain", "describe", "compare", "contrast", "apply", "calculate", "compute",
                 "solve", "classify", "summarize", "summarise", "interpret", "illustrate",
                 "demonstrate", "predict", "estimate", "convert", "discuss", "distinguish",
                 "implement", "trace", "translate", "paraphrase", "relate", "infer")
_BLOOM_HIGH = ("analyze", "analyse", "evaluate", "design", "justify", "critique", "assess",
               "create", "develop", "construct", "propose", "formulate", "argue", "defend",
               "synthesize", "prove", "derive", "optimize", "judge", "appraise", "devise",
               "recommend", "investigate")
_BLOOM = {}
for _level, _verbs in ((0.0, _BLOOM_LOW), (0.5, _BLOOM_MEDIUM), (1.0, _BLOOM_HIGH)):
    for _v in _verbs:
        _BLOOM[stem(_v)] = _level
        _BLOOM[_v] = _level

_TYPE_LEVEL = {
    "true_false": 0.0, "multiple_choice": 0.0, "matching": 0.0, "multiple_dropdowns": 0.0,
    "text_only": 0.0,
    "multiple_answers": 0.5, "short_answer": 0.5, "fill_in_multiple_blanks": 0.5,
    "numerical": 0.5, "calculated": 0.5,
    "essay": 1.0, "file_upload": 1.0,
}
# Signal weights for the complexity vote.
_W_BLOOM, _W_TYPE, _W_LENGTH, _W_POINTS = 0.45, 0.30, 0.25, 0.10
#: Word-count boundaries: below SHORT is "low", at least LONG is "high".
SHORT_WORDS, LONG_WORDS = 15, 40


def _bucket(value: float) -> str:
    return "low" if value < 0.34 else ("medium" if value < 0.67 else "high")


def complexity(question_text, question_type=None, points=None) -> tuple[str, float]:
    """``("low"|"medium"|"high", confidence in [0.3, 0.9])`` for a question.

    Signals, each voting 0 (low), 0.5 (medium) or 1 (high), averaged with weights:
    * Bloom verb (0.45): the highest level among verbs present; define/list/identify = low,
      explain/compare/apply/calculate = medium, analyze/evaluate/design/justify = high.
      Without a verb, a "why/how" question counts medium and a "what/which/who/when" one low.
    * question type (0.30): true_false/multiple_choice/matching = low, short answer/numeric/
      multiple answers = medium, essay/file upload = high (Canvas names, "_question" optional).
    * length (0.25): < 15 words low, 15–39 medium, >= 40 high.
    * points (0.10, only if given): <= 1 low, >= 10 high, else medium.
    The weighted mean is bucketed at 0.34 / 0.67. Confidence grows with how much of the
    weight agrees with the final bucket and how many signals were available; capped at 0.9
    because this is a heuristic.
    """
    words = tokenize(question_text)
    signals: list[tuple[float, float]] = []

    bloom = None
    for w in words:
        level = _BLOOM.get(w)
        if level is None:
            level = _BLOOM.get(stem(w))
        if level is not None and (bloom is None or level > bloom):
            bloom = level
    if bloom is None and words:
        if words[0] in ("why", "how"):
            bloom = 0.5
        elif words[0] in ("what", "which", "who", "when", "where", "true"):
            bloom = 0.0
    if bloom is not None:
        signals.append((bloom, _W_BLOOM))

    if question_type:
        qtype = str(question_type).lower().strip()
        if qtype.endswith("_question"):
            qtype = qtype[: -len("_question")]
        if qtype in _TYPE_LEVEL:
            signals.append((_TYPE_LEVEL[qtype], _W_TYPE))

    n_words = len(words)
    signals.append((0.0 if n_words < SHORT_WORDS else (0.5 if n_words < LONG_WORDS else 1.0), _W_LENGTH))

    if points is not None and not isinstance(points, bool):
        try:
            pts = float(points)
        except (TypeError, ValueError):
            pts = None
        if pts is not None and math.isfinite(pts) and pts >= 0:
            signals.append((0.0 if pts <= 1 else (1.0 if pts >= 10 else 0.5), _W_POINTS))

    total = sum(w for _, w in signals)
    value = sum(v * w for v, w in signals) / total
    level = _bucket(value)
    agreement = sum(w for v, w in signals if _bucket(v) == level) / total
    confidence = 0.3 + 0.45 * agreement + 0.05 * (len(signals) - 1)
    return level, round(max(0.3, min(0.9, confidence)), 2)


# ---------------------------------------------------------------------------------------------
# Course -> skills
# ---------------------------------------------------------------------------------------------

# Words that describe courses rather than what is learned in them.
_COURSE_STOP = frozenset("""
course courses class classes student students learn learning learned will introduction intro
introductory topic topics include includes including included cover covers covering covered
overview basic basics semester credit credits hour hours prerequisite prerequisites grade grades
exam exams assignment assignments lecture lectures lab labs week weeks syllabus section
instructor professor online policy policies emphasis focus focuses various well new students'
understand understanding gain able ability skills skill knowledge study studies studying
part parts unit units module modules also required requirement requirements provide provides
designed successful completion complete upon end term level advanced beginning fall spring
summer year general use using used i ii iii iv v vi fundamental fundamentals core key main
essential important introduces presents teaches examines explores emphasizes develops builds
prepares prepare provides covers offers principle principles concept concepts role roles
""".split()) | STOP_WORDS

# Endings of common adverbs ("effectively", "basically"); a bare "-ly" test would also drop
# nouns such as "supply", "assembly" or "monopoly".
_ADVERB_ENDINGS = ("ally", "ively", "ately", "ently", "antly", "ously", "ibly", "ably", "fully",
                   "edly", "ingly", "ctly", "ckly", "rly", "tly", "mply", "sely")

_LEADING_VERBS = frozenset("""
use apply understand develop build write analyze analyse learn explore gain master examine
introduce introduces explores discuss discusses create implement evaluate describe explain
identify demonstrate solve
""".split())

_PHRASE_SPLIT = re.compile(r"[.,;:!?()\[\]{}\"/\\|<>=*\u2013\u2014]|\s-\s|\n")
_CODE_LIKE = re.compile(r"\b[A-Z]{2,5}\s?-?\d{3,5}[A-Z]?\b")

#: Generic skills used to pad short lists; "{s}" is the course subject.
_GENERIC_WITH_SUBJECT = ("{s} Fundamentals", "{s} Problem Solving", "Applied {s}",
                         "{s} Terminology", "{s} Analysis")
_GENERIC = ("Critical Thinking", "Problem Solving", "Written Communication",
            "Quantitative Reasoning", "Research Skills")


def _title(words: Sequence[str], original_case: dict[str, str]) -> str:
    out = []
    for w in words:
        orig = original_case.get(w)
        if orig and orig.isupper():
            out.append(orig)  # acronyms and language names stay as written (SQL, DNA, C)
        elif "+" in w or "#" in w:
            out.append(w.upper())  # c++ -> C++
        else:
            out.append("-".join(part[:1].upper() + part[1:] for part in w.split("-")))
    return " ".join(out)


_PHRASE_TOKEN = re.compile(r"[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*(?:[+#]+)?")


def _phrases(text: str) -> list[list[str]]:
    """Candidate key phrases (lower-case word lists) of one text, in order of appearance."""
    out: list[list[str]] = []
    for chunk in _PHRASE_SPLIT.split(text):
        current: list[str] = []
        for tok in _PHRASE_TOKEN.findall(chunk):
            low = tok.lower()
            single_ok = len(tok) > 1 or (tok.isupper() and tok not in ("A", "I"))  # "C", "R"
            if low in _COURSE_STOP or low.isdigit() or not single_ok or low.endswith(_ADVERB_ENDINGS):
                if current:
                    out.append(current)
                current = []
            else:
                current.append(low)
        if current:
            out.append(current)
    cleaned = []
    for p in out:
        while len(p) > 1 and p[0] in _LEADING_VERBS:
            p = p[1:]
        if len(p) > 3:
            p = p[-3:]  # English noun phrases end with their head noun
        if len(p) == 1 and p[0] in _LEADING_VERBS:
            continue
        if p and any(len(w) >= 3 and not w.isdigit() for w in p):
            cleaned.append(p)
    return cleaned


def _subject(course_name: str, course_code: str) -> str:
    name = _CODE_LIKE.sub(" ", course_name or "")
    name = re.sub(r"(?i)\b(introduction|intro)\s+to\b", " ", name)
    name = re.sub(r"(?i)\b(I{1,3}|IV|VI{0,3})\b", " ", name)
    words = [w for w in re.findall(r"[A-Za-z][A-Za-z+#&'-]*", name)
             if w.lower() not in ("and", "of", "for", "the", "in", "to", "a", "an", "with")]
    if not words and course_code:
        letters = re.findall(r"[A-Za-z]+", course_code)
        words = letters[:1]
    subject = " ".join(words[:4])
    return subject[:1].upper() + subject[1:] if subject else ""


def suggest_course_skills(course_name, course_code=None, description=None) -> list[dict]:
    """5–10 skills for a course: ``[{skill, description, relevance 0–1}]``, most relevant first.

    Key phrases are runs of content words in the course name and description (stop words,
    course-boilerplate words like "students"/"introduction", punctuation and adverbs
    end a phrase; a leading verb like "apply" is dropped; long runs keep their last 3 words,
    where English puts the head noun). Each phrase scores RAKE's sum of degree/frequency
    times how often it occurs, and phrases from the course name count double. Near-duplicate
    phrases (same stems) and single words already inside a chosen phrase are dropped.
    Relevance is 0.55–0.95 scaled by score. When fewer than five phrases are found, generic
    academic skills derived from the course subject fill the list (relevance <= 0.45).
    Never empty.
    """
    name = " ".join(str(course_name or "").split())
    code = " ".join(str(course_code or "").split())
    desc = " ".join(_plain(description or "").split())
    label = name or code or "this course"

    original_case: dict[str, str] = {}
    for tok in _PHRASE_TOKEN.findall(f"{name} {desc}"):
        original_case.setdefault(tok.lower(), tok)

    sources = [(_phrases(_CODE_LIKE.sub(" ", name)), 2.0), (_phrases(desc), 1.0)]
    freq: dict[str, int] = {}
    degree: dict[str, int] = {}
    for phrases, _ in sources:
        for p in phrases:
            for w in p:
                freq[w] = freq.get(w, 0) + 1
                degree[w] = degree.get(w, 0) + len(p)

    cands: dict[tuple, list] = {}  # stem key -> [score, words, first_seen]
    order = 0
    for phrases, boost in sources:
        for p in phrases:
            key = tuple(stem(w) for w in p)
            rake = sum(degree[w] / freq[w] for w in p)
            if key in cands:
                cands[key][0] += rake * boost * 0.5  # repeated mention: more central
            else:
                cands[key] = [rake * boost, p, order]
                order += 1

    ranked = sorted(cands.items(), key=lambda kv: (-kv[1][0], kv[1][2]))
    chosen: list[tuple[tuple, list]] = []
    for key, (score, words, _) in ranked:
        if len(chosen) >= 10:
            break
        if len(key) == 1 and any(key[0] in other for other, _ in chosen):
            continue
        # a longer phrase containing an already chosen single word replaces nothing; keep both
        chosen.append((key, [score, words]))

    out: list[dict] = []
    if chosen:
        top = max(v[0] for _, v in chosen)
        for _, (score, words) in chosen:
            skill = _title(words, original_case)
            out.append({
                "skill": skill,
                "description": f"Understand and apply {skill} as covered in {label}.",
                "relevance": round(0.55 + 0.4 * (score / top if top else 0), 2),
            })

    if len(out) < 5:
        subject = _subject(name, code)
        fillers = [g.format(s=subject) for g in _GENERIC_WITH_SUBJECT] if subject else []
        fillers += list(_GENERIC)
        have = {o["skill"].lower() for o in out}
        relevance = 0.45
        for skill in fillers:
            if len(out) >= 5:
                break
            if skill.lower() in have:
                continue
            have.add(skill.lower())
            out.append({
                "skill": skill,
                "description": f"General skill expected in {label}: {skill.lower()}.",
                "relevance": round(relevance, 2),
            })
            relevance -= 0.02
    return out
