"""New Quizzes shapes -> the shapes the service reads (pure): quizzes, items, the report.

Every sample is in a documented shape: Instructure's New Quizzes and New Quiz Items API pages
for quizzes and items, and for the report the shape real courses answer
(longhornadam/canvasexpert ``api/powergrader/new_quiz_fetch.py``; the CSV form from its
``docs/reference/new-quizzes-student-analysis-csv.md``), as summed up in
``/work/shared/NEW_QUIZZES.md``. ``test_the_documented_report_shape_field_by_field`` builds
its sample one field at a time from that document.
"""
from __future__ import annotations

import pytest

from knowgap.canvas import new_quiz_csv
from knowgap.canvas import new_quizzes as nq
from knowgap.canvas.quiz_sources import ReportOutcome, graded_launches, report_file_rows
from knowgap.canvas.results import NEW

QUIZ = {
    "id": "40002", "title": "Week 2 check", "instructions": "<p>Good luck</p>",
    "assignment_id": "40002", "points_possible": 9.0, "due_at": "2024-09-16T06:00:00-07:00",
    "published": True,
    "quiz_settings": {"multiple_attempts": {"multiple_attempts_enabled": True,
                                            "attempt_limit": True, "max_attempts": 3,
                                            "score_to_keep": "latest",
                                            "cooling_period_seconds": None}},
}
# Outer ids (what the product keys questions by) and entry ids (what the report names) differ.
CHOICE = {
    "id": "501", "position": 1, "points_possible": 2.0, "entry_type": "Item",
    "stimulus_quiz_entry_id": None, "status": "mutable",
    "entry": {"id": "9001", "title": "Q1", "item_body": "<p>What is <b>osmosis</b>?</p>",
              "interaction_type_slug": "choice",
              "interaction_data": {"choices": [
                  {"id": "c-b", "position": 2, "item_body": "<p>Loss of electrons</p>"},
                  {"id": "c-a", "position": 1, "item_body": "<p>Diffusion of water</p>"}]},
              "scoring_data": {"value": "c-a"}, "scoring_algorithm": "Equivalence",
              "answer_feedback": {}, "properties": {}},
}
MULTI = {
    "id": "502", "position": 2, "points_possible": 4.0, "entry_type": "Item",
    "entry": {"id": "9002", "title": "Q2", "item_body": "<p>Select all that apply</p>",
              "interaction_type_slug": "multi-answer",
              "interaction_data": {"choices": [      # camelCase, as some documented examples
                  {"id": "m1", "position": 1, "itemBody": "<p>It is passive</p>"},
                  {"id": "m2", "position": 2, "itemBody": "<p>It needs ATP</p>"},
                  {"id": "m3", "position": 3, "itemBody": "<p>Water moves, slowly</p>"}]},
              "scoring_data": {"value": ["m1", "m3"]}, "scoring_algorithm": "PartialScore"},
}
TRUE_FALSE = {
    "id": "503", "position": 3, "points_possible": 1.0, "entry_type": "Item",
    "entry": {"id": "9003", "title": "Q3", "item_body": "<p>Enzymes are catalysts.</p>",
              "interaction_type_slug": "true-false",
              "interaction_data": {"true_choice": "True", "false_choice": "False"},
              "scoring_data": {"value": True}},
}
ESSAY = {
    "id": "504", "position": 4, "points_possible": 3.0, "entry_type": "Item",
    "entry": {"id": "9004", "title": "Q4", "item_body": "<p>Explain.</p>",
              "interaction_type_slug": "essay", "interaction_data": {"rce": True},
              "scoring_data": {"value": ""}},
}
STIMULUS = {"id": "505", "position": 5, "points_possible": 0, "entry_type": "Stimulus",
            "entry": {"id": "9005", "title": "Passage", "body": "<p>Read this.</p>"}}
BANK_ENTRY = {  # a question reused from an item bank: the question is one level deeper
    "id": "506", "position": 6, "points_possible": 2.0, "entry_type": "BankEntry",
    "entry": {"id": "7706", "entry_type": "Item",
              "entry": {"id": "9006", "title": "Q6", "item_body": "<p>Which is a gas?</p>",
                        "interaction_type_slug": "choice",
                        "interaction_data": {"choices": [
                            {"id": "g1", "position": 1, "item_body": "<p>Oxygen</p>"},
                            {"id": "g2", "position": 2, "item_body": "<p>Iron</p>"}]},
                        "scoring_data": {"value": "g1"}}},
}
BANK = {"id": "507", "position": 7, "points_possible": 2.0, "entry_type": "Bank",
        "entry": {"id": "7707", "title": "Cell biology"}}
