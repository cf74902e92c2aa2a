"""The XLSX course export, read back with openpyxl: values unchanged from the hand-made
SpreadsheetML writer it replaced, the sections' formatting, the Summary sheet's figures and
charts (each chart range resolved to the cells it plots), inert formulas, fixed sheet names,
sections longer than a sheet, and LibreOffice rendering the Summary.

``fixtures/exchange/course-export.json`` is the JSON export of the sandbox's course 101 after a
sync (``synced`` in tests/test_mastery_sync.py), plus rows with hostile text: formulas, control
characters, a skill name longer than a sheet name may be with characters a sheet name may not
hold, skills differing only in case, NaN and infinity, a time with an offset and a value that
is no time. ``course-export.handmade.xlsx`` is what the hand-made writer
(``achieveup/exchange/xlsx.py`` at commit e3fd65a, replaced by XlsxWriter) wrote for it.
Expected figures are recomputed here from the document, never taken from the implementation.
"""
from __future__ import annotations

import collections
import datetime as dt
import io
import json
import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook
from openpyxl.chart import BarChart, ScatterChart

from achieveup.exchange import service, workbook
from tests.test_mastery_sync import (COURSE, setup_course, signup, sync,  # noqa: F401
                                     synced, teacher)

FIXTURES = Path(__file__).parent / "fixtures" / "exchange"
SECTIONS = ["matrices", "question_skills", "mastery", "badges", "items"]
DANGEROUS = ("=", "+", "-", "@", "\t", "\r")
PROGRESS = [0.0, 12.5, 37.0, 51.0, 55.5, 79.9, 90.0, 100.0, None]


