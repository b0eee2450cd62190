"""The AI add-on sits on the core, and the web app on both: imports run one way only.

Two import circles used to join them: the integration manager installed the AI package's save
hook in its own constructor (``integrations.manager`` → ``ai.sync`` → ``integrations.manager``),
and the AI package's web adapter imported the web app's models (``ai.web`` ↔ ``web.ai``). The
check reads every import statement, those inside functions included.
"""

from __future__ import annotations

import ast
from pathlib import Path

import devtrack

SRC = Path(devtrack.__file__).parent


def _imports(path: Path) -> set[str]:
    """Absolute names of the ``devtrack`` modules and packages one file imports."""
    package = ["devtrack", *path.relative_to(SRC).parent.parts]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            target = ".".join([*base, *([node.module] if node.module else [])])
            out.add(target)
            out.update(f"{target}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return {name for name in out if name.startswith("devtrack")}


def _of(folder: str) -> dict[str, set[str]]:
    return {str(p.relative_to(SRC)): _imports(p) for p in sorted((SRC / folder).rglob("*.py"))}


def test_the_ai_package_never_imports_the_web_app() -> None:
    offenders = {f: sorted(i for i in names if i.startswith("devtrack.web"))
                 for f, names in _of("ai").items()}
    assert {f: v for f, v in offenders.items() if v} == {}


def test_the_integrations_core_never_imports_the_ai_package() -> None:
    offenders = {f: sorted(i for i in names if i.startswith("devtrack.ai"))
                 for f, names in _of("integrations").items()}
    assert {f: v for f, v in offenders.items() if v} == {}