ALL = (CHOICE, MULTI, TRUE_FALSE, ESSAY, STIMULUS, BANK_ENTRY, BANK)


def items():
    return [nq.normalize_item(i, "nq-40002") for i in ALL]


def test_quiz_becomes_a_classic_like_quiz_with_a_prefixed_id():
    quiz = nq.normalize_quiz(QUIZ)
    assert quiz["id"] == "nq-40002" and quiz["assignment_id"] == "40002"
    assert nq.is_new_quiz_id(quiz["id"]) and nq.assignment_of(quiz["id"]) == "40002"
    assert (quiz["title"], quiz["points_possible"], quiz["published"]) == ("Week 2 check", 9.0, True)
    assert quiz["due_at"] == "2024-09-16T06:00:00-07:00"
    assert quiz["scoring_policy"] == "keep_latest" and quiz["allowed_attempts"] == 3
    assert quiz["source"] == NEW
    single = nq.normalize_quiz({"id": 7, "quiz_settings": {}})
    assert single["allowed_attempts"] == 1 and single["scoring_policy"] == "keep_highest"
    unlimited = nq.normalize_quiz({"id": 8, "quiz_settings": {"multiple_attempts": {
        "multiple_attempts_enabled": True, "attempt_limit": False, "score_to_keep": "first"}}})
    assert unlimited["allowed_attempts"] == -1 and unlimited["scoring_policy"] == "keep_first"


def test_items_keep_the_outer_id_and_know_their_entry_ids():
    choice, multi, tf, essay, stimulus, banked, bank = items()
    assert choice["id"] == "nq-501" and choice["entry_ids"] == ["9001"]
    assert choice["quiz_id"] == "nq-40002" and choice["points_possible"] == 2.0
    assert choice["question_type"] == "multiple_choice_question"
    assert choice["question_text"] == "<p>What is <b>osmosis</b>?</p>"
    assert choice["answers"] == [{"id": "c-a", "text": "Diffusion of water", "weight": 100},
                                 {"id": "c-b", "text": "Loss of electrons", "weight": 0}]
    assert [a["text"] for a in multi["answers"]] == ["It is passive", "It needs ATP",
                                                     "Water moves, slowly"]
    assert [a["weight"] for a in multi["answers"]] == [100, 0, 100]
    assert tf["answers"] == [{"id": "true", "text": "True", "weight": 100},
                             {"id": "false", "text": "False", "weight": 0}]
    assert essay["question_type"] == "essay_question" and essay["answers"] == []
    assert stimulus["question_type"] == "text_only_question"
    assert stimulus["question_text"] == "<p>Read this.</p>" and stimulus["points_possible"] == 0.0
    # a BankEntry is unwrapped: the question one level deeper, both ids known
    assert banked["id"] == "nq-506" and banked["entry_ids"] == ["7706", "9006"]
    assert banked["question_text"] == "<p>Which is a gas?</p>" and banked["points_possible"] == 2.0
    assert [a["id"] for a in banked["answers"]] == ["g1", "g2"]
    # a Bank is where questions are drawn at random: shown, never scored
    assert bank["question_type"] == "text_only_question" and bank["interaction_type"] == "bank"
    assert "Cell biology" in bank["question_text"] and bank["points_possible"] == 0.0
    assert {q["source"] for q in (choice, stimulus)} == {NEW}
    assert nq.has_entry_ids(items()) and not nq.has_entry_ids([{"id": "nq-1"}])


def attempt(student, number, responses, submitted="2024-09-10T13:00:00Z"):
    return {"student_data": {"id": student, "name": "Ava Chen", "sis_id": f"S{student}",
                             "submitted": submitted, "elapsed": "00:12:40", "attempt": number},
            "item_responses": responses}


def response(item_id, item_type, answer, score):
    return {"item_id": item_id, "item_type": item_type, "answer": answer, "score": score}


