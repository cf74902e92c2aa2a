"""The course export as an .xlsx workbook, written with XlsxWriter.

Sheets: **Summary** first (the course's figures and three native charts, with the tables they
plot), then one sheet per export section with the CSV's columns, order and values: a bold
header row that stays frozen, an autofilter, widths from the content, percentages and dates
formatted as such, long texts wrapped.

Values: numbers and booleans are typed cells (NaN and infinities left empty: Excel has
neither), None an empty cell, texts pass through ``text`` (the caller's formula neutralization)
minus the characters XML cannot carry. A format never changes a value: scores and percentages
(0-100) show as ``85.0%`` through a literal-percent format, shares (0-1: ``p_mastery``,
``difficulty``) through Excel's own ``0.0%``. ``earned_at`` is a date cell in UTC (Excel has no
time zones); a value that is not an ISO time stays text.

Safety: texts go through ``write_string`` only (never read as a formula or link); chart titles
and series names are fixed words, and question labels on the scatter are references to their
cells: XlsxWriter would read chart text starting with "=" as a formula, so no course, skill or
quiz text is ever passed to a chart. Sheet names are fixed words, never a skill's or quiz's
name; a section longer than a sheet (1,048,576 rows) goes on over "mastery (2)", ….

Speed and memory: ``constant_memory`` streams each row to a temporary file as it is written;
cells take their format from their column (no per-cell format argument).
"""
from __future__ import annotations

import datetime as dt
import io
import math
import re

import xlsxwriter

from achieveup.exchange.summary import Summary, finite
from knowgap.core.clock import parse as parse_time

SUMMARY = "Summary"
ITEMS = "items"
SHEET_ROWS = 1_048_576                      # Excel's rows per sheet, header included
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

DATE_FORMAT = "yyyy-mm-dd hh:mm"
#: Column name -> look. Same name, same meaning in every section.
COLUMN_LOOKS = {
    "description": "long", "question_text": "long", "flags": "long", "quiz_title": "title",
    "score": "score", "percentage": "score", "p_mastery": "share", "difficulty": "share",
    "point_biserial": "correlation", "upper_lower": "correlation", "earned_at": "date",
}
LOOKS = {
    "text": {}, "long": {"text_wrap": True}, "title": {"text_wrap": True},
    "score": {"num_format": '0.0"%"'}, "share": {"num_format": "0.0%"},
    "correlation": {"num_format": "0.00"}, "date": {"num_format": DATE_FORMAT},
}
FIXED_WIDTHS = {"long": 60, "title": 32, "date": 17}
MAX_WIDTH, WIDTH_SAMPLE = 40, 500
LEVEL_COLORS = {"not_started": "#BFBFBF", "beginner": "#C6DBEF", "intermediate": "#6BAED6",
                "advanced": "#2171B5", "expert": "#08306B"}
ROW_PX = 20                                 # default row height in pixels
LINE_POINTS, MAX_ROW_POINTS = 15, 409       # a line of 11-point text; Excel's tallest row


def clean(text, value) -> str:
    """``text(value)`` as a cell can hold it: without the characters XML cannot carry, line
    ends as LF (XML readers turn a bare CR into LF anyway)."""
    return _XML_ILLEGAL.sub("", str(text(value))).replace("\r\n", "\n").replace("\r", "\n")


def utc(value) -> dt.datetime | None:
    """A naive UTC datetime (what an Excel date cell holds) from an ISO string, else None."""
    moment = parse_time(value)
    return None if moment is None else moment.astimezone(dt.timezone.utc).replace(tzinfo=None)


def level_title(level: str) -> str:
    return level.replace("_", " ").capitalize()


def sheet_parts(name: str, rows: list) -> list[tuple[str, list]]:
    """The section's sheets: ``name``, then "name (2)", … when it outgrows one sheet."""
    per_sheet = SHEET_ROWS - 1
    chunks = [rows[i:i + per_sheet] for i in range(0, len(rows), per_sheet)] or [[]]
    return [(name if n == 1 else f"{name} ({n})", chunk) for n, chunk in enumerate(chunks, 1)]


