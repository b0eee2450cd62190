"""``devtrack plugin new``: write a third-party plugin package that passes the kit as generated.

The package's files are templates under ``templates/`` (package data, ``$name`` placeholders
filled by :class:`string.Template`): a pyproject declaring the entry point the registry scans,
the plugin module, an emulator of the service, and the conformance test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template

from ..integrations.registry import BUILTINS, ENTRY_POINT_GROUP

__all__ = ["ScaffoldError", "Names", "names_for", "scaffold", "FILES"]

#: template name → path in the package (``$module`` is the Python package's name).
FILES: dict[str, str] = {
    "pyproject.toml.tmpl": "pyproject.toml",
    "README.md.tmpl": "README.md",
    "init.py.tmpl": "src/$module/__init__.py",
    "plugin.py.tmpl": "src/$module/plugin.py",
    "emulator.py.tmpl": "src/$module/emulator.py",
    "meta.py.tmpl": "src/$module/meta.py",
    "test_conformance.py.tmpl": "tests/test_conformance.py",
    "test_plugin.py.tmpl": "tests/test_plugin.py",
    "test_meta.py.tmpl": "tests/test_meta.py",
}
NAME_RE = re.compile(r"[a-z][a-z0-9-]{1,38}[a-z0-9]")


class ScaffoldError(ValueError):
    """The package cannot be written; the message says why and what to do instead."""


@dataclass(frozen=True)
class Names:
    """Every spelling of the plugin's name the templates need."""

    name: str  # the plugin id and entry point name: acme-cloud
    module: str  # the Python package: devtrack_acme_cloud
    cls: str  # the class prefix: AcmeCloud
    title: str  # for people: Acme Cloud
    dist: str  # the distribution: devtrack-acme-cloud
    env: str  # the base-URL variable: DEVTRACK_ACME_CLOUD_BASE_URL

    def mapping(self) -> dict[str, str]:
        return {"name": self.name, "module": self.module, "cls": self.cls, "title": self.title,
                "dist": self.dist, "env": self.env, "group": ENTRY_POINT_GROUP}


def names_for(name: str) -> Names:
    """Check ``name`` as a plugin id and spell it every way the package needs."""
    if not NAME_RE.fullmatch(name) or "--" in name:
        raise ScaffoldError(f"{name!r} is not a plugin name: use lower-case letters, digits and single dashes, "
                            "3–40 characters, starting with a letter (e.g. acme or acme-cloud)")
    if name in BUILTINS:
        raise ScaffoldError(f"{name!r} is a built-in integration: a plugin with its id would be refused; pick another name")
    words = name.split("-")
    return Names(name=name, module="devtrack_" + "_".join(words), cls="".join(w.capitalize() for w in words),
                 title=" ".join(w.capitalize() for w in words), dist=f"devtrack-{name}",
                 env=f"DEVTRACK_{'_'.join(words).upper()}_BASE_URL")


def scaffold(name: str, target: Path | None = None) -> tuple[Path, list[Path]]:
    """Write the package for plugin ``name`` into ``target`` (default ``./devtrack-NAME``).

    Refuses a target that exists and is not an empty directory: nothing is overwritten.
    Returns the package directory and the files written.
    """
    names = names_for(name)
    root = (target or Path.cwd() / names.dist).resolve()
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise ScaffoldError(f"{root} already exists and is not empty; nothing written (choose another --dir)")
    values = names.mapping()
    rendered: list[tuple[Path, str]] = []
    templates = resources.files(__package__).joinpath("templates")
    for template, rel in FILES.items():
        text = templates.joinpath(template).read_text(encoding="utf-8")
        rendered.append((root / Template(rel).substitute(values), Template(text).substitute(values)))
    written = []
    try:
        for path, text in rendered:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            written.append(path)
    except OSError as exc:
        raise ScaffoldError(f"cannot write {root}: {exc.strerror or exc}") from None
    return root, written
