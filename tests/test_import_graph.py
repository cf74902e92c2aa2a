"""The import graph of ``achieveup`` and ``knowgap``: no circles, and the course pipeline's
stages independent of each other.

The graph is read from the source (``ast``), nothing is imported. An edge A -> B is any import
of B in A: at module level or inside a function, since an import moved into a function to
dodge a circle is still a circle (it only fails later, and only on some paths). Modules named
by string for ``importlib`` (the app's blueprint list, ``"module:attribute"``) are edges too.
Importing ``a.b.c`` also runs ``a/__init__.py`` and ``a/b/__init__.py``; those files import
nothing at module level (checked below), so they add no edges.

Rules:

* no circle among the modules of ``achieveup`` and ``knowgap``;
* a stage of the course pipeline (``achieveup.pipeline``) reaches no other stage and not the
  pipeline, directly or through other modules (shared helpers such as ``mastery.store``,
  ``mastery.summaries``, ``mastery.model`` are no stage);
* KnowGap's risk stage reaches nothing of AchieveUp: the pipeline hands it AchieveUp's mastery;
* the job worker does not reach the app factory: its caller hands it the app.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("achieveup", "knowgap")
PIPELINE = "achieveup.pipeline"
#: The stages of a course update, in order, and the modules that are each.
STAGES = {
    "store results": ("achieveup.sync.service",),
    "mastery": ("achieveup.mastery.service",),
    "badges": ("achieveup.badges.service",),
    "insights/engagement": ("achieveup.insights.service",),
    "risk": ("knowgap.risk.service", "knowgap.risk.calc"),
}
BY_NAME = re.compile(r"^((?:achieveup|knowgap)(?:\.\w+)+):\w+$")


class Edge:
    def __init__(self, target: str, line: int, in_function: bool):
        self.target, self.line, self.in_function = target, line, in_function

    def describe(self, source: str) -> str:
        where = " (inside a function)" if self.in_function else ""
        return f"{source}:{self.line} imports {self.target}{where}"


def modules(root: Path, packages=PACKAGES) -> dict[str, Path]:
    out = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            if parts[-1] != "__main__":
                out[".".join(parts)] = path
    return out


def _resolve(name: str, known) -> str | None:
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def import_graph(root: Path = ROOT, packages=PACKAGES) -> dict[str, dict[str, Edge]]:
    """``{module: {imported module: first Edge}}`` for the modules of ``packages``."""
    known = modules(root, packages)
    graph: dict[str, dict[str, Edge]] = {}
    for name, path in known.items():
        edges: dict[str, Edge] = {}
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]

        def add(target, node, in_function):
            target = _resolve(target, known)
            if target and target != name and target not in edges:
                edges[target] = Edge(target, node.lineno, in_function)

        def visit(node, in_function):
            for child in ast.iter_child_nodes(node):
                inside = in_function or isinstance(
                    child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
                if isinstance(child, ast.Import):
                    for alias in child.names:
                        add(alias.name, child, in_function)
                elif isinstance(child, ast.ImportFrom):
                    base = child.module or ""
                    if child.level:
                        parent = package.rsplit(".", child.level - 1)[0] if child.level > 1 \
                            else package
                        base = f"{parent}.{base}" if base else parent
                    for alias in child.names:
                        full = f"{base}.{alias.name}"
                        add(full if full in known else base, child, in_function)
                elif isinstance(child, ast.Constant) and isinstance(child.value, str):
                    match = BY_NAME.match(child.value)
                    if match:
                        add(match.group(1), child, in_function)
                visit(child, inside)

        visit(ast.parse(path.read_text(), str(path)), False)
        graph[name] = edges
    return graph


def circles(graph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict = {}
    low: dict = {}
    stack: list = []
    on_stack: set = set()
    found = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, {})))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def reach(graph, start: str) -> dict[str, list[str]]:
    """Every module ``start`` reaches, with one path to it."""
    paths = {start: [start]}
    todo = [start]
    while todo:
        node = todo.pop()
        for child in sorted(graph.get(node, {})):
            if child not in paths:
                paths[child] = paths[node] + [child]
                todo.append(child)
    return paths


def _explain(graph, path: list[str]) -> str:
    return "; ".join(graph[a][b].describe(a) for a, b in zip(path, path[1:]))


def problems(graph, stages=STAGES, pipeline=PIPELINE) -> list[str]:
    out = []
    for component in circles(graph):
        ties = [graph[a][b].describe(a) for a in component for b in graph[a] if b in component]
        out.append("circle: " + "; ".join(ties))
    for stage, members in stages.items():
        others = {m: s for s, ms in stages.items() if s != stage for m in ms}
        others[pipeline] = "the pipeline"
        for member in members:
            for target, path in reach(graph, member).items():
                if target in others:
                    out.append(f"stage {stage!r} reaches {others[target]!r}: "
                               + _explain(graph, path))
    return out


def test_no_circles_and_stages_apart():
    graph = import_graph()
    for stage in STAGES.values():
        for member in stage:
            assert member in graph, f"stage module {member} is gone: update STAGES"
    found = problems(graph)
    assert not found, "\n".join(found)
    assert PIPELINE in graph


def test_risk_reads_nothing_of_achieveup_and_the_worker_gets_its_app():
    graph = import_graph()
    for member in STAGES["risk"]:
        paths = reach(graph, member)
        leaks = [_explain(graph, p) for t, p in paths.items()
                 if t.startswith("achieveup") and not p[-2].startswith("achieveup")]
        assert not leaks, "\n".join(leaks)
    paths = reach(graph, "knowgap.jobs.worker")
    assert "knowgap.app" not in paths, _explain(graph, paths.get("knowgap.app", []))


def test_package_init_files_import_nothing_at_module_level():
    for name, path in modules(ROOT).items():
        if path.name == "__init__.py":
            top = [n for n in ast.parse(path.read_text()).body
                   if isinstance(n, (ast.Import, ast.ImportFrom)) and n.module != "__future__"]
            assert not top, f"{path}: an __init__ that imports adds edges this test misses"


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_the_rules_catch_a_dodged_circle_and_a_stage_reaching_another(tmp_path):
    root = _tree(tmp_path, {
        "achieveup/__init__.py": "",
        "achieveup/mastery/__init__.py": "",
        "achieveup/mastery/service.py": "def f():\n    from achieveup.badges import service\n",
        "achieveup/mastery/store.py": "X = 1\n",
        "achieveup/badges/__init__.py": "",
        "achieveup/badges/service.py": "from achieveup.mastery import service as m\n",
        "achieveup/pipeline.py": "from achieveup.mastery import service\n",
        "achieveup/insights/__init__.py": "",
        "achieveup/insights/service.py": "from .helper import x\n",
        "achieveup/insights/helper.py": "from achieveup.mastery.store import X\n"
                                        "import achieveup.pipeline\n",
    })
    graph = import_graph(root, ("achieveup",))
    assert graph["achieveup.insights.service"]["achieveup.insights.helper"].line == 1
    found = problems(graph, stages={"mastery": ("achieveup.mastery.service",),
                                    "badges": ("achieveup.badges.service",),
                                    "insights": ("achieveup.insights.service",)},
                     pipeline="achieveup.pipeline")
    text = "\n".join(found)
    assert "circle: " in text and "(inside a function)" in text
    assert "stage 'badges' reaches 'mastery'" in text
    assert "stage 'insights' reaches 'the pipeline'" in text and "helper.py" not in text
    assert "achieveup.insights.helper:2 imports achieveup.pipeline" in text
    assert not any("mastery.store" in line for line in found)