def write_workbook(sheets: dict, summary: Summary, course: dict, text=str) -> bytes:
    """The workbook: Summary, then a sheet per entry of ``sheets`` (``name -> (columns,
    row dicts)``); ``course`` holds ``course_id``, ``course_name`` and ``exported_at``."""
    buf = io.BytesIO()
    with xlsxwriter.Workbook(buf, {"constant_memory": True, "strings_to_formulas": False,
                                   "strings_to_urls": False}) as wb:
        looks = {(look, top): wb.add_format({**spec, **({"valign": "top"} if top else {})})
                 if spec or top else None for look, spec in LOOKS.items() for top in (0, 1)}
        header = wb.add_format({"bold": True, "bg_color": "#DDEBF7", "bottom": 1,
                                "valign": "top"})
        parts = {name: sheet_parts(name, rows) for name, (_, rows) in sheets.items()}
        SummarySheet(wb, summary, course, text).write(
            items=parts.get(ITEMS, []), item_columns=sheets[ITEMS][0] if ITEMS in sheets else ())
        for name, (columns, _) in sheets.items():
            for sheet, rows in parts[name]:
                _write_section(wb.add_worksheet(sheet), columns, rows, text, looks, header)
    return buf.getvalue()


def _width(column: str, look: str, rows: list, text) -> int:
    if look in FIXED_WIDTHS:
        return FIXED_WIDTHS[look]
    longest = len(column) + 3                # room for the filter button
    if look == "text":
        for row in rows[:WIDTH_SAMPLE]:
            value = row.get(column)
            if value is not None:
                longest = max(longest, len(str(text(value))))
    return min(MAX_WIDTH, max(longest, 8)) + 1


