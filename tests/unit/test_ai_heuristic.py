import pytest

from achieveup.ai.heuristic import (
    STOP_WORDS,
    complexity,
    rank_skills,
    stem,
    suggest_course_skills,
    suggest_skills_for_question,
    terms,
    tokenize,
)

SKILLS = ["Recursion", "Data Structures", "Sorting Algorithms", "Hash Tables", "Python Functions", "Python Loops"]


def test_tokenize_strips_html_and_keeps_stop_words():
    assert tokenize("<p>What is a <b>C++</b> class?</p>") == ["what", "is", "a", "c++", "class"]
    assert tokenize(None) == []
    assert "the" in STOP_WORDS and "the" not in terms("the stack")


@pytest.mark.parametrize(
    "a, b",
    [("recursion", "recursive"), ("structures", "structure"), ("programming", "programs"),
     ("classes", "class"), ("tables", "table"), ("computing", "computation"), ("queries", "query")],
)
def test_stem_conflates_variants(a, b):
    assert stem(a) == stem(b)


def test_stem_keeps_short_and_special_words():
    assert stem("is") == "is"
    assert stem("status") == "status"
    assert stem("c++") == "c++"


def test_rank_skills_finds_the_obvious_match():
    ranked = rank_skills("<p>What is the base case of a recursive function?</p>", SKILLS)
    assert ranked[0] == ("Recursion", 1.0)
    assert all(0 < s <= 1 for _, s in ranked)
    assert [s for s in ranked] == sorted(ranked, key=lambda x: -x[1])


def test_idf_downweights_words_shared_by_many_skills():
    ranked = dict(rank_skills("Write a for loop in Python that prints 1 to 10", SKILLS))
    assert ranked["Python Loops"] == 1.0
    assert ranked["Python Functions"] < 0.5


def test_rank_skills_never_empty_and_deterministic():
    ranked = rank_skills("Who wrote Hamlet?", SKILLS)
    assert ranked
    assert ranked == rank_skills("Who wrote Hamlet?", SKILLS)
    nothing = rank_skills("", SKILLS)
    assert nothing == [("Recursion", 0.0), ("Data Structures", 0.0), ("Sorting Algorithms", 0.0)]
    assert rank_skills("anything", []) == []
    assert rank_skills("anything", ["", None, "  "]) == []


def test_course_description_is_a_weak_prior():
    no_signal = rank_skills("Who wrote Hamlet?", SKILLS, course_description="A course about hash tables")
    assert no_signal[0][0] == "Hash Tables"
    assert no_signal[0][1] == pytest.approx(0.15)
    # a real question match still wins over the prior
    strong = rank_skills("Sort this list with quicksort: which sorting algorithm is stable?", SKILLS,
                         course_description="A course about hash tables")
    assert strong[0][0] == "Sorting Algorithms"


def test_suggest_skills_only_from_given_skills_and_never_empty():
    skills = ["Hash Tables", "hash tables", "Recursion"]
    out = suggest_skills_for_question("How are collisions resolved in a hash table?", skills)
    assert out == ["Hash Tables"]
    assert suggest_skills_for_question("zzz", SKILLS) == ["Recursion"]
    assert suggest_skills_for_question("x", []) == []
    many = suggest_skills_for_question("Use recursion in a Python function to sort a data structure", SKILLS, limit=2)
    assert len(many) == 2 and set(many) <= set(SKILLS)
    assert suggest_skills_for_question("anything", SKILLS, limit=0)  # limit < 1 still answers


@pytest.mark.parametrize(
    "text, qtype, points, level",
    [
        ("Define a stack.", "multiple_choice_question", 1, "low"),
        ("True or false: a queue is FIFO.", "true_false_question", None, "low"),
        ("Explain why quicksort is faster than bubble sort on average.", "short_answer_question", 5, "medium"),
        ("Calculate the mean of 2, 4 and 9.", "numerical", None, "medium"),
        ("Design and justify an algorithm that detects cycles in a directed graph. Analyze its running "
         "time and evaluate alternatives, discussing trade-offs in memory and speed for large sparse graphs "
         "in realistic production workloads with many nodes and edges.", "essay_question", 20, "high"),
        ("Analyze the causes of the French Revolution and evaluate which mattered most.", "essay_question", None, "high"),
    ],
)
def test_complexity_levels(text, qtype, points, level):
    got, confidence = complexity(text, qtype, points)
    assert got == level
    assert 0.3 <= confidence <= 0.9


def test_complexity_confidence_reflects_agreement():
    _, agree = complexity("Define a stack.", "multiple_choice_question", 1)
    _, mixed = complexity("Evaluate this.", "true_false_question", 1)
    assert agree > mixed
    assert complexity("", None, None)[0] == "low"
    assert complexity("Why?", "unknown_type", "lots")[0] in ("low", "medium", "high")


def test_suggest_course_skills_from_description():
    out = suggest_course_skills(
        "COP 3502C - Computer Science I",
        "COP3502C",
        "<p>This course introduces students to fundamental data structures and algorithms. Topics include "
        "recursion, linked lists, stacks, queues, binary trees, hash tables, sorting algorithms and algorithm "
        "analysis using Big-O notation. Students will use the C programming language.</p>",
    )
    names = [o["skill"] for o in out]
    assert 5 <= len(out) <= 10
    for expected in ("Linked Lists", "Hash Tables", "Recursion", "Big-O Notation", "Data Structures"):
        assert expected in names
    assert "COP" not in " ".join(names) and "Students" not in names
    assert len({n.lower() for n in names}) == len(names)
    rel = [o["relevance"] for o in out]
    assert rel == sorted(rel, reverse=True) and all(0 <= r <= 1 for r in rel)
    assert all(set(o) == {"skill", "description", "relevance"} and o["description"] for o in out)


def test_suggest_course_skills_never_empty():
    short = suggest_course_skills("Introduction to Psychology", "PSY2012", None)
    assert 5 <= len(short) <= 10
    assert short[0]["skill"] == "Psychology"
    assert any("Psychology" in o["skill"] for o in short[1:])
    empty = suggest_course_skills("", "", "")
    assert len(empty) == 5 and empty[0]["skill"] == "Critical Thinking"
    assert suggest_course_skills(None, None, None)


def test_suggest_course_skills_keeps_acronyms_and_is_deterministic():
    args = ("Database Systems", "COP4710", "Relational design, SQL queries, normalization and transactions.")
    out = suggest_course_skills(*args)
    assert "SQL Queries" in [o["skill"] for o in out]
    assert out == suggest_course_skills(*args)