REPORT = [
    attempt(1001, 1, [
        response("9001", "choice", "Diffusion of water", 2.0),
        response("9002", "multi-answer", "It is passive, Water moves, slowly", 4.0),
        response("9003", "true-false", "False", 0.0),
        response("9004", "essay", "<p>Because\nwater moves.</p>", None),
        response("9006", "choice", "Oxygen", 2.0)]),
    attempt(1001, 2, [
        response("9001", "choice", "Loss of electrons", 0),
        response("9002", "multi-answer", "It is passive, It needs ATP", 1.0),
        response("4242", "choice", "drawn from the bank", 1)],
        submitted="2024-09-11 08:30:00 UTC"),
    attempt(1002, 1, [response("9004", "essay", "<p>Long essay</p>", 1.5)],
            submitted="2024-09-10T10:00:00-04:00"),
]


def by_key(parsed):
    return {(r.student_id, r.question_id, r.attempt): r for r in parsed.results}


def test_report_rows_become_results_joined_on_entry_ids():
    parsed = nq.parse_report(REPORT, "nq-40002", items())
    got = by_key(parsed)
    assert parsed.problems == [] and parsed.rows == 3 and parsed.students == {"1001", "1002"}
    assert len(parsed.results) == 9
    first = got[("1001", "nq-501", 1)]              # entry 9001 -> outer item 501
    assert (first.credit, first.correct, first.answer_ids) == (1.0, True, ("c-a",))
    assert first.points_possible == 2.0 and first.points == 2.0
    assert first.source == NEW and first.quiz_id == "nq-40002" and first.note is None
    assert first.graded_at == "2024-09-10T13:00:00Z"
    assert got[("1001", "nq-502", 1)].answer_ids == ("m1", "m3")   # comma inside a choice
    tf = got[("1001", "nq-503", 1)]
    assert (tf.credit, tf.correct, tf.answer_ids) == (0.0, False, ("false",)) and tf.is_wrong
    essay = got[("1001", "nq-504", 1)]                # not graded yet: not a 0
    assert essay.credit is None and essay.points is None and not essay.is_wrong
    assert got[("1001", "nq-506", 1)].answer_ids == ("g1",)       # BankEntry: inner entry id
    partial = got[("1001", "nq-502", 2)]      # points possible from the outer item
    assert partial.credit == 0.25 and partial.correct == "partial" and partial.is_wrong
    assert partial.answer_ids == ("m1", "m2") and partial.points_possible == 4.0
    assert got[("1001", "nq-501", 2)].answer_ids == ("c-b",)
    assert got[("1001", "nq-501", 2)].graded_at == "2024-09-11T08:30:00Z"
    drawn = got[("1001", "nq-item-4242", 2)]  # not in the item list: kept, with the reason
    assert parsed.outside == 1 and drawn.note == nq.OUTSIDE_NOTE
    assert drawn.points == 1.0 and drawn.points_possible is None and drawn.credit is None
    graded_essay = got[("1002", "nq-504", 1)]
    assert graded_essay.credit == 0.5 and graded_essay.graded_at == "2024-09-10T14:00:00Z"


def test_outer_ids_are_never_taken_for_entry_ids():
    """An entry id that happens to equal another item's outer id still names its own item."""
    confusing = [attempt(7, 1, [response("501", "choice", "x", 1.0)])]
    parsed = nq.parse_report(confusing, "nq-40002", items())
    [r] = parsed.results
    assert r.question_id == "nq-item-501" and parsed.outside == 1


