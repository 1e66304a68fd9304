"""The code's shape, checked in seconds: no import cycles between the console's modules, every job
kind complete, every permission declared."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("citusadmin", "accounts", "audit", "clusters", "nodes", "tables", "jobs", "monitoring", "selfservice")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """Every module this one imports, at the top or inside a function (an import moved into a function
    to dodge a cycle is still a cycle), except under ``if TYPE_CHECKING``."""
    tree = ast.parse(path.read_text(), str(path))
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(n) for child in node.body for n in ast.walk(child))
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {m for m in found if m in modules}


def _graph() -> dict[str, set[str]]:
    files = [p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py") if "migrations" not in p.parts]
    modules = {_module_name(p): p for p in files}
    graph = {}
    for name, path in modules.items():
        deps = _imports(path, set(modules))
        deps.discard(name)
        graph[name] = deps
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def connect(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return out


def _parents_import_children(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """A package's ``__init__`` importing its own submodules is how a registry is built, not a
    cycle: drop those edges (``jobs.kinds`` -> ``jobs.kinds.drain``)."""
    return {m: {d for d in deps if not d.startswith(m + ".")} for m, deps in graph.items()}


def test_no_import_cycles_between_the_consoles_modules():
    cycles = _cycles(_parents_import_children(_graph()))
    assert cycles == [], "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_the_cycle_check_would_see_one():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_every_job_kind_has_a_label_a_declared_permission_and_a_preview():
    from citusadmin.perms import Perm, declared_permissions
    from jobs.kinds import KINDS, Mode
    from jobs.kinds.base import JobKind

    declared = declared_permissions()
    assert len(KINDS) >= 10
    for name, kind in KINDS.items():
        assert isinstance(kind, JobKind) and kind.name == name and len(name) <= 30
        assert kind.label.strip(), name
        assert isinstance(kind.perm, Perm) and kind.perm.value in declared, (name, kind.perm)
        assert kind.mode in Mode
        preview = kind.preview(kind.Params())
        assert preview and all(isinstance(s, str) and s for s in preview), name
        if kind.mode != Mode.LOCAL:  # what is previewed is what is sent
            assert preview[-1] == kind.statement(kind.Params()).as_string()


def test_every_permission_is_declared_and_every_role_uses_declared_ones():
    from accounts.roles import ROLE_PERMISSIONS
    from citusadmin.perms import Perm, declared_permissions

    declared = declared_permissions()
    assert {p.value for p in Perm} <= declared
    for role, perms in ROLE_PERMISSIONS.items():
        assert all(isinstance(p, Perm) for p in perms), role


def test_the_system_check_names_an_undeclared_permission(monkeypatch):
    from citusadmin import checks

    monkeypatch.setattr(checks, "declared_permissions", lambda: {"jobs.view_job"})
    errors = checks.permissions_declared(None)
    assert errors and errors[0].id == "citusadmin.E020" and "nodes.add_node" in errors[0].msg


@pytest.mark.parametrize("name", ["rebalance", "analyze", "drain_and_remove"])
def test_params_of_a_stored_job_load_without_the_runners_bookkeeping(name):
    from jobs.kinds import kind

    k = kind(name)
    stored = {**k.Params().dump(), "citus_job_id_floor": 7, "cleanup_wait_since": "x", "requested_by": "ann"}
    assert k.Params.load(stored) == k.Params()


def test_views_never_open_a_cluster_session():
    """Views call the apps' read and action functions; only those (and jobs, the collector) hold a
    gateway session (citusadmin/citus/connection.py)."""
    offenders = []
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("views.py"):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.module == "citusadmin.citus.connection":
                    offenders.append(f"{path.relative_to(ROOT)} imports {[a.name for a in node.names]}")
    assert offenders == []


def test_the_audit_trail_takes_declared_action_names_only(db):
    from audit.actions import record
    from audit.names import Action, JobEvent, job_action, known
    from citusadmin.perms import Perm

    assert known(Action.ADD_NODE) and known(Perm.ADD_NODE)  # a refusal names the missing permission
    assert known(job_action("rebalance", JobEvent.START)) and not known("jobs.no_such_kind.start")
    assert not known("jobs.rebalance.exploded") and not known("nodes.add_nod")
    with pytest.raises(ValueError, match=r"undeclared audit action 'nodes\.add_nod'"):
        record(None, "nodes.add_nod", "succeeded")


def test_the_start_up_checks_pass_and_name_a_bad_action(monkeypatch):
    from audit import names
    from citusadmin import checks

    assert checks.permissions_declared(None) == []
    assert checks.job_kinds_complete(None) == []
    assert checks.audit_actions_declared(None) == []

    class Bad(names.StrEnum):
        TYPO = "nodez.add_node"

    monkeypatch.setattr(names, "Action", Bad)
    errors = checks.audit_actions_declared(None)
    assert errors and errors[0].id == "citusadmin.E022" and "nodez.add_node" in errors[0].msg


@pytest.mark.parametrize(("given", "expected"), [("17", 17), ("²", None), ("٣", None), ("", None), (None, None)])
def test_an_error_position_from_the_server_is_read_only_as_ascii_digits(given, expected):
    import psycopg

    from citusadmin.citus import errors

    class Diag:
        statement_position = given
        message_primary, message_detail, message_hint, sqlstate = "boom", None, None, "42703"

    class Fake(psycopg.errors.UndefinedColumn):
        @property
        def diag(self):  # type: ignore[override]
            return Diag()

        @property
        def sqlstate(self):  # type: ignore[override]
            return "42703"

    assert errors.translate(Fake("boom")).position == expected
