"""The CSV form of a New Quiz's ``student_analysis`` report, read into the JSON report's rows.

Used when Canvas refuses the JSON report, and for the ``Student Analysis`` CSV an instructor
exports from Canvas and uploads (institutions where the API is restricted). Pure, no I/O.

Sources: longhornadam/canvasexpert ``docs/reference/new-quizzes-student-analysis-csv.md`` and
``api/nq_report.py`` (learned from a real export), dbosk/canvaslms
``src/canvaslms/cli/quizzes.nw`` (asks for ``format=csv``; multi-select answers arrive
comma-joined). Layout, by position, because the item columns' names repeat (a spreadsheet that
re-saved the file may have suffixed them ``.1``, ``.2``)::

    9 lead      Name, ID, SISID, SectionIDs, SectionNames, SectionSISIDs, Submitted,
                ElapsedTime, Attempt
    5 per item  ItemID, ItemType, <the question text as header; the answer in the rows>,
                EarnedPoints, Status
    5 trailing  NumberOfCorrect, NumberOfIncorrect, NoResponse, PointsPossible, OverallScore

One row per student attempt. Essay answers are HTML with newlines inside quoted fields (so a
real CSV reader is needed); ``ElapsedTime`` can exceed 24 h; ``Submitted`` is UTC. ``ItemID``
is read as the JSON report's ``item_id`` (the item's entry id): both are the same report in two
formats. An item block left empty in a row (a bank item that student was not given) is skipped.

Strict: a file that is not this layout raises ``CsvReportError`` naming the row (the header is
row 1, as a spreadsheet shows it) and the column (1-based, with its header), before anything is
stored. Classic Quizzes' student analysis (``name, id, sis_id, section, …``) is named as such.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

from knowgap.canvas.new_quizzes import report_time
from knowgap.core.numbers import finite_float

LEAD = ("Name", "ID", "SISID", "SectionIDs", "SectionNames", "SectionSISIDs", "Submitted",
        "ElapsedTime", "Attempt")
BLOCK = ("ItemID", "ItemType", None, "EarnedPoints", "Status")        # None: the question
TRAILING = ("NumberOfCorrect", "NumberOfIncorrect", "NoResponse", "PointsPossible",
            "OverallScore")
_CLASSIC_LEAD = ("name", "id", "sis_id")


class CsvReportError(ValueError):
    """What is wrong with a file, where: ``row`` (1 = header) and ``column`` (1-based) may be
    None when the problem is the whole file."""

    def __init__(self, message: str, row: int | None = None, column: int | None = None,
                 header: str | None = None):
        where = []
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column {column}" + (f' ("{header}")' if header else ""))
        super().__init__((", ".join(where) + ": " if where else "") + message)
        self.message = str(self)
        self.row, self.column, self.header = row, column, header


@dataclass
class CsvReport:
    rows: list          # in the JSON report's shape (``new_quizzes`` module docstring)
    item_ids: set       # every ItemID in the file
    items: int          # item blocks per row


def _name(cell: str) -> str:
    """A header as compared: no spreadsheet ``.1`` suffix, no case, no spaces or ``_``."""
    return re.sub(r"[\s_]", "", re.sub(r"\.\d+$", "", cell.strip())).lower()


def _decode(data: bytes | str) -> str:
    if isinstance(data, str):
        return data.lstrip("\ufeff")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CsvReportError("The file is not UTF-8 text. Download the Student Analysis CSV "
                             "from Canvas again and upload it unchanged.") from None


def _records(text: str) -> list[tuple[int, list[str]]]:
    """(row number, cells) of every non-blank record; a record may span several lines."""
    reader = csv.reader(io.StringIO(text, newline=""))
    out, number = [], 0
    try:
        for cells in reader:
            number += 1
            if any(c.strip() for c in cells):
                out.append((number, cells))
    except csv.Error as exc:
        raise CsvReportError(f"the file is not valid CSV ({exc}).", number + 1) from None
    return out


def _check_header(header: list[str]) -> int:
    """The number of item blocks, or ``CsvReportError``."""
    names = [_name(c) for c in header]
    if tuple(c.strip().lower() for c in header[:3]) == _CLASSIC_LEAD:
        raise CsvReportError("This is a Classic Quizzes student analysis (name, id, sis_id, …). "
                             "Upload the Student Analysis CSV of the New Quiz instead.", 1)
    width = len(header)
    if width < len(LEAD) + len(TRAILING):
        raise CsvReportError(f"the header has {width} columns; a New Quizzes Student Analysis "
                             f"has at least {len(LEAD) + len(TRAILING)} (9 before the items, "
                             "5 after them).", 1)
    expected = list(LEAD)
    middle = width - len(LEAD) - len(TRAILING)
    if middle % len(BLOCK):
        raise CsvReportError(f"between the first 9 and the last 5 columns there are {middle} "
                             "columns; each item takes 5 (ItemID, ItemType, the question, "
                             "EarnedPoints, Status). Was a column added or removed?", 1)
    expected += list(BLOCK) * (middle // len(BLOCK)) + list(TRAILING)
    for i, (want, got) in enumerate(zip(expected, names)):
        if want is not None and _name(want) != got:
            raise CsvReportError(f'expected "{want}" here: this is not the layout of a New '
                                 "Quizzes Student Analysis export.", 1, i + 1, header[i])
    return middle // len(BLOCK)


def read(data: bytes | str) -> CsvReport:
    """The rows of a Student Analysis CSV (see the module docstring), or ``CsvReportError``."""
    records = _records(_decode(data))
    if not records:
        raise CsvReportError("The file is empty.")
    _, header = records[0]
    n_items = _check_header(header)
    if len(records) == 1:
        raise CsvReportError("The file has a header but no student rows.", 2)
    rows, item_ids = [], set()
    for number, cells in records[1:]:
        if len(cells) != len(header):
            raise CsvReportError(f"this row has {len(cells)} columns; the header has "
                                 f"{len(header)}.", number)
        rows.append(_row(number, cells, header, n_items, item_ids))
    return CsvReport(rows=rows, item_ids=item_ids, items=n_items)


def _fail(message: str, number: int, index: int, header: list[str]):
    raise CsvReportError(message, number, index + 1, header[index])


def _row(number: int, cells: list[str], header: list[str], n_items: int, item_ids: set) -> dict:
    sid, attempt, submitted = cells[1].strip(), cells[8].strip(), cells[6].strip()
    if not sid.isdigit() or int(sid) <= 0:
        _fail(f"{sid!r} is not a Canvas user id.", number, 1, header)
    if not attempt.isdigit() or int(attempt) < 1:
        _fail(f"{attempt!r} is not an attempt number (1, 2, …).", number, 8, header)
    if submitted and report_time(submitted) is None:
        _fail(f"{submitted!r} is not a date and time.", number, 6, header)
    responses = []
    for b in range(n_items):
        base = len(LEAD) + b * len(BLOCK)
        item_id, item_type, answer, earned, status = (c.strip() for c in cells[base:base + 5])
        if not item_id:
            if answer or earned:
                _fail("an answer or points without an ItemID.", number, base, header)
            continue                                  # an item this student was not given
        score = None
        if earned:
            score = finite_float(earned)
            if score is None:
                _fail(f"{earned!r} is not a number of points.", number, base + 3, header)
        item_ids.add(item_id)
        responses.append({"item_id": item_id, "item_type": item_type,
                          "answer": cells[base + 2], "score": score, "status": status})
    return {"student_data": {"id": int(sid), "name": cells[0], "sis_id": cells[2],
                             "submitted": submitted or None, "elapsed": cells[7],
                             "attempt": int(attempt)},
            "item_responses": responses}