def test_the_documented_report_shape_field_by_field():
    """One attempt built a field at a time from NEW_QUIZZES.md, "Results: the Reports API"
    (3.), joined to an item built from its "Items" section."""
    entry = {}
    entry["id"] = "e-77"                                  # ENTRY id: differs from the outer id
    entry["title"] = "Photosynthesis"
    entry["item_body"] = "<p>Where does photosynthesis happen?</p>"
    entry["interaction_type_slug"] = "choice"
    entry["interaction_data"] = {"choices": [              # choices[{id (uuid), position,
        {"id": "5f0c…-a", "position": 1, "item_body": "<p>Chloroplast</p>"},   # item_body}]
        {"id": "5f0c…-b", "position": 2, "item_body": "<p>Nucleus</p>"}]}
    entry["scoring_data"] = {"value": "5f0c…-a"}           # the correct choice's uuid
    entry["scoring_algorithm"] = "Equivalence"
    entry["answer_feedback"] = {}
    entry["properties"] = {}
    item = {}
    item["id"] = "35"                                     # OUTER id (string)
    item["position"] = 1
    item["points_possible"] = 3.0                         # points live on the outer record only
    item["entry_type"] = "Item"
    item["stimulus_quiz_entry_id"] = None
    item["status"] = "mutable"
    item["entry"] = entry

    student_data = {}
    student_data["id"] = 2044                             # Canvas user id
    student_data["name"] = "Sam Student"
    student_data["sis_id"] = "S-2044"
    student_data["submitted"] = "2025-03-04T17:05:00Z"    # UTC ISO
    student_data["elapsed"] = "00:41:09"                  # HH:MM:SS
    student_data["attempt"] = 2
    answer = {}
    answer["item_id"] = "e-77"                            # the ENTRY id, not the outer id
    answer["item_type"] = "choice"                        # the interaction slug
    answer["answer"] = "Chloroplast"                      # the chosen option's TEXT
    answer["score"] = 3.0                                 # points earned
    row = {}
    row["student_data"] = student_data
    row["item_responses"] = [answer]
    report = [row]                                        # a list, one row per attempt

    parsed = nq.parse_report(report, "nq-40009", [nq.normalize_item(item, "nq-40009")])
    [r] = parsed.results
    assert (r.quiz_id, r.question_id, r.student_id, r.attempt) == ("nq-40009", "nq-35", "2044", 2)
    assert (r.points, r.points_possible, r.credit, r.correct) == (3.0, 3.0, 1.0, True)
    assert r.answer_ids == ("5f0c…-a",) and r.graded_at == "2025-03-04T17:05:00Z"
    assert parsed.problems == [] and parsed.outside == 0


@pytest.mark.parametrize("status", ["NotGraded", "pending_review", "Needs Grading"])
def test_a_status_that_says_not_graded_wins_over_a_zero(status):
    rows = [attempt(7, 1, [{**response("9004", "essay", "<p>x</p>", 0), "status": status}])]
    [r] = nq.parse_report(rows, "nq-40002", items()).results
    assert r.credit is None and r.points is None
    graded = [attempt(7, 1, [{**response("9004", "essay", "<p>x</p>", 0), "status": "Graded"}])]
    [r] = nq.parse_report(graded, "nq-40002", items()).results
    assert r.credit == 0.0 and r.correct is False


def test_answers_as_a_list_and_as_visible_text():
    rows = [attempt(7, 1, [response("9002", "multi-answer", ["It needs ATP", "<p>Water moves, "
                                                              "slowly</p>"], 0.0)])]
    [r] = nq.parse_report(rows, "nq-40002", items()).results
    assert r.answer_ids == ("m2", "m3")
    entity = {"id": "601", "position": 1, "points_possible": 1.0, "entry_type": "Item",
              "entry": {"id": "x601", "item_body": "<p>Pick</p>",
                        "interaction_type_slug": "choice",
                        "interaction_data": {"choices": [
                            {"id": "x", "position": 1, "item_body": "<p>Salt &amp; water</p>"},
                            {"id": "y", "position": 2, "item_body": "<p>Oil</p>"}]},
                        "scoring_data": {"value": "x"}}}
    question = nq.normalize_item(entity, "nq-1")
    assert question["answers"][0]["text"] == "Salt & water"
    [r] = nq.parse_report([attempt(7, 1, [response("x601", "choice", "SALT & WATER", 1)])],
                          "nq-1", [question]).results
    assert r.answer_ids == ("x",)


def test_what_cannot_be_read_is_said_not_dropped():
    rows = [
        {"name": "old guessed shape", "id": 1003, "attempt": 1, "item_responses": []},
        attempt("abc", 1, []),
        {"student_data": {"id": 1005, "attempt": 1}, "item_responses": "x"},
        attempt(1006, 1, [{"answer": "no id", "score": 1}]),
        attempt(1007, 1, [response("9001", "choice", "Oil", "lots")]),
        attempt(1008, 1, [response("9001", "choice", "Diffusion of water", 2)]),
    ]
    parsed = nq.parse_report(rows, "nq-40002", items())
    assert len(parsed.problems) == 5 and parsed.rows == 6
    assert "row 1" in parsed.problems[0] and "unreadable score" in parsed.problems[4]
    assert [r.student_id for r in parsed.results] == ["1008"]
    with pytest.raises(ValueError):
        nq.report_rows({"student_analysis": []})      # not the real shape: not a report


