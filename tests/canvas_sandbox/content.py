"""Question content for the Canvas sandbox: topics, templates and answers per question type.

Kept apart from ``world.py`` so the generator stays about *structure* (ids, enrollments,
attempts) while this module is about *what a question looks like*.  Every builder takes the
caller's ``random.Random`` (never the global one) and a ``next_id`` callable for answer ids, so
the output is a pure function of the world seed.

The shapes mirror classic-quiz ``QuizQuestion`` JSON as Canvas returns it: ``question_text`` is
HTML, ``answers[].weight`` is 100 for a correct answer and 0 otherwise, and type-specific keys
(``blank_id``, ``match_id``/``left``/``right``, ``exact``/``margin``, ``variables``) appear where
Canvas puts them.  Consumers that only read ``{id, text, weight}`` keep working.

Feedback, where Canvas keeps the instructor's own words (``feedback``): the question's
``correct_comments``, ``incorrect_comments`` and ``neutral_comments`` (plain text, with
``*_comments_html`` beside them), and each answer's ``comments`` / ``comments_html`` (Canvas'
QuizQuestion and Answer models, ``app/controllers/quizzes/quiz_questions_controller.rb`` in
instructure/canvas-lms; the ``*_html`` twins are in the question data its importers and specs
build, e.g. ``answers[].comments_html``). They are derived from the topic already drawn, so
adding them draws nothing more from the generator and every world stays as it was.
"""

from __future__ import annotations

import random
from typing import Callable

QUESTION_TYPES = (
    "multiple_choice_question",
    "true_false_question",
    "multiple_answers_question",
    "short_answer_question",
    "essay_question",
    "numerical_question",
    "matching_question",
    "fill_in_multiple_blanks_question",
    "multiple_dropdowns_question",
    "calculated_question",
    "file_upload_question",
    "text_only_question",
)

# Types whose wrong answers may still earn part of the points (Canvas reports "partial").
PARTIAL_TYPES = frozenset({
    "multiple_answers_question",
    "matching_question",
    "fill_in_multiple_blanks_question",
    "multiple_dropdowns_question",
})
# Types Canvas cannot auto-grade: submission_data says correct="undefined" until a human grades.
UNGRADED_TYPES = frozenset({"essay_question", "file_upload_question"})
# Types that carry no points at all (Canvas reports correct="no_score").
NO_SCORE_TYPES = frozenset({"text_only_question"})

# Filler types used after every type has appeared once in a quiz: real quizzes are mostly
# multiple choice, so weight towards it.
FILLER_TYPES = (
    ["multiple_choice_question"] * 5
    + ["true_false_question"] * 2
    + ["multiple_answers_question"] * 2
    + ["short_answer_question", "numerical_question", "matching_question",
       "fill_in_multiple_blanks_question", "multiple_dropdowns_question", "essay_question"]
)

