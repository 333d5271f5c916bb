"""asckit's own modules copied into a package that must run without asckit (the 2025 inference package).

One job: find the modules a piece of code needs, check that they may travel, and copy them. The
organizers install only the submitted package, so its model and frontend code cannot import asckit;
writing a second copy of that code by hand would let the two drift apart. So the modules are copied
verbatim, with one change: each ``from asckit.x.y import ...`` becomes the relative import of the
copy (``from ..x.y import ...``), on the statement's first line (no other line moves).

Which modules: the closure of the roots under imports, found by reading the sources with ``ast``
(module-level and function-level imports alike, since a function's import runs when it is called).
Each module reached must be listed in the caller's ``allowed`` set, and every module it imports
outside asckit must be the standard library or ``THIRD_PARTY`` (torch, numpy, soundfile); an
``OPTIONAL_THIRD_PARTY`` module (scipy) only inside ``try`` with an ``except ImportError``. Anything
else is refused (``AsckitError``): a module that drags in more is moved apart in asckit instead
(``asckit.audio.clip`` left soxr in ``asckit.audio.io``, ``asckit.features.tau22_wave`` left the store in
``asckit.features.waves``). asckit's ``__init__`` files are never copied (they import whole packages): a
``from asckit.pkg import name`` must name a module, and each copied folder gets an ``__init__.py`` of
its own that imports nothing.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from asckit.core.errors import AsckitError

#: Packages outside the standard library that copied code may import.
THIRD_PARTY: frozenset[str] = frozenset({"torch", "numpy", "soundfile"})
#: Packages copied code may try to import, falling back when they are missing (``except ImportError``).
OPTIONAL_THIRD_PARTY: frozenset[str] = frozenset({"scipy"})
ROOT_PACKAGE = "asckit"
_IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError"}


@dataclass(frozen=True)
class VendoredModule:
    """One copied module: its asckit name, where it was read and its text with imports made relative."""

    name: str
    source: Path
    text: str

    @property
    def relative_path(self) -> Path:
        """Its path inside the copy's folder (``asckit.models.cp_mobile`` → ``models/cp_mobile.py``)."""
        return Path(*self.name.split(".")[1:]).with_suffix(".py")


def module_source(name: str) -> Path:
    """The ``.py`` file of the asckit module ``name``."""
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        raise AsckitError(f"{name}: no such asckit source module; the copy needs the installed asckit's .py files (reinstall asckit)")
    return Path(spec.origin)


def _is_package(name: str) -> bool:
    return module_source(name).name == "__init__.py"