def test_stimuli_are_not_results():
    rows = [attempt(7, 1, [response("9005", "stimulus", None, None)])]
    parsed = nq.parse_report(rows, "nq-40002", items())
    assert parsed.results == [] and parsed.problems == [] and parsed.outside == 0


# ------------------------------------------------------------------ the CSV form

HEADER = (["Name", "ID", "SISID", "SectionIDs", "SectionNames", "SectionSISIDs", "Submitted",
           "ElapsedTime", "Attempt"]
          + ["ItemID", "ItemType", "What is osmosis?", "EarnedPoints", "Status"]
          + ["ItemID", "ItemType", "Select all that apply", "EarnedPoints", "Status"]
          + ["ItemID", "ItemType", "Explain.", "EarnedPoints", "Status"]
          + ["NumberOfCorrect", "NumberOfIncorrect", "NoResponse", "PointsPossible",
             "OverallScore"])


def csv_text(*rows, header=HEADER):
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for r in rows:
        writer.writerow(r)
    return out.getvalue()


def csv_row(student=1001, attempt_no="1", essay_points="", essay_status="NotGraded",
            multi="It is passive, Water moves, slowly"):
    return ["Ava Chen", str(student), "S1001", "3011", "BIO", "BIO-1", "2024-09-10 13:00:00 UTC",
            "25:23:18", attempt_no,
            "9001", "choice", "Diffusion of water", "2.0", "Graded",
            "9002", "multi-answer", multi, "4", "Graded",
            "9004", "essay", '<p>Line one,\n"quoted" line two</p>', essay_points, essay_status,
            "2", "0", "0", "9", "6"]


def test_csv_rows_read_like_the_json_report():
    report = new_quiz_csv.read(("\ufeff" + csv_text(csv_row(), csv_row(1002, "2", "1.5",
                                                                        "Graded"))).encode())
    assert report.items == 3 and report.item_ids == {"9001", "9002", "9004"}
    first = report.rows[0]
    assert first["student_data"] == {"id": 1001, "name": "Ava Chen", "sis_id": "S1001",
                                     "submitted": "2024-09-10 13:00:00 UTC",
                                     "elapsed": "25:23:18", "attempt": 1}
    assert first["item_responses"][2]["answer"] == '<p>Line one,\n"quoted" line two</p>'
    parsed = nq.parse_report(report.rows, "nq-40002", items())
    got = by_key(parsed)
    assert parsed.problems == [] and len(parsed.results) == 6
    assert got[("1001", "nq-502", 1)].answer_ids == ("m1", "m3")
    assert got[("1001", "nq-504", 1)].credit is None            # NotGraded, no points
    assert got[("1002", "nq-504", 2)].credit == 0.5
    assert got[("1001", "nq-501", 1)].graded_at == "2024-09-10T13:00:00Z"
    # what a spreadsheet makes of repeated names (ItemID.1 …) is still the layout
    suffixed = [h if i < 9 or h not in ("ItemID", "ItemType", "EarnedPoints", "Status")
                else f"{h}.{(i - 9) // 5}" for i, h in enumerate(HEADER)]
    assert len(new_quiz_csv.read(csv_text(csv_row(), header=suffixed)).rows) == 1


@pytest.mark.parametrize("make, row, column, words", [
    (lambda: csv_text(["Ava", "1001", "S1", "BIO", "3011", "B1", "2024-09-10", "1", "x", "1",
                       "1", "0", "1"],
                      header=["name", "id", "sis_id", "section", "section_id", "section_sis_id",
                              "submitted", "attempt", "1: What is osmosis?", "1.0",
                              "n correct", "n incorrect", "score"]), 1, None, "Classic Quizzes"),
    (lambda: csv_text(csv_row(), header=HEADER[:-1]), 1, None, "each item takes 5"),
    (lambda: csv_text(csv_row(), header=HEADER[:9] + ["Item"] + HEADER[10:]), 1, 10, "ItemID"),
    (lambda: csv_text(csv_row(), csv_row()[:-1]), 3, None, "columns"),
    (lambda: csv_text(csv_row(student="Ava")), 2, 2, "Canvas user id"),
    (lambda: csv_text(csv_row(attempt_no="0")), 2, 9, "attempt"),
    (lambda: csv_text(csv_row(essay_points="ten", essay_status="Graded")), 2, 23, "points"),
    (lambda: csv_text(), 2, None, "no student rows"),
    (lambda: "", None, None, "empty"),
    (lambda: csv_text(csv_row()).encode("utf-16"), None, None, "UTF-8"),
])
def test_csv_errors_name_the_row_and_column(make, row, column, words):
    with pytest.raises(new_quiz_csv.CsvReportError) as caught:
        new_quiz_csv.read(make())
    err = caught.value
    assert (err.row, err.column) == (row, column) and words in err.message
    if column is not None:
        assert f"column {column}" in err.message and err.header


