"""Rules of the house (docs/DESIGN §3), read from the source with ``ast``.

1. Domain code never imports the front ends: no module of ``beffroi/`` outside ``web/`` and
   ``cli/`` imports ``beffroi.web`` or ``beffroi.cli`` — at module level or inside a
   function. Two top-level modules are front-end glue, not domain code, and are exempt:
   ``__main__.py`` (``python -m beffroi`` runs the CLI) and ``docs.py`` (``beffroi docs``
   renders every command's ``--help`` into docs/reference/cli.md).
2. The front ends are thin: nothing under ``web/`` or ``cli/`` imports ``sqlalchemy`` or
   ``duckdb``; they call services (``beffroi.catalog``, ``beffroi.access``, …). The one
   exception is typing the session the services receive: ``from sqlalchemy.orm import
   Session, sessionmaker`` in ``web/deps.py`` and ``cli/base.py``, where those names are
   used in annotations only (never called to open a session themselves).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "beffroi"
FRONT_ENDS = ("web", "cli")
FRONT_END_GLUE = {"__main__.py", "docs.py"}
DATABASE_LIBRARIES = ("sqlalchemy", "duckdb")
SESSION_TYPING = {"web/deps.py", "cli/base.py"}
SESSION_TYPES = {"Session", "sessionmaker"}


@dataclass(frozen=True)
class Import:
    module: str  # the absolute module imported from (or imported)
    names: tuple[str, ...]  # for ``from module import a, b``; empty for ``import module``
    line: int


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[Import]:
    """Every import of a file, relative ones resolved, wherever they appear."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module_name(path)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    found: list[Import] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [Import(alias.name, (), node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, module] if module else base)
            names = tuple(alias.name for alias in node.names)
            found.append(Import(module, names, node.lineno))
            # ``from beffroi import web`` imports the subpackage itself.
            found += [Import(f"{module}.{name}", (), node.lineno) for name in names]
    return found


def relative(path: Path) -> str:
    return path.relative_to(PACKAGE).as_posix()


def sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def is_front_end(path: Path) -> bool:
    return relative(path).split("/")[0] in FRONT_ENDS


def within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(f"{p}.") for p in prefixes)


def test_sources_are_found() -> None:
    names = {relative(p) for p in sources()}
    assert {"settings.py", "catalog/services.py", "web/app.py", "cli/base.py"} <= names
    assert any(is_front_end(p) for p in sources())
    assert any(not is_front_end(p) for p in sources())


def test_import_parser() -> None:
    """The parser sees nested and relative imports (so the rules below can fail)."""
    sample = PACKAGE / "catalog" / "services.py"
    modules = {i.module for i in imports(sample)}
    assert "beffroi.reference" in modules  # imported inside describe_spatial()
    assert "sqlalchemy" in modules


@pytest.mark.parametrize(
    "path",
    [p for p in sources() if not is_front_end(p) and relative(p) not in FRONT_END_GLUE],
    ids=relative,
)
def test_domain_never_imports_front_ends(path: Path) -> None:
    bad = [
        f"{relative(path)}:{i.line} imports {i.module}"
        for i in imports(path)
        if within(i.module, ("beffroi.web", "beffroi.cli"))
    ]
    assert bad == []


@pytest.mark.parametrize("path", [p for p in sources() if is_front_end(p)], ids=relative)
def test_front_ends_do_not_touch_the_database(path: Path) -> None:
    allowed_here = relative(path) in SESSION_TYPING
    bad = []
    for i in imports(path):
        if not within(i.module, DATABASE_LIBRARIES):
            continue
        if allowed_here and i.module == "sqlalchemy.orm" and set(i.names) <= SESSION_TYPES:
            continue
        if allowed_here and i.module in {f"sqlalchemy.orm.{n}" for n in SESSION_TYPES}:
            continue  # the ``from sqlalchemy.orm import Session`` entry seen as a module
        bad.append(f"{relative(path)}:{i.line} imports {i.module} {list(i.names)}")
    assert bad == [], "call a service of beffroi.catalog / beffroi.access instead"


@pytest.mark.parametrize("name", sorted(SESSION_TYPING))
def test_session_types_are_only_typing(name: str) -> None:
    tree = ast.parse((PACKAGE / name).read_text(encoding="utf-8"))
    calls = [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in SESSION_TYPES
    ]
    assert calls == [], f"{name} builds sessions itself; use beffroi.catalog.db"