def _guarded(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """Whether ``node`` lies in the body of a ``try`` that catches ImportError."""
    child, parent = node, parents.get(node)
    while parent is not None:
        if isinstance(parent, ast.Try) and child in parent.body:
            for handler in parent.handlers:
                caught = handler.type
                names = caught.elts if isinstance(caught, ast.Tuple) else [caught]
                if any(isinstance(n, ast.Name) and n.id in _IMPORT_ERRORS for n in names):
                    return True
        child, parent = parent, parents.get(parent)
    return False


def _outside_import(top: str, node: ast.AST, parents: dict[ast.AST, ast.AST], where: str) -> None:
    """Refuse an import of ``top`` (not asckit) that the copy may not hold."""
    if top in sys.stdlib_module_names or top in THIRD_PARTY:
        return
    if top in OPTIONAL_THIRD_PARTY and _guarded(node, parents):
        return
    kinds = ", ".join(sorted(THIRD_PARTY))
    raise AsckitError(
        f"{where}: imports {top}, which the self-contained package cannot hold (only the standard library, {kinds}, "
        f"and {', '.join(sorted(OPTIONAL_THIRD_PARTY))} inside try/except ImportError); move that code apart in asckit"
    )


def imported_modules(text: str, where: str, relative: bool = False) -> list[str]:
    """The asckit modules the source ``text`` imports (module- and function-level), after checking every
    other import it makes (module docstring); ``where`` names the source in errors. Relative imports
    are refused (asckit imports absolutely), or skipped with ``relative`` (a template's own modules)."""
    tree = ast.parse(text, filename=where)
    parents = {child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                if top == ROOT_PACKAGE:
                    raise AsckitError(f"{where}: `import {alias.name}`; the copy rewrites only `from asckit.x import name`: use that form")
                _outside_import(top, node, parents, where)
        elif isinstance(node, ast.ImportFrom):
            if node.level and relative:
                continue
            if node.level:
                raise AsckitError(
                    f"{where}: a relative import (line {node.lineno}); asckit's modules import absolutely: use `from asckit.x import name`"
                )
            top = (node.module or "").split(".")[0]
            if top != ROOT_PACKAGE:
                _outside_import(top, node, parents, where)
                continue
            found += _from_asckit(node, where)
    return list(dict.fromkeys(found))


def _from_asckit(node: ast.ImportFrom, where: str) -> list[str]:
    """The modules a ``from asckit... import ...`` needs: the named module, or the submodules it names."""
    module = node.module or ""
    if not _is_package(module):
        return [module]
    names = [f"{module}.{alias.name}" for alias in node.names]
    missing = [n for n in names if importlib.util.find_spec(n) is None]
    if missing:
        raise AsckitError(
            f"{where}: imports {missing[0].rsplit('.', 1)[1]} from the package {module}'s __init__, which is not copied; "
            "import it from the module that defines it"
        )
    return names


def closure(roots: Iterable[str], allowed: Iterable[str]) -> dict[str, Path]:
    """Every asckit module the ``roots`` need, by name → source file; each must be in ``allowed``."""
    allowed = set(allowed)
    found: dict[str, Path] = {}
    pending: list[tuple[str, str | None]] = [(root, None) for root in roots]
    while pending:
        name, importer = pending.pop()
        if name in found:
            continue
        if name not in allowed:
            by = f" (imported by {importer})" if importer else ""
            raise AsckitError(
                f"{name}{by}: needed by the self-contained package but not in its list of modules to copy; "
                "add it to the list if it imports only what may travel, or move the needed code apart"
            )
        source = module_source(name)
        found[name] = source
        pending += [(module, name) for module in imported_modules(source.read_text(encoding="utf-8"), name)]
    return dict(sorted(found.items()))


def relative_module(importer: str, target: str) -> str:
    """``target`` as a relative import from the module ``importer`` (both absolute asckit names):
    ``asckit.models.blocks`` importing ``asckit.core.errors`` → ``..core.errors``."""
    package = importer.split(".")[:-1]
    parts = target.split(".")
    common = 0
    while common < min(len(package), len(parts)) and package[common] == parts[common]:
        common += 1
    return "." * (len(package) - common + 1) + ".".join(parts[common:])


def rewrite_imports(text: str, name: str) -> str:
    """``text`` of the module ``name`` with each ``from asckit.x import`` made relative, nothing else changed."""
    lines = text.splitlines(keepends=True)
    for node in ast.walk(ast.parse(text, filename=name)):
        if not (isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").split(".")[0] == ROOT_PACKAGE):
            continue
        line = lines[node.lineno - 1]
        head = re.compile(rf"from\s+{re.escape(node.module)}\s+import\b")
        match = head.match(line, node.col_offset)
        if match is None:
            raise AsckitError(f"{name}: line {node.lineno}: cannot rewrite `{line.strip()}`; write the import on one `from ... import` line")
        relative = f"from {relative_module(name, node.module)} import"
        lines[node.lineno - 1] = line[: match.start()] + relative + line[match.end() :]
    rewritten = "".join(lines)
    left = [
        n for n in ast.walk(ast.parse(rewritten))
        if isinstance(n, ast.ImportFrom) and not n.level and (n.module or "").split(".")[0] == ROOT_PACKAGE
    ]
    if left:
        raise AsckitError(f"{name}: line {left[0].lineno} still imports asckit after the rewrite; write that import on one line")
    return rewritten


def vendored_modules(roots: Iterable[str], allowed: Iterable[str]) -> list[VendoredModule]:
    """The copies of the ``roots``' closure (``closure``), their imports made relative."""
    return [
        VendoredModule(name, source, rewrite_imports(source.read_text(encoding="utf-8"), name))
        for name, source in closure(roots, allowed).items()
    ]


def template_roots(text: str, where: str, folder: str) -> list[str]:
    """The asckit modules a template file imports as ``from .<folder>.x.y import ...`` (its copies of
    ``asckit.x.y``), after checking its other imports by the rules of a copied module."""
    if imported_modules(text, where, relative=True):
        raise AsckitError(f"{where}: imports asckit itself; a template imports the copies, `from .{folder}.x import name`")
    roots = []
    for node in ast.walk(ast.parse(text, filename=where)):
        if isinstance(node, ast.ImportFrom) and node.level == 1 and (node.module or "").split(".")[0] == folder:
            roots.append(".".join([ROOT_PACKAGE, *node.module.split(".")[1:]]))
    return list(dict.fromkeys(roots))


__all__ = [
    "OPTIONAL_THIRD_PARTY",
    "THIRD_PARTY",
    "VendoredModule",
    "closure",
    "imported_modules",
    "module_source",
    "relative_module",
    "rewrite_imports",
    "template_roots",
    "vendored_modules",
]
