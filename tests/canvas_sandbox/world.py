"""Deterministic generator of a fake Canvas world: users, courses, quizzes, questions, work.

Why: the backend's sync, mastery and badge code must be exercised against data that looks like
Canvas (HTML question text, every classic question type, partial credit, ungraded essays,
several attempts with ``keep_highest``/``keep_latest``, question banks reusing text) and that is
identical from run to run.  Everything derives from ``seed``: structure comes from one seeded
``random.Random``; a student's answer to a question comes from a stateless hash of
``(seed, student, question, attempt)``, so it does not depend on generation order or course size.

Build a world::

    world = build_world(courses=[CourseSpec(101, "Intro Biology", "BIO-101", 30, 4, 10)], seed=0)
    world = build_world()            # DEFAULT_COURSES (course 101 and 102)

Users, ids and tokens (``world.tokens`` maps token -> user id):

=====  ============================  ==========================  ==================================
id     who                           token                       enrollments
=====  ============================  ==========================  ==================================
1      Teacher (``teacher_id``)      ``teacher-token``           TeacherEnrollment in every spec course
2      Other teacher                 ``other-teacher-token``     TeacherEnrollment only in
       (``other_teacher_id``)                                    ``other_course_id`` (999 by default)
3      TA (``ta_id``)                ``ta-token``                TaEnrollment in every spec course
4      Dual-role instructor          ``dual-role-token``         TeacherEnrollment in the first spec
       (``dual_role_id``)                                        course, StudentEnrollment in course 999
5      Designer (``designer_id``)    ``designer-token``          DesignerEnrollment in the first course
1001+  students                      ``student-token-<id>``      StudentEnrollment, teacher nowhere
=====  ============================  ==========================  ==================================

Students get consecutive ids from 1001, course by course (``world.student_ids(course_id)``).
``world.plain_student_id`` (the first student of the first course) is also a student in course
999, so one student spans two courses.  Course 999 ("other course", id bumped if a spec uses it)
has 2 quizzes x 5 questions and 3 students: the plain student, the dual-role instructor and one
fresh student.

Other id spaces: quizzes from 20001, assignments from 40001, questions from 100001, answers
from 1000001, assessment (bank) questions from 300001, submissions from 5000001, quiz
submissions from 6000001, enrollments from 9000001.  Base-role ids: Student 3, Teacher 4, Ta 5,
Designer 6.

Timestamps are seconds since the epoch (UTC) in the model and ISO-8601 ``...Z`` in the API.
``add_attempt`` appends a newly graded attempt with a later ``graded_at`` so incremental sync
(``graded_since``) can be tested; it is guarded by ``world.lock`` because the server reads the
world from another thread.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterable

from .content import (FILLER_TYPES, NO_SCORE_TYPES, QUESTION_TYPES, UNGRADED_TYPES,
                      build_question_body)

TEACHER_TOKEN = "teacher-token"
OTHER_TEACHER_TOKEN = "other-teacher-token"
TA_TOKEN = "ta-token"
DUAL_ROLE_TOKEN = "dual-role-token"
DESIGNER_TOKEN = "designer-token"

ROLE_IDS = {"StudentEnrollment": 3, "TeacherEnrollment": 4, "TaEnrollment": 5,
            "DesignerEnrollment": 6}
# Canvas's /courses "enrollments" entries use the short lower-case type.
SHORT_TYPE = {"StudentEnrollment": "student", "TeacherEnrollment": "teacher",
              "TaEnrollment": "ta", "DesignerEnrollment": "designer"}

BASE_TS = int(datetime(2024, 9, 2, 13, 0, tzinfo=timezone.utc).timestamp())
DAY = 86400
TERM_NAMES = {1: "Fall 2024", 2: "Spring 2025", 3: "Summer 2025"}


def student_token(user_id: int) -> str:
    return f"student-token-{user_id}"


def iso(ts: int | float | None) -> str | None:
    """Canvas timestamp format: ``2024-09-02T13:00:00Z``."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _u(*keys: int) -> float:
    """Stateless uniform [0, 1) from integer keys (splitmix64 finaliser over a key mix)."""
    x = 0x9E3779B97F4A7C15
    for k in keys:
        x = ((x ^ (k & 0xFFFFFFFFFFFFFFFF)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
        x ^= x >> 31
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    x ^= x >> 31
    return (x >> 11) * (1.0 / (1 << 53))


def letter_grade(score: float | None) -> str | None:
    if score is None:
        return None
    for cut, letter in ((93, "A"), (90, "A-"), (87, "B+"), (83, "B"), (80, "B-"), (77, "C+"),
                        (73, "C"), (70, "C-"), (67, "D+"), (63, "D"), (60, "D-")):
        if score >= cut:
            return letter
    return "F"


# --------------------------------------------------------------------------- model


@dataclass(frozen=True)
class CourseSpec:
    """What to generate for one course.

    ``duplicate_bank_ratio``: fraction of the course's questions (outside its first quiz) that
    reuse the exact text, type and answers of a question from an earlier quiz, as when quizzes
    draw from a question bank; both share ``assessment_question_id``.
    ``attempts``: every submitting student makes exactly this many attempts per quiz.
    ``missing_ratio``: fraction of (student, quiz) pairs with no submission at all (extra knob;
    Canvas then reports an ``unsubmitted`` assignment submission).
    ``engine``: which quiz engine serves the course's quizzes: ``"classic"`` (all Classic
    Quizzes), ``"new"`` (all New Quizzes) or ``"mixed"`` (every second quiz is a New Quiz).
    The engine decides only which API serves a quiz: questions, students and answers are the
    same, so two worlds that differ only in engines hold the same work.
    ``bank_draws``: in every quiz, this many of the last auto-graded questions are drawn at
    random from an item bank (``Question.bank_drawn``): a New Quiz does not list them (one
    ``Bank`` item stands for them) and reports them under their own ids; a Classic Quiz
    lists them as usual. They are given the same points, as a bank's draws are.
    """

    course_id: int
    name: str
    code: str
    n_students: int
    n_quizzes: int
    n_questions_per_quiz: int
    duplicate_bank_ratio: float = 0.0
    attempts: int = 1
    term_id: int = 1
    missing_ratio: float = 0.0
    engine: str = "classic"
    bank_draws: int = 0

    def engine_of(self, quiz_index: int) -> str:
        if self.engine == "mixed":
            return "new" if quiz_index % 2 == 1 else "classic"
        return self.engine


DEFAULT_COURSES = (
    CourseSpec(101, "Introduction to Biology", "BIO-101", n_students=30, n_quizzes=4,
               n_questions_per_quiz=10),
    CourseSpec(102, "General Chemistry", "CHEM-110", n_students=12, n_quizzes=3,
               n_questions_per_quiz=8, duplicate_bank_ratio=0.25, attempts=2, term_id=2),
)


@dataclass
class User:
    id: int
    name: str
    sortable_name: str
    short_name: str
    login_id: str
    email: str

    def to_api(self) -> dict:
        return {"id": self.id, "name": self.name, "sortable_name": self.sortable_name,
                "short_name": self.short_name, "login_id": self.login_id,
                "primary_email": self.email,
                "avatar_url": f"https://canvas.example.edu/images/thumbnails/{self.id}/avatar.png",
                "created_at": iso(BASE_TS - 90 * DAY), "locale": None, "time_zone": "UTC"}


@dataclass
class Course:
    id: int
    name: str
    course_code: str
    enrollment_term_id: int
    syllabus_body: str
    workflow_state: str = "available"


@dataclass
class Enrollment:
    id: int
    user_id: int
    course_id: int
    type: str                      # "StudentEnrollment" | "TeacherEnrollment" | ...
    enrollment_state: str = "active"
    grades: dict | None = None     # students only

    @property
    def role(self) -> str:
        return self.type

    @property
    def role_id(self) -> int:
        return ROLE_IDS[self.type]


@dataclass
class Quiz:
    id: int
    course_id: int
    assignment_id: int
    title: str
    position: int
    points_possible: float
    question_count: int
    scoring_policy: str            # "keep_highest" | "keep_latest"
    allowed_attempts: int          # -1 = unlimited
    unlock_at: int
    due_at: int
    published: bool = True
    engine: str = "classic"            # "classic" | "new" (served by the New Quizzes API)
    lock_at: int | None = None         # availability ends (None: never)
    show_correct_answers: bool = True  # what students may see of their results
    hide_results: str | None = None    # None | "always" | "until_after_last_attempt"


@dataclass
class Question:
    id: int
    quiz_id: int
    position: int
    question_name: str
    question_type: str
    question_text: str
    points_possible: float
    answers: list[dict]
    assessment_question_id: int
    difficulty: float
    extras: dict = field(default_factory=dict)   # matches / variables / formulas
    bank_drawn: bool = False                     # see CourseSpec.bank_draws

    def to_api(self) -> dict:
        d = {"id": self.id, "quiz_id": self.quiz_id, "quiz_group_id": None,
             "assessment_question_id": self.assessment_question_id, "position": self.position,
             "question_name": self.question_name, "question_type": self.question_type,
             "question_text": self.question_text, "points_possible": self.points_possible,
             "correct_comments": "", "incorrect_comments": "", "neutral_comments": "",
             "answers": self.answers}
        d.update(self.extras)
        return d


@dataclass
class Attempt:
    attempt: int
    score: float
    started_at: int
    submitted_at: int
    graded_at: int
    submission_data: list[dict]


@dataclass
class QuizWork:
    """One student's work on one quiz: the assignment submission plus its attempts."""

    course_id: int
    quiz_id: int
    assignment_id: int
    user_id: int
    submission_id: int
    quiz_submission_id: int
    attempts: list[Attempt]

    @property
    def latest(self) -> Attempt | None:
        return self.attempts[-1] if self.attempts else None

    def kept_score(self, scoring_policy: str) -> float | None:
        if not self.attempts:
            return None
        if scoring_policy == "keep_highest":
            return max(a.score for a in self.attempts)
        return self.attempts[-1].score


# --------------------------------------------------------------------------- answering


def _answer(q: Question, p_correct: float, u1: float, u2: float, u3: float) -> dict:
    """submission_data entry for one question; u1..u3 are the deterministic draws."""
    qt, pp, qid = q.question_type, q.points_possible, q.id
    entry: dict = {"question_id": qid, "correct": False, "points": 0.0, "answer_id": None,
                   "text": ""}
    if qt in NO_SCORE_TYPES:
        entry["correct"] = "no_score"
        return entry
    if qt == "essay_question":
        entry.update(correct="undefined",
                     text="<p>In my own words: " + ("a clear, complete explanation." if u1 < p_correct
                                                    else "I am not sure.") + "</p>")
        return entry
    if qt == "file_upload_question":
        entry.update(correct="undefined", attachment_ids=[str(700000 + qid)])
        return entry

    ok = u1 < p_correct
    answers = q.answers
    right = [a for a in answers if a["weight"] == 100]
    wrong = [a for a in answers if a["weight"] != 100]

    if qt in ("multiple_choice_question", "true_false_question"):
        pick = right[0] if ok or not wrong else wrong[int(u2 * len(wrong))]
        entry["answer_id"] = pick["id"]
    elif qt == "short_answer_question":
        if ok:
            entry.update(answer_id=right[0]["id"], text=right[0]["text"])
        else:
            entry["text"] = ("dunno", "membrane", "energy", "cell")[int(u2 * 4)]
    elif qt in ("numerical_question", "calculated_question"):
        value = right[0].get("exact", right[0].get("answer"))
        if ok:
            entry.update(answer_id=right[0]["id"], text=str(value))
        else:
            entry["text"] = str(value + 1 + int(u2 * 5))
    elif qt == "multiple_answers_question":
        # Canvas: points = pp * max(0, right_picked - wrong_picked) / n_right.
        if ok:
            chosen = {a["id"] for a in right}
        elif u3 < 0.5:
            chosen = {right[int(u2 * len(right))]["id"]}          # half right -> partial
        else:
            chosen = {a["id"] for a in wrong}
        for a in answers:
            entry[f"answer_{a['id']}"] = "1" if a["id"] in chosen else "0"
        good = sum(1 for a in right if a["id"] in chosen) - sum(1 for a in wrong if a["id"] in chosen)
        return _score_parts(entry, pp, max(0, good), len(right))
    elif qt == "matching_question":
        n = len(answers)
        n_ok = n if ok else (int(u2 * (n - 1)) if u3 < 0.6 else 0)
        match_ids = [a["match_id"] for a in answers]
        for j, a in enumerate(answers):
            entry[f"answer_{a['id']}"] = str(a["match_id"] if j < n_ok else match_ids[(j + 1) % n])
        return _score_parts(entry, pp, n_ok, n)
    elif qt in ("fill_in_multiple_blanks_question", "multiple_dropdowns_question"):
        blanks: dict[str, list[dict]] = {}
        for a in answers:
            blanks.setdefault(a["blank_id"], []).append(a)
        n = len(blanks)
        n_ok = n if ok else (int(u2 * n) if u3 < 0.6 else 0)
        for j, (blank, opts) in enumerate(blanks.items()):
            good = next(a for a in opts if a["weight"] == 100)
            bad = next((a for a in opts if a["weight"] != 100), None)
            if j < n_ok:
                entry[f"answer_for_{blank}"] = good["text"] if qt.startswith("fill") else good["id"]
                entry[f"answer_id_for_{blank}"] = good["id"]
            elif bad is not None:
                entry[f"answer_for_{blank}"] = bad["id"]
                entry[f"answer_id_for_{blank}"] = bad["id"]
            else:
                entry[f"answer_for_{blank}"] = "no idea"
                entry[f"answer_id_for_{blank}"] = None
        return _score_parts(entry, pp, n_ok, n)
    else:  # pragma: no cover - every type is handled above
        raise ValueError(qt)

    if ok:
        entry.update(correct=True, points=float(pp))
    return entry


def _score_parts(entry: dict, pp: float, n_ok: int, n: int) -> dict:
    if n_ok >= n:
        entry.update(correct=True, points=float(pp))
    elif n_ok > 0:
        entry.update(correct="partial", points=round(pp * n_ok / n, 2))
    return entry


# --------------------------------------------------------------------------- world


@dataclass(eq=False)
class World:
    """All generated data plus indexes.  Compare worlds with ``==`` (data only)."""

    seed: int
    users: dict[int, User] = field(default_factory=dict)
    courses: dict[int, Course] = field(default_factory=dict)
    enrollments: list[Enrollment] = field(default_factory=list)
    quizzes: dict[int, Quiz] = field(default_factory=dict)
    questions: dict[int, list[Question]] = field(default_factory=dict)   # quiz_id -> questions
    work: dict[tuple[int, int], QuizWork] = field(default_factory=dict)  # (quiz_id, user) -> work
    tokens: dict[str, int] = field(default_factory=dict)
    specs: dict[int, CourseSpec] = field(default_factory=dict)
    teacher_id: int = 1
    other_teacher_id: int = 2
    ta_id: int = 3
    dual_role_id: int = 4
    designer_id: int = 5
    plain_student_id: int | None = None
    other_course_id: int = 999
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    version: int = field(default=0, repr=False)      # bumped by every mutation (cache key)
    touched: int = field(default=0, repr=False)      # bumped by touch(): rebuild every cache
    _next_ids: dict[str, int] = field(default_factory=dict, repr=False)

    # ---- comparison: data only (not the lock)
    def _data(self) -> tuple:
        return (self.seed, self.users, self.courses, self.enrollments, self.quizzes,
                self.questions, self.work, self.tokens)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, World) and self._data() == other._data()

    __hash__ = None  # mutable

    # ---- ids
    def next_id(self, space: str) -> int:
        n = self._next_ids[space]
        self._next_ids[space] = n + 1
        return n

    # ---- queries (cheap enough for a test server; indexes built lazily)
    def enrollments_in(self, course_id: int) -> list[Enrollment]:
        return [e for e in self.enrollments if e.course_id == course_id]

    def enrollments_of(self, user_id: int) -> list[Enrollment]:
        return [e for e in self.enrollments if e.user_id == user_id]

    def roles(self, course_id: int, user_id: int) -> set[str]:
        """Enrollment types ("TeacherEnrollment", ...) of ``user_id`` in ``course_id``."""
        return {e.type for e in self.enrollments
                if e.course_id == course_id and e.user_id == user_id and e.enrollment_state == "active"}

    def student_ids(self, course_id: int) -> list[int]:
        return [e.user_id for e in self.enrollments
                if e.course_id == course_id and e.type == "StudentEnrollment"]

    def course_quizzes(self, course_id: int, engine: str | None = None) -> list[Quiz]:
        """The course's quizzes in position order (of one ``engine`` when given)."""
        return sorted((q for q in self.quizzes.values() if q.course_id == course_id
                       and (engine is None or q.engine == engine)), key=lambda q: q.position)

    def quiz_by_assignment(self, assignment_id: int) -> Quiz | None:
        return next((q for q in self.quizzes.values() if q.assignment_id == assignment_id), None)

    def token_for(self, user_id: int) -> str:
        return next(t for t, uid in self.tokens.items() if uid == user_id)

    def latest_graded_ts(self) -> int:
        return max((a.graded_at for w in self.work.values() for a in w.attempts), default=BASE_TS)

    # ---- mutation
    def touch(self) -> None:
        """Mark the world changed: call after editing its objects directly (not through a
        ``World`` method) so the server's serialised-response caches are rebuilt."""
        with self.lock:
            self.version += 1
            self.touched += 1

    def add_attempt(self, course_id: int, quiz_id: int, student_id: int, *,
                    graded_at: int | float | None = None, improvement: float = 0.15) -> Attempt:
        """Append a newly graded attempt (e.g. a retake) and refresh the student's grades.

        ``graded_at`` defaults to the later of (latest graded_at in the world + 60 s) and the
        wall clock, so both "max graded_at seen" and "time of last sync" cursors pick it up.
        Pass it explicitly for full determinism.  Answers stay deterministic either way.
        """
        with self.lock:
            quiz = self.quizzes.get(quiz_id)
            if quiz is None or quiz.course_id != course_id:
                raise KeyError(f"quiz {quiz_id} not in course {course_id}")
            if "StudentEnrollment" not in self.roles(course_id, student_id):
                raise KeyError(f"user {student_id} is not a student in course {course_id}")
            if graded_at is None:
                graded_at = max(self.latest_graded_ts() + 60, int(time.time()))
            graded_at = int(graded_at)
            w = self.work.get((quiz_id, student_id))
            if w is None:
                w = QuizWork(course_id, quiz_id, quiz.assignment_id, student_id,
                             self.next_id("submission"), self.next_id("quiz_submission"), [])
                self.work[(quiz_id, student_id)] = w
            n = len(w.attempts) + 1
            att = _make_attempt(self, quiz, student_id, n, graded_at - 5, improvement * (n - 1))
            att.graded_at = graded_at
            w.attempts.append(att)
            _refresh_grades(self, course_id, student_id)
            self.version += 1
            return att


def _make_attempt(world: World, quiz: Quiz, student_id: int, n: int, submitted_at: int,
                  bonus: float) -> Attempt:
    seed = world.seed
    ability = 0.3 + 0.68 * _u(seed, 1, student_id)   # strugglers .. stars
    data = []
    score = 0.0
    for q in world.questions[quiz.id]:
        p = min(0.98, max(0.02, ability + 0.8 * (0.5 - q.difficulty) + bonus))
        e = _answer(q, p, _u(seed, 2, student_id, q.id, n), _u(seed, 3, student_id, q.id, n),
                    _u(seed, 4, student_id, q.id, n))
        score += e["points"]
        data.append(e)
    spent = 300 + int(_u(seed, 5, student_id, quiz.id, n) * 1500)
    return Attempt(n, round(score, 2), submitted_at - spent, submitted_at, submitted_at + 2, data)


def _refresh_grades(world: World, course_id: int, student_id: int) -> None:
    earned = attempted = total = 0.0
    for quiz in world.course_quizzes(course_id):
        total += quiz.points_possible
        w = world.work.get((quiz.id, student_id))
        kept = w.kept_score(quiz.scoring_policy) if w else None
        if kept is not None:
            earned += kept
            attempted += quiz.points_possible
    current = round(100 * earned / attempted, 2) if attempted else None
    final = round(100 * earned / total, 2) if total else None
    for e in world.enrollments:
        if e.course_id == course_id and e.user_id == student_id and e.type == "StudentEnrollment":
            e.grades = {"current_score": current, "final_score": final,
                        "current_grade": letter_grade(current), "final_grade": letter_grade(final),
                        "unposted_current_score": current, "unposted_final_score": final}


# --------------------------------------------------------------------------- builder

_FIRST = ("Ava", "Liam", "Maya", "Noah", "Zoe", "Ethan", "Isla", "Omar", "Priya", "Lucas", "Mei",
          "Diego", "Amara", "Jonas", "Sofia", "Kenji", "Leila", "Mateo", "Nadia", "Owen", "Ines",
          "Ravi", "Hana", "Felix", "Chloe", "Tariq", "Elena", "Yusuf", "Greta", "Kai")
_LAST = ("Nguyen", "Smith", "Garcia", "Okafor", "Kowalski", "Chen", "Haddad", "Johansson",
         "Patel", "Rossi", "Kim", "Silva", "Müller", "Dubois", "Tanaka", "Ibrahim", "Novak",
         "Moreau", "O'Brien", "Lopez", "Schmidt", "Ahmed", "Costa", "Lindqvist", "Mensah")

_ID_STARTS = {"user": 1001, "quiz": 20001, "assignment": 40001, "question": 100001,
              "assessment_question": 300001, "answer": 1000001, "submission": 5000001,
              "quiz_submission": 6000001, "enrollment": 9000001}


def _add_user(world: World, uid: int, first: str, last: str, token: str) -> User:
    login = f"{first}.{last}{uid}".lower().replace("'", "").replace("ü", "u")
    world.users[uid] = User(uid, f"{first} {last}", f"{last}, {first}", first, login,
                            f"{login}@example.edu")
    world.tokens[token] = uid
    return world.users[uid]


def _enroll(world: World, uid: int, course_id: int, etype: str) -> None:
    world.enrollments.append(Enrollment(world.next_id("enrollment"), uid, course_id, etype))


def _add_course(world: World, rng: random.Random, spec: CourseSpec, student_ids: Iterable[int],
                staff: list[tuple[int, str]], used_texts: set[str]) -> None:
    world.specs[spec.course_id] = spec
    world.courses[spec.course_id] = Course(
        spec.course_id, spec.name, spec.code, spec.term_id,
        f"<h2>{spec.name}</h2><p>Weekly quizzes count towards your grade.</p>")
    for uid, etype in staff:
        _enroll(world, uid, spec.course_id, etype)
    students = list(student_ids)
    for uid in students:
        _enroll(world, uid, spec.course_id, "StudentEnrollment")

    originals: list[Question] = []          # candidates for question-bank reuse
    for qi in range(spec.n_quizzes):
        quiz_id, assignment_id = world.next_id("quiz"), world.next_id("assignment")
        n = spec.n_questions_per_quiz
        types = rng.sample(QUESTION_TYPES, len(QUESTION_TYPES))
        types = (types + [rng.choice(FILLER_TYPES) for _ in range(max(0, n - len(types)))])[:n]
        n_dup = round(spec.duplicate_bank_ratio * n) if qi > 0 and originals else 0
        dup_positions = set(rng.sample(range(n), min(n_dup, n)))
        questions, fresh = [], []
        for pos, qtype in enumerate(types, start=1):
            qid = world.next_id("question")
            if pos - 1 in dup_positions:
                src = rng.choice(originals)
                q = Question(qid, quiz_id, pos, f"Question {pos}", src.question_type,
                             src.question_text, src.points_possible,
                             [dict(a) for a in src.answers], src.assessment_question_id,
                             src.difficulty, dict(src.extras))
            else:
                body = build_question_body(qtype, rng, lambda: world.next_id("answer"))
                text = body.pop("question_text")
                answers = body.pop("answers")
                k = 2
                base = text
                while text in used_texts:          # keep accidental duplicates out
                    text = f"{base}<p><i>(Variant {k})</i></p>"
                    k += 1
                used_texts.add(text)
                pp = (0.0 if qtype in NO_SCORE_TYPES else 1.0 if qtype in UNGRADED_TYPES
                      else float(rng.choice((1, 1, 2, 2, 3, 5))))
                q = Question(qid, quiz_id, pos, f"Question {pos}", qtype, text, pp, answers,
                             world.next_id("assessment_question"), round(rng.uniform(0.15, 0.85), 3),
                             body)
                fresh.append(q)
            questions.append(q)
        drawable = [q for q in questions if q.question_type not in NO_SCORE_TYPES
                    and q.question_type not in UNGRADED_TYPES]
        for q in drawable[len(drawable) - min(spec.bank_draws, len(drawable)):]:
            q.bank_drawn, q.points_possible = True, 2.0
        originals.extend(fresh)
        unlock = BASE_TS + qi * 7 * DAY
        quiz = Quiz(quiz_id, spec.course_id, assignment_id, f"Quiz {qi + 1}: Week {qi + 1} review",
                    qi + 1, round(sum(q.points_possible for q in questions), 2), len(questions),
                    "keep_highest" if qi % 2 == 0 else "keep_latest",
                    spec.attempts if spec.attempts > 1 else 1, unlock, unlock + 7 * DAY,
                    engine=spec.engine_of(qi))
        world.quizzes[quiz_id] = quiz
        world.questions[quiz_id] = questions

        for si, uid in enumerate(students):
            if spec.missing_ratio and _u(world.seed, 6, uid, quiz_id) < spec.missing_ratio:
                continue
            w = QuizWork(spec.course_id, quiz_id, assignment_id, uid, world.next_id("submission"),
                         world.next_id("quiz_submission"), [])
            first = unlock + DAY + (si * 97) % (5 * DAY)
            for n_att in range(1, spec.attempts + 1):
                w.attempts.append(_make_attempt(world, quiz, uid, n_att,
                                                first + (n_att - 1) * 3600, 0.1 * (n_att - 1)))
            world.work[(quiz_id, uid)] = w

    for uid in students:
        _refresh_grades(world, spec.course_id, uid)


def build_world(courses: Iterable[CourseSpec] | None = None, seed: int = 0) -> World:
    """Generate a world from course specs (``DEFAULT_COURSES`` if None), deterministically."""
    specs = list(DEFAULT_COURSES if courses is None else courses)
    ids = [s.course_id for s in specs]
    if len(set(ids)) != len(ids):
        raise ValueError("duplicate course_id in specs")
    rng = random.Random(seed)
    world = World(seed=seed, _next_ids=dict(_ID_STARTS))
    world.other_course_id = 999 if 999 not in ids else max(ids) + 1

    _add_user(world, 1, "Grace", "Hopper", TEACHER_TOKEN)
    _add_user(world, 2, "Alan", "Turing", OTHER_TEACHER_TOKEN)
    _add_user(world, 3, "Ada", "Lovelace", TA_TOKEN)
    _add_user(world, 4, "Katherine", "Johnson", DUAL_ROLE_TOKEN)
    _add_user(world, 5, "Edsger", "Dijkstra", DESIGNER_TOKEN)

    def new_student() -> int:
        uid = world.next_id("user")
        _add_user(world, uid, rng.choice(_FIRST), rng.choice(_LAST), student_token(uid))
        return uid

    used_texts: set[str] = set()
    for i, spec in enumerate(specs):
        students = [new_student() for _ in range(spec.n_students)]
        staff = [(world.teacher_id, "TeacherEnrollment"), (world.ta_id, "TaEnrollment")]
        if i == 0:
            staff += [(world.dual_role_id, "TeacherEnrollment"),
                      (world.designer_id, "DesignerEnrollment")]
            world.plain_student_id = students[0] if students else None
        _add_course(world, rng, spec, students, staff, used_texts)

    other_students = [s for s in (world.plain_student_id, world.dual_role_id) if s is not None]
    other_students.append(new_student())
    other = CourseSpec(world.other_course_id, "Astronomy Seminar", "AST-300", len(other_students),
                       n_quizzes=2, n_questions_per_quiz=5, term_id=specs[0].term_id if specs else 1)
    _add_course(world, rng, other, other_students,
                [(world.other_teacher_id, "TeacherEnrollment")], used_texts)
    return world