# (concept, what it is, a true statement about it)
TOPICS = (
    ("photosynthesis", "the conversion of light energy into chemical energy",
     "it takes place in chloroplasts"),
    ("cellular respiration", "the breakdown of glucose to release energy",
     "it produces ATP"),
    ("mitosis", "division of a nucleus into two identical nuclei",
     "it produces genetically identical cells"),
    ("meiosis", "cell division that halves the chromosome number",
     "it produces gametes"),
    ("osmosis", "diffusion of water across a semipermeable membrane",
     "it needs no cellular energy"),
    ("diffusion", "movement of particles from high to low concentration",
     "it is a passive process"),
    ("transcription", "copying DNA into messenger RNA",
     "it happens in the nucleus of eukaryotes"),
    ("translation", "building a protein from messenger RNA",
     "it happens on ribosomes"),
    ("natural selection", "differential survival and reproduction of individuals",
     "it acts on heritable variation"),
    ("homeostasis", "maintenance of a stable internal environment",
     "it relies on feedback loops"),
    ("an enzyme", "a biological catalyst",
     "it lowers activation energy"),
    ("a covalent bond", "a bond formed by sharing electron pairs",
     "it is common in organic molecules"),
    ("an ionic bond", "attraction between oppositely charged ions",
     "it forms between metals and non-metals"),
    ("an isotope", "an atom with a different number of neutrons",
     "it has the same atomic number"),
    ("a catalyst", "a substance that speeds up a reaction without being consumed",
     "it provides an alternative reaction pathway"),
    ("oxidation", "the loss of electrons",
     "it always pairs with a reduction"),
    ("entropy", "a measure of disorder in a system",
     "it tends to increase in isolated systems"),
    ("kinetic energy", "the energy of motion",
     "it depends on mass and speed"),
    ("inertia", "resistance of an object to changes in its motion",
     "it is proportional to mass"),
    ("momentum", "the product of mass and velocity",
     "it is conserved in closed systems"),
    ("an ecosystem", "a community of organisms and their physical environment",
     "energy flows through it"),
    ("a food web", "the network of feeding relationships in a community",
     "it contains several trophic levels"),
    ("a gene", "a unit of heredity made of DNA",
     "it can code for a protein"),
    ("an allele", "an alternative form of a gene",
     "it can be dominant or recessive"),
    ("a ribosome", "the organelle that assembles proteins",
     "it reads codons"),
    ("the mitochondrion", "the organelle where aerobic respiration occurs",
     "it has its own DNA"),
    ("plate tectonics", "the movement of large pieces of the lithosphere",
     "it causes earthquakes"),
    ("the water cycle", "continuous movement of water on, above and below the surface",
     "it is driven by solar energy"),
    ("a hypothesis", "a testable explanation for an observation",
     "it can be falsified"),
    ("a control group", "the group that does not receive the experimental treatment",
     "it provides a baseline for comparison"),
)



def _pick_others(rng: random.Random, index: int, k: int) -> list[tuple[str, str, str]]:
    """k distinct topics other than TOPICS[index] (distractors)."""
    pool = [t for i, t in enumerate(TOPICS) if i != index]
    return rng.sample(pool, k)


def _p(html: str) -> str:
    return f"<p>{html}</p>"


def feedback(concept: str, meaning: str, fact: str) -> dict:
    """The question-level comments an instructor writes, plain and HTML (see the module doc)."""
    texts = {"correct_comments": f"Right: {concept} is {meaning}.",
             "incorrect_comments": f"Review {concept}: it is {meaning}.",
             "neutral_comments": f"Remember that {fact}."}
    return {**texts, **{f"{k}_html": _p(v) for k, v in texts.items()}}


def _commented(answers: list[dict], concept: str, meaning: str) -> list[dict]:
    """Each answer's own comment: why the right one is right, what a wrong one describes."""
    for a in answers:
        text = (f"Yes: this is what {concept} means." if a["weight"] == 100
                else f"No: \"{a['text']}\" is not {meaning}.")
        a["comments"], a["comments_html"] = text, _p(text)
    return answers


def build_question_body(qtype: str, rng: random.Random, next_id: Callable[[], int]) -> dict:
    """Return ``{question_text, answers, **extras}`` for one question of ``qtype``, with the
    instructor's feedback (``feedback``) on gradable questions.

    ``extras`` may hold ``matches`` (matching) or ``variables``/``formulas`` (calculated).
    """
    i = rng.randrange(len(TOPICS))
    body = _shape(qtype, rng, next_id, i)
    if qtype != "text_only_question":
        concept, meaning, fact = TOPICS[i]
        body.update(feedback(concept, meaning, fact))
        if qtype in ("multiple_choice_question", "true_false_question",
                     "multiple_answers_question", "multiple_dropdowns_question"):
            _commented(body["answers"], concept, meaning)
    return body