@pytest.fixture(scope="module")
def data() -> dict:
    return json.loads((FIXTURES / "course-export.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def xlsx(data) -> bytes:
    return service.to_xlsx(data, PROGRESS)


@pytest.fixture(scope="module")
def wb(xlsx):
    return load_workbook(io.BytesIO(xlsx))


def utc(value: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment.astimezone(dt.timezone.utc).replace(tzinfo=None)


def resolve(book, ref: str) -> list:
    """The values of the cells a chart formula (``Sheet!$A$1:$A$9``) refers to."""
    sheet, cells = ref.rsplit("!", 1)
    if sheet.startswith("'"):
        sheet = sheet[1:-1].replace("''", "'")
    found = book[sheet][cells.replace("$", "")]
    if not isinstance(found, tuple):
        return [found.value]
    return [c.value for row in found for c in row]


def table(ws, title: str) -> tuple[list, list[list]]:
    """(header, rows) of the Summary table under the section title ``title``."""
    rows = list(ws.iter_rows(values_only=True))
    at = next(i for i, r in enumerate(rows) if r[0] == title)
    head = at + 1 if rows[at + 1][0] and rows[at + 1][1] else at + 2   # a note line may follow
    body = []
    for r in rows[head + 1:]:
        if r[0] is None:
            break
        body.append(list(r))
    width = len([c for c in rows[head] if c is not None])
    return list(rows[head][:width]), [r[:width] for r in body]


def neutral(value: str) -> str:
    """The text a cell shows for ``value``: the export's neutralization, line ends as LF, no
    control characters (XML cannot carry them)."""
    shown = ("'" + value if value.startswith(DANGEROUS) else value).replace("\r", "\n")
    return re.sub("[\x00-\x08\x0b\x0c\x0e-\x1f]", "", shown)


# ------------------------------------------------------------------ values


def test_values_are_those_the_handmade_writer_wrote(wb):
    old = load_workbook(FIXTURES / "course-export.handmade.xlsx")
    assert old.sheetnames == SECTIONS and wb.sheetnames == ["Summary", *SECTIONS]
    dates = 0
    for name in SECTIONS:
        before = list(old[name].iter_rows(values_only=True))
        after = list(wb[name].iter_rows(values_only=True))
        assert len(after) == len(before), name
        for r, (a, b) in enumerate(zip(before, after), 1):
            assert len(b) <= len(a), (name, r)
            for c, (was, now) in enumerate(zip(a, b + (None,) * (len(a) - len(b))), 1):
                where = (name, r, c, was, now)
                if isinstance(now, dt.datetime):   # earned_at: an ISO text became a date
                    assert old[name].cell(1, c).value == "earned_at", where
                    assert utc(was) == now, where
                    dates += 1
                elif isinstance(was, float):     # Excel has one number type: 100.0 reads as 100
                    assert type(now) in (int, float) and now == was, where
                else:
                    assert (type(now), now) == (type(was), was), where
    earned = [b["earned_at"] for b in json.loads((FIXTURES / "course-export.json").read_text(
        encoding="utf-8"))["badges"]]
    assert dates == sum(1 for e in earned if e not in (None, "not a date")) > 200


def test_sections_are_formatted(wb, data):
    for name in SECTIONS:
        ws = wb[name]
        header = [c for c in ws[1]]
        assert ws.freeze_panes == "A2", name
        assert ws.auto_filter.ref == f"A1:{header[-1].column_letter}{ws.max_row}", name
        assert all(c.font.b for c in header), name
        assert ws.print_title_rows == "$1:$1" and ws.page_setup.orientation == "landscape"
    mastery = wb["mastery"]
    row = [c for c in mastery[2]]
    by = {h.value: c for h, c in zip(mastery[1], row)}
    assert by["score"].number_format == '0.0"%"'
    assert by["score"].value == data["mastery"][0]["score"]
    assert by["p_mastery"].number_format == "0.0%"
    name_width = mastery.column_dimensions[by["student_name"].column_letter].width
    longest = max(len(r["student_name"]) for r in data["mastery"][:workbook.WIDTH_SAMPLE])
    assert longest < name_width <= workbook.MAX_WIDTH + 1
    badges = wb["badges"]
    by = {h.value: c for h, c in zip(badges[1], badges[2])}
    assert by["earned_at"].is_date and by["earned_at"].number_format == workbook.DATE_FORMAT
    assert by["percentage"].number_format == '0.0"%"'
    items = wb["items"]
    by = {h.value: c for h, c in zip(items[1], items[2])}
    assert by["difficulty"].number_format == "0.0%"
    assert by["point_biserial"].number_format == "0.00"
    assert by["question_text"].alignment.wrap_text and by["flags"].alignment.wrap_text
    assert items.column_dimensions[by["question_text"].column_letter].width >= 60
    matrices = wb["matrices"]
    long_rows = [r for r in range(2, matrices.max_row + 1)
                 if len(matrices.cell(r, 3).value or "") > 500]
    assert long_rows and matrices.cell(long_rows[0], 3).alignment.wrap_text
    assert all(matrices.row_dimensions[r].height >= 8 * 15 for r in long_rows)
    assert matrices.row_dimensions[2].height is None          # a short row keeps its height


# ------------------------------------------------------------------ Summary


def test_summary_figures_are_the_documents(wb, data):
    ws = wb["Summary"]
    figures = {r[0]: r[1] for r in ws.iter_rows(min_row=4, max_row=20, max_col=2,
                                                 values_only=True) if r[0]}
    progress = [p for p in PROGRESS if p is not None]
    badges = collections.Counter(b["level"] for b in data["badges"])
    skills = list(dict.fromkeys([s for m in data["matrices"] for s in m["skills"]]
                                + [r["skill"] for r in data["mastery"]]))
    assert figures["Students"] == len(PROGRESS)
    assert figures["Mean course progress"] == round(sum(progress) / len(progress), 1)
    (mean,) = [r[1] for r in ws.iter_rows(max_col=2) if r[0].value == "Mean course progress"]
    assert mean.number_format == '0.0"%"'
    assert figures["Skills"] == len(skills)
    assert figures["Questions mapped to skills"] == len(data["question_skills"])
    assert figures["Quizzes with item analysis"] == len({i["quiz_id"] for i in data["items"]})
    assert figures["Questions analysed"] == len(data["items"])
    assert figures["Questions to check"] == sum(1 for i in data["items"] if i["check"])
    assert figures["Badges"] == len(data["badges"])
    for level in ("beginner", "intermediate", "advanced", "expert"):
        assert figures[f"   {level.capitalize()} badges"] == badges[level]
    assert figures["Exported (UTC)"] == utc(data["exported_at"])
    assert ws["A2"].value == data["course_name"]

    header, rows = table(ws, "Students per mastery level")
    levels = [h.lower().replace(" ", "_") for h in header[1:]]
    counts = collections.Counter((r["skill"], r["level"]) for r in data["mastery"])
    assert [r[0] for r in rows] == [neutral(s) for s in skills]
    for skill, row in zip(skills, rows):
        assert row[1:] == [counts[(skill, lv)] for lv in levels], skill
    assert sum(sum(r[1:]) for r in rows) == sum(1 for r in data["mastery"] if r["level"])

    _, bands = table(ws, "Course progress")
    expected = [0] * 10
    for p in progress:
        expected[min(9, int(p // 10))] += 1
    assert [n for _, n in bands] == expected and bands[0][0] == "0–10%"


def test_summary_charts_plot_their_tables(wb, data):
    ws = wb["Summary"]
    charts = ws._charts
    bars = [c for c in charts if isinstance(c, BarChart) and c.type == "bar"]
    columns = [c for c in charts if isinstance(c, BarChart) and c.type == "col"]
    scatters = [c for c in charts if isinstance(c, ScatterChart)]
    assert (len(bars), len(columns), len(scatters), len(charts)) == (1, 1, 1, 3)

    header, rows = table(ws, "Students per mastery level")
    (bar,) = bars
    assert bar.grouping == "stacked" and len(bar.series) == len(header) - 1
    for j, series in enumerate(bar.series, 1):
        assert resolve(wb, series.tx.strRef.f) == [header[j]]
        assert resolve(wb, series.cat.strRef.f) == [r[0] for r in rows]
        assert resolve(wb, series.val.numRef.f) == [r[j] for r in rows]

    _, bands = table(ws, "Course progress")
    (histogram,) = columns
    (series,) = histogram.series
    assert resolve(wb, series.cat.strRef.f) == [b[0] for b in bands]
    assert resolve(wb, series.val.numRef.f) == [b[1] for b in bands]

    (scatter,) = scatters
    questions, to_check, *named = scatter.series
    assert resolve(wb, questions.xVal.numRef.f) == [i["difficulty"] for i in data["items"]]
    assert resolve(wb, questions.yVal.numRef.f) == [i["point_biserial"] for i in data["items"]]
    flagged = [i for i in data["items"] if i["check"]]
    expected = [(i["difficulty"], i["point_biserial"] if i["point_biserial"] is not None
                 else i["upper_lower"]) for i in flagged]
    assert list(zip(resolve(wb, to_check.xVal.numRef.f),
                    resolve(wb, to_check.yVal.numRef.f))) == expected
    assert len(named) == len(flagged) > 0
    for series, item, point in zip(named, flagged, expected):
        (label,) = resolve(wb, series.tx.strRef.f)
        assert label.startswith(f"Q{item['position']} · ") and item["quiz_title"][:10] in label
        assert (resolve(wb, series.xVal.numRef.f)[0], resolve(wb, series.yVal.numRef.f)[0]) \
            == point
        assert series.dLbls.showSerName
    assert [e.idx for e in scatter.legend.legendEntry] == list(range(2, 2 + len(flagged)))


def test_a_course_without_data_still_gets_its_summary():
    empty = {"course_id": "5", "course_name": None, "exported_at": None, "matrices": [],
             "question_skills": [], "mastery": [], "badges": [], "items": []}
    book = load_workbook(io.BytesIO(service.to_xlsx(empty, [])))
    ws = book["Summary"]
    figures = {r[0]: r[1] for r in ws.iter_rows(max_col=2, values_only=True) if r[0]}
    assert ws["A2"].value == "Course 5" and figures["Students"] == 0
    assert "No skill matrix yet." in figures
    assert [c.type for c in ws._charts] == ["col"]          # no skills, no item analysis
    assert [list(book[s].iter_rows(values_only=True))[1:] for s in SECTIONS] == [[]] * 5


def test_text_stays_inert_and_sheet_names_stay_fixed(wb, xlsx):
    cells = [c for ws in wb for row in ws.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    strings = [c.value for c in cells if isinstance(c.value, str)]
    assert not [s for s in strings if s.startswith(DANGEROUS)]
    assert "'=Quiz(1)" in strings and "'+cmd|' /C calc'!A0" in strings
    # every chart formula is a plain cell reference: no skill or quiz text became a formula
    with zipfile.ZipFile(io.BytesIO(xlsx)) as z:
        formulas = [f for name in z.namelist() if name.startswith("xl/charts/")
                    for f in re.findall(r"<c:f>(.*?)</c:f>", z.read(name).decode())]
    assert formulas and all(re.fullmatch(r"(Summary|items)!\$[A-Z]+\$\d+(:\$[A-Z]+\$\d+)?", f)
                            for f in formulas), formulas
    # skill and quiz names never name a sheet: the names are the fixed ones, valid in Excel
    for name in wb.sheetnames:
        assert len(name) <= 31 and not set(name) & set("[]:*?/\\")
    assert len({n.casefold() for n in wb.sheetnames}) == len(wb.sheetnames)


def test_a_section_longer_than_a_sheet_goes_on_over_numbered_sheets(data, wb, monkeypatch):
    monkeypatch.setattr(workbook, "SHEET_ROWS", 16)                  # 15 rows a sheet
    small = load_workbook(io.BytesIO(service.to_xlsx(data, PROGRESS)))
    for name in SECTIONS:
        whole = list(wb[name].iter_rows(values_only=True))
        parts = [name] + [f"{name} ({n})" for n in range(2, -(-(len(whole) - 1) // 15) + 1)]
        assert [s for s in small.sheetnames if s.split(" (")[0] == name] == parts
        rows = []
        for part in parts:
            got = list(small[part].iter_rows(values_only=True))
            assert got[0] == whole[0] and 1 < len(got) <= 16, part
            rows += got[1:]
        assert rows == whole[1:], name
    (scatter,) = [c for c in small["Summary"]._charts if isinstance(c, ScatterChart)]
    plotted = [v for s in scatter.series if not s.xVal.numRef.f.startswith("Summary!")
               for v in resolve(small, s.xVal.numRef.f)]
    assert plotted == [i["difficulty"] for i in data["items"]]


@pytest.mark.skipif(not (shutil.which("soffice") and shutil.which("pdftoppm")),
                    reason="Debian's libreoffice-calc and poppler-utils are not installed "
                           "(scripts/bootstrap.sh as root installs them)")
def test_libreoffice_renders_the_summary(xlsx, data, tmp_path):
    """LibreOffice (headless) prints the workbook to PDF; its first page (the Summary) is
    kept as a PNG beside it and its text shows the figures, the three charts and the named
    questions to check."""
    soffice, pdftoppm = shutil.which("soffice"), shutil.which("pdftoppm")
    book = tmp_path / "course.xlsx"
    book.write_bytes(xlsx)
    # the first page only, at low priority: a suite running beside it keeps its CPU
    first_page = 'pdf:calc_pdf_Export:{"PageRange":{"type":"string","value":"1"}}'
    done = subprocess.run([soffice, f"-env:UserInstallation={(tmp_path / 'lo').as_uri()}",
                           "--headless", "--convert-to", first_page, "--outdir", str(tmp_path),
                           str(book)], capture_output=True, text=True, timeout=180,
                          preexec_fn=lambda: os.nice(10))
    pdf = tmp_path / "course.pdf"
    assert done.returncode == 0 and pdf.exists(), done.stderr
    subprocess.run([pdftoppm, "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile",
                    str(pdf), str(tmp_path / "summary")], check=True, timeout=60)
    png = (tmp_path / "summary.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert width > height > 500                                      # landscape page
    text = subprocess.run(["pdftotext", "-f", "1", "-l", "1", str(pdf), "-"],
                          capture_output=True, text=True, check=True).stdout
    for words in ("AchieveUp course summary", data["course_name"], "Questions to check",
                  "Students per mastery level, by skill", "Course progress (students per band)",
                  "Question difficulty vs discrimination", "To check"):
        assert words in text, words
    for item in (i for i in data["items"] if i["check"]):
        assert f"Q{item['position']}" in text


# ------------------------------------------------------------------ over HTTP


def test_export_of_a_synced_course(client, teacher, synced, canvas_world):
    r = client.get(f"/achieveup/export/{COURSE}?format=xlsx", headers=teacher)
    assert r.status_code == 200 and r.headers["Content-Disposition"].endswith('.xlsx"')
    book = load_workbook(io.BytesIO(r.data))
    assert book.sheetnames == ["Summary", *SECTIONS]
    students = len(canvas_world.student_ids(int(COURSE)))
    figures = {row[0]: row[1] for row in book["Summary"].iter_rows(max_col=2, values_only=True)}
    assert figures["Students"] == students
    header, rows = table(book["Summary"], "Students per mastery level")
    assert [r[0] for r in rows] == ["Cells", "Energy", "Genetics"]
    assert all(sum(r[1:]) == students for r in rows)
    progress = [d["progress"] for d in synced["AchieveUp_Student_Mastery"].find(
        {"course_id": COURSE})]
    assert len(progress) == students
    _, bands = table(book["Summary"], "Course progress")
    assert sum(n for _, n in bands) == students
    assert figures["Mean course progress"] == round(sum(progress) / len(progress), 1)