def test_report_files_are_told_apart_by_content():
    rows, form = report_file_rows(b'\xef\xbb\xbf [{"student_data": {"id": 1, "attempt": 1}, '
                                  b'"item_responses": []}]')
    assert form == "json" and rows[0]["student_data"]["id"] == 1
    rows, form = report_file_rows(csv_text(csv_row()).encode())
    assert form == "csv" and rows[0]["student_data"]["id"] == 1001


# ------------------------------------------------------------------ judging a report

def launch(student, assignment="40002", state="graded", kind="basic_lti_launch"):
    return {"user_id": student, "assignment_id": int(assignment), "workflow_state": state,
            "submission_type": kind}


def test_a_report_missing_graded_students_is_refused_with_its_counts():
    subs = [launch(1001), launch(1002), launch(1003), launch(1004, state="pending_review"),
            launch(1005, state="unsubmitted", kind=None), launch(1006, assignment="40003"),
            {**launch(1007), "excused": True}]
    assert graded_launches(subs, "40002") == {"1001", "1002", "1003", "1004"}
    outcome = ReportOutcome(rows={"nq-40002": REPORT}).judge({"nq-40002": items()}, subs)
    assert outcome.results == {}
    assert outcome.incomplete["nq-40002"] == ("Canvas' report has rows for 2 of the 4 students "
                                              "with a graded submission (2 missing).")
    assert outcome.states()["nq-40002"]["state"] == "incomplete"
    assert outcome.pending_entries() == [{"quiz_id": "nq-40002", "progress_url": None}]
    [note] = outcome.notes({"nq-40002": "Week 2 check"})
    assert "'Week 2 check'" in note and "2 of the 4" in note and "earlier results are kept" in note

    whole = ReportOutcome(rows={"nq-40002": REPORT}).judge({"nq-40002": items()}, subs[:2])
    assert len(whole.results["nq-40002"]) == 9 and whole.outside == {"nq-40002": 1}
    assert whole.pending_entries() == [] and whole.states()["nq-40002"]["state"] == "read"


def test_a_report_that_matches_no_listed_item_or_has_unreadable_rows_is_refused():
    old_ids = [attempt(1001, 1, [response("501", "choice", "Diffusion of water", 2.0)])]
    outcome = ReportOutcome(rows={"nq-40002": old_ids}).judge({"nq-40002": items()}, [])
    assert "none of the items" in outcome.incomplete["nq-40002"] and not outcome.results
    broken = REPORT + [{"student_data": {"attempt": 1}, "item_responses": []}]
    outcome = ReportOutcome(rows={"nq-40002": broken}).judge({"nq-40002": items()}, [])
    assert "could not be read" in outcome.incomplete["nq-40002"]


def test_restricted_and_failed_quizzes_are_asked_again_and_explained():
    outcome = ReportOutcome(restricted={"nq-1": "Canvas refused it (HTTP 403)."},
                            failed={"nq-2": "Canvas could not generate the report."},
                            pending={"nq-3": "https://canvas.example.edu/api/v1/progress/9"})
    assert outcome.pending_entries() == [
        {"quiz_id": "nq-1", "progress_url": None}, {"quiz_id": "nq-2", "progress_url": None},
        {"quiz_id": "nq-3", "progress_url": "https://canvas.example.edu/api/v1/progress/9"}]
    assert {q: s["state"] for q, s in outcome.states().items()} == {
        "nq-1": "restricted", "nq-2": "failed", "nq-3": "pending"}
    notes = outcome.notes({"nq-1": "Final exam"})
    assert any("'Final exam'" in n and "Student Analysis CSV" in n for n in notes)