def _shape(qtype: str, rng: random.Random, next_id: Callable[[], int], i: int) -> dict:
    """The question and answers of ``qtype`` about ``TOPICS[i]``."""
    concept, meaning, fact = TOPICS[i]
    cap = concept[0].upper() + concept[1:]

    def ans(text: str, weight: int, **kw) -> dict:
        return {"id": next_id(), "text": text, "weight": weight, **kw}

    if qtype == "multiple_choice_question":
        options = [ans(meaning, 100)] + [ans(o[1], 0) for o in _pick_others(rng, i, 3)]
        rng.shuffle(options)
        return {"question_text": _p(f"What is <b>{concept}</b>?"), "answers": options}

    if qtype == "true_false_question":
        is_true = rng.random() < 0.5
        stated = meaning if is_true else _pick_others(rng, i, 1)[0][1]
        return {
            "question_text": _p(f"True or false: <b>{cap}</b> is {stated}."),
            "answers": [ans("True", 100 if is_true else 0), ans("False", 0 if is_true else 100)],
        }

    if qtype == "multiple_answers_question":
        others = _pick_others(rng, i, 2)
        options = [ans(meaning, 100), ans(fact, 100), ans(others[0][1], 0), ans(others[1][2], 0)]
        rng.shuffle(options)
        return {"question_text": _p(f"Select <em>all</em> statements that describe <b>{concept}</b>."),
                "answers": options}

    if qtype == "short_answer_question":
        bare = concept.split(" ", 1)[1] if concept.startswith(("a ", "an ", "the ")) else concept
        return {"question_text": _p(f"Name the term for {meaning}."),
                "answers": [ans(bare, 100), ans(bare.capitalize(), 100)]}

    if qtype == "essay_question":
        return {"question_text": _p(f"Explain <b>{concept}</b> in your own words and give an example."),
                "answers": []}

    if qtype == "numerical_question":
        a, b = rng.randint(3, 19), rng.randint(3, 19)
        return {"question_text": _p(f"A sample has {a} rows of {b} cells. How many cells are there?"),
                "answers": [ans("", 100, numerical_answer_type="exact_answer", exact=float(a * b),
                                margin=0.0)]}

    if qtype == "matching_question":
        topics = [TOPICS[i]] + _pick_others(rng, i, 2)
        answers, matches = [], []
        for c, m, _ in topics:
            match_id = next_id()
            matches.append({"match_id": match_id, "text": m})
            answers.append(ans(c, 100, left=c, right=m, match_id=match_id))
        rng.shuffle(matches)
        return {"question_text": _p("Match each term to its definition."),
                "answers": answers, "matches": matches}

    if qtype == "fill_in_multiple_blanks_question":
        other = _pick_others(rng, i, 1)[0]
        return {"question_text": _p(f"[term1] is {meaning}, while [term2] is {other[1]}."),
                "answers": [ans(concept, 100, blank_id="term1"), ans(other[0], 100, blank_id="term2")]}

    if qtype == "multiple_dropdowns_question":
        others = _pick_others(rng, i, 2)
        options = [ans(concept, 100, blank_id="term")] + [ans(o[0], 0, blank_id="term") for o in others]
        rng.shuffle(options)
        return {"question_text": _p(f"The term for {meaning} is [term]."), "answers": options}

    if qtype == "calculated_question":
        k, c = rng.randint(2, 9), rng.randint(1, 20)
        x = rng.randint(1, 30)
        return {
            "question_text": _p(f"A culture grows by {k} cells per hour from {c} cells. "
                                f"How many cells after [x] hours?"),
            "answers": [{"id": next_id(), "text": "", "weight": 100,
                         "variables": [{"name": "x", "value": x}], "answer": k * x + c}],
            "variables": [{"name": "x", "min": 1, "max": 30, "scale": 0}],
            "formulas": [{"formula": f"{k}*x+{c}"}],
        }

    if qtype == "file_upload_question":
        return {"question_text": _p(f"Upload your lab report on <b>{concept}</b> (PDF)."),
                "answers": []}

    if qtype == "text_only_question":
        return {"question_text": _p(f"Read this passage about <b>{concept}</b>: {cap} is {meaning}; "
                                    f"{fact}."),
                "answers": []}

    raise ValueError(f"unknown question type {qtype!r}")