def _lines(value: str, width: float) -> int:
    """Lines a wrapped cell ``width`` characters wide needs (a little generous: the width counts
    digits, and most text is narrower)."""
    per_line = max(1, int(width * 1.25))
    return sum(max(1, -(-len(part) // per_line)) for part in value.split("\n"))


def _write_section(ws, columns, rows, text, looks, header) -> None:
    """One section sheet: formats per column, frozen bold header, autofilter, the rows; a row
    with wrapped text gets the height it needs (LibreOffice keeps the default height of rows
    that do not say), and its cells align to the top.

    Plain text columns get no format, so their cells carry no style (the bulk of a large
    export); a text repeated down a column (names, ids, levels, times) is cleaned once."""
    names = [COLUMN_LOOKS.get(column, "text") for column in columns]
    top = int(any(LOOKS[look].get("text_wrap") for look in names))
    wrapped = {}
    for c, (column, look) in enumerate(zip(columns, names)):
        width = _width(column, look, rows, text)
        ws.set_column(c, c, width, looks[look, top])
        if LOOKS[look].get("text_wrap"):
            wrapped[c] = width
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, len(rows), len(columns) - 1)
    ws.set_landscape()                        # printed one page wide, the header on each page
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(0)
    ws.write_row(0, 0, [clean(text, c) for c in columns], header)
    put_text, put_number = ws.write_string, ws.write_number
    put_bool, put_date = ws.write_boolean, ws.write_datetime
    cols = list(enumerate(columns))
    dates = {c for c, look in enumerate(names) if look == "date"}
    shown: dict = {}                          # text -> the cell's text, or its date
    for r, row in enumerate(rows, 1):
        lines = 1
        for c, column in cols:
            value = row.get(column)
            kind = type(value)
            if value is None:
                continue
            if kind is float or kind is int:
                if math.isfinite(value):
                    put_number(r, c, value)
            elif kind is bool:
                put_bool(r, c, value)
            else:
                key = (c in dates, value) if kind is str else None
                cell = shown.get(key) if key else None
                if cell is None:
                    cell = (c in dates and utc(value)) or clean(text, value)
                    if key:
                        shown[key] = cell
                if type(cell) is str:
                    put_text(r, c, cell)
                    if c in wrapped:
                        lines = max(lines, _lines(cell, wrapped[c]))
                else:
                    put_date(r, c, cell)
        if lines > 1:
            ws.set_row(r, min(MAX_ROW_POINTS, LINE_POINTS * lines))


class SummarySheet:
    """The Summary sheet: title, key figures, the three charts and the tables they plot.

    Layout: figures in A:B from row 4, the histogram and the scatter beside them, the stacked
    bars below, then the tables (mastery levels per skill, progress bands, questions to check).
    Printed landscape, one page wide.
    """

    COLUMN_A, COLUMN_B, COLUMN_REST = 38, 17, 13
    SMALL_CHART = (480, 288)
    WIDE_CHART = 980

    def __init__(self, wb, summary: Summary, course: dict, text):
        self.wb, self.s, self.course, self.text = wb, summary, course, text
        self.ws = wb.add_worksheet(SUMMARY)
        self.row = 0
        self.last_col = max(6, len(summary.levels))    # the levels table's last column
        fmt = wb.add_format
        self.f = {
            "title": fmt({"bold": True, "font_size": 16}),
            "subtitle": fmt({"bold": True, "font_size": 12, "font_color": "#44546A"}),
            "section": fmt({"bold": True, "font_size": 12}),
            "note": fmt({"italic": True, "font_color": "#595959"}),
            "header": fmt({"bold": True, "bg_color": "#DDEBF7", "bottom": 1, "text_wrap": True,
                           "valign": "top"}),
            "score": fmt({"num_format": '0.0"%"'}),
            "share": fmt({"num_format": "0%"}),
            "correlation": fmt({"num_format": "0.00"}),
            "date": fmt({"num_format": DATE_FORMAT, "align": "right"}),
        }

    # -- cells
    def _text(self, value) -> str:
        return clean(self.text, value)

    def _line(self, *cells) -> int:
        """Write one row of ``(value, format name)`` cells from column A; returns its index."""
        r = self.row
        for c, (value, look) in enumerate(cells):
            fmt = self.f.get(look) if look else None
            if value is None:
                continue
            if isinstance(value, dt.datetime):
                self.ws.write_datetime(r, c, value, fmt)
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                if math.isfinite(value):
                    self.ws.write_number(r, c, value, fmt)
            else:
                self.ws.write_string(r, c, self._text(value), fmt)
        self.row += 1
        return r

    def _ref(self, r0, c0, r1=None, c1=None) -> list:
        return [SUMMARY, r0, c0, r0 if r1 is None else r1, c0 if c1 is None else c1]

    # -- layout
    def write(self, items: list[tuple[str, list]], item_columns) -> None:
        """``items``: the item analysis' sheets and their rows (the scatter plots them)."""
        s, ws = self.s, self.ws
        for c, width in enumerate(self._widths()):
            ws.set_column(c, c, width)
        ws.set_row(0, 24)
        self._line(("AchieveUp course summary", "title"))
        name = self.course.get("course_name") or f"Course {self.course['course_id']}"
        self._line((name, "subtitle"))
        self.row = top = 3
        self._figures()
        # the histogram and the scatter beside the figures, the bars below, then the tables
        # (written first: rows go out in order), then the charts that plot them
        width, height = self.SMALL_CHART
        bars_row = max(self.row, top + math.ceil(height / ROW_PX)) + 1
        bars_height = max(220, 110 + 28 * len(s.skills))
        self.row = bars_row + (math.ceil(bars_height / ROW_PX) + 1 if s.skills else 0)
        levels_at = self._levels_table()
        bands_at = self._bands_table()
        check_at = self._check_table() if s.questions_analysed else None
        ws.insert_chart(top, 3, self._histogram(bands_at))
        if check_at is not None:
            ws.insert_chart(top, 3, self._scatter(items, item_columns, check_at),
                            {"x_offset": width + 20})
        if s.skills:
            ws.insert_chart(bars_row, 0, self._bars(levels_at, bars_height))
        # print: landscape, one page wide, as wide as the charts (long "why" texts run on)
        right = self._px(3) + 2 * width + 20
        ws.print_area(0, 0, self.row, self._col_at(right))
        ws.set_landscape()
        ws.fit_to_pages(1, 0)

    def _widths(self) -> list[float]:
        return [self.COLUMN_A, self.COLUMN_B] + [self.COLUMN_REST] * (self.last_col - 1)

    def _px(self, columns: int) -> int:
        """Pixel width of the first ``columns`` columns (XlsxWriter's rule: 7 px a character
        + 5; 64 px for a column left at Excel's default)."""
        widths = self._widths()
        return sum(int(widths[c] * 7 + 0.5) + 5 if c < len(widths) else 64
                   for c in range(columns))

    def _col_at(self, x: int) -> int:
        """The column holding pixel ``x``."""
        col = 0
        while self._px(col + 1) < x:
            col += 1
        return col

    def _figures(self) -> None:
        s = self.s
        exported = utc(self.course.get("exported_at"))
        rows = [("Canvas course id", str(self.course["course_id"]), None),
                ("Exported (UTC)", exported or self.course.get("exported_at"), "date"),
                ("Students", s.students, None),
                ("Mean course progress", s.mean_progress, "score"),
                ("Skills", len(s.skills), None),
                ("Questions mapped to skills", s.questions_mapped, None),
                ("Quizzes with item analysis", s.quizzes_analysed, None),
                ("Questions analysed", s.questions_analysed, None),
                ("Questions to check", len(s.to_check), None),
                ("Badges", sum(n for _, n in s.badges_by_level), None),
                *((f"   {level_title(level)} badges", n, None)
                  for level, n in s.badges_by_level)]
        for label, value, look in rows:
            self._line((label, None), (value, look))

    def _table_head(self, title: str, columns: list[str], note: str | None = None) -> int:
        self.row += 1
        self._line((title, "section"))
        if note:
            self._line((note, "note"))
        return self._line(*((c, "header") for c in columns))

    def _levels_table(self) -> tuple[int, int]:
        """Students per level for each skill; (header row, last row)."""
        s = self.s
        head = self._table_head("Students per mastery level", [
            "Skill", *map(level_title, s.levels)])
        for skill, counts in zip(s.skills, s.level_counts):
            self._line((skill, None), *((n, None) for n in counts))
        last = self.row - 1
        if not s.skills:
            self._line(("No skill matrix yet.", "note"))
        return head, last

    def _bands_table(self) -> tuple[int, int]:
        head = self._table_head("Course progress", ["Progress", "Students"],
                                "Each student's mean score over the course's mapped skills.")
        for label, n in self.s.bands:
            self._line((label, None), (n, None))
        return head, self.row - 1

    def _check_table(self) -> tuple[int, int]:
        """The flagged questions (a line saying so when none is); (header row, last row)."""
        head = self._table_head(
            "Questions to check (item analysis)", ["Question", "Difficulty", "Discrimination",
                                                   "Why"],
            "Difficulty: share of students answering correctly. Discrimination: point-biserial "
            "(upper-lower index where it is undefined); below 0.10 a question is flagged.")
        for q in self.s.to_check:
            self._line((q["label"], None), (q["difficulty"], "share"),
                       (q["discrimination"], "correlation"), (q["why"], None))
        last = self.row - 1
        if not self.s.to_check:
            self._line(("No question is flagged.", "note"))
        return head, last

    # -- charts
    def _chart(self, spec: dict, title: str):
        chart = self.wb.add_chart(spec)
        chart.set_title({"name": title, "name_font": {"size": 12, "bold": True}})
        return chart

    def _histogram(self, at: tuple[int, int]):
        head, last = at
        chart = self._chart({"type": "column"}, "Course progress (students per band)")
        chart.add_series({
            "name": "Students", "name_data": ["Students"],
            "categories": self._ref(head + 1, 0, last, 0),
            "values": self._ref(head + 1, 1, last, 1),
            "categories_data": [label for label, _ in self.s.bands],
            "values_data": [n for _, n in self.s.bands],
            "fill": {"color": "#2171B5"}, "gap": 15})
        chart.set_legend({"none": True})
        chart.set_x_axis({"name": "Course progress", "num_font": {"size": 8}})
        most = max((n for _, n in self.s.bands), default=0)
        chart.set_y_axis({"name": "Students", "min": 0, "major_unit": max(1, math.ceil(most / 6)),
                          "major_gridlines": {"visible": True}})
        chart.set_size(dict(zip(("width", "height"), self.SMALL_CHART)))
        return chart

    def _bars(self, at: tuple[int, int], height: int):
        head, last = at
        s = self.s
        chart = self._chart({"type": "bar", "subtype": "stacked"},
                            "Students per mastery level, by skill")
        skills = [self._text(skill) for skill in s.skills]
        for j, level in enumerate(s.levels):
            series = {"name": self._ref(head, 1 + j),
                      "name_data": [level_title(level)],
                      "categories": self._ref(head + 1, 0, last, 0),
                      "values": self._ref(head + 1, 1 + j, last, 1 + j),
                      "categories_data": skills,
                      "values_data": [counts[j] for counts in s.level_counts], "gap": 40}
            if level in LEVEL_COLORS:
                series["fill"] = {"color": LEVEL_COLORS[level]}
            chart.add_series(series)
        chart.set_y_axis({"reverse": True, "crossing": "max", "interval_unit": 1,
                          "num_font": {"size": 9}})     # first skill on top
        most = max((sum(counts) for counts in s.level_counts), default=0)
        chart.set_x_axis({"name": "Students", "min": 0, "max": max(1, most),
                          "major_gridlines": {"visible": True}})
        chart.set_legend({"position": "top"})
        chart.set_size({"width": self.WIDE_CHART, "height": height})
        return chart

    def _scatter(self, items: list[tuple[str, list]], columns, check_at):
        """Difficulty vs discrimination of every analysed question (the items sheets), the
        questions to check on top, each named by a label that refers to its table cell.
        Every series carries its values too (the cache some readers draw from)."""
        x, y = columns.index("difficulty"), columns.index("point_biserial")
        chart = self._chart({"type": "scatter"}, "Question difficulty vs discrimination")
        for sheet, rows in items:
            if rows:
                chart.add_series({
                    "name": "Questions", "name_data": ["Questions"],
                    "categories": [sheet, 1, x, len(rows), x],
                    "values": [sheet, 1, y, len(rows), y],
                    "categories_data": [finite(r.get("difficulty")) for r in rows],
                    "values_data": [finite(r.get("point_biserial")) for r in rows],
                    "marker": {"type": "circle", "size": 5,
                               "fill": {"color": "#6BAED6"}, "border": {"color": "#2171B5"}}})
        head, last = check_at
        if last > head:
            to_check = self.s.to_check
            chart.add_series({
                "name": "To check", "name_data": ["To check"],
                "categories": self._ref(head + 1, 1, last, 1),
                "values": self._ref(head + 1, 2, last, 2),
                "categories_data": [q["difficulty"] for q in to_check],
                "values_data": [q["discrimination"] for q in to_check],
                "marker": {"type": "diamond", "size": 8, "fill": {"color": "#C00000"},
                           "border": {"color": "#C00000"}}})
            # one more series per question, named by its label cell and showing that name
            # (LibreOffice ignores per-point label text; every reader shows series names)
            for r, q in zip(range(head + 1, last + 1), to_check):
                chart.add_series({
                    "name": self._ref(r, 0), "name_data": [self._text(q["label"])],
                    "categories": self._ref(r, 1), "values": self._ref(r, 2),
                    "categories_data": [q["difficulty"]], "values_data": [q["discrimination"]],
                    "marker": {"type": "none"},
                    "data_labels": {"series_name": True, "position": "right",
                                    "font": {"size": 8, "color": "#C00000"}}})
            named = range(len(chart.series) - len(to_check), len(chart.series))
            chart.set_legend({"position": "bottom", "delete_series": list(named)})
        else:
            chart.set_legend({"position": "bottom"})
        chart.set_x_axis({"name": "Difficulty (share answering correctly)", "min": 0, "max": 1,
                          "num_format": "0%", "label_position": "low",
                          "major_gridlines": {"visible": True}})
        chart.set_y_axis({"name": "Discrimination", "num_format": "0.0",
                          "major_gridlines": {"visible": True}})
        chart.set_size(dict(zip(("width", "height"), self.SMALL_CHART)))
        return chart
