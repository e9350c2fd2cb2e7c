"""Config audit of a bundle from elsewhere: MONAI bundle configs execute Python, so every ``_target_`` and every
``$`` expression is listed and checked against what this project's bundles legitimately use, before anything runs.

Allowed components: dotted paths under :data:`NAMESPACES`, and bare names that MONAI itself resolves to one of its
components (MONAI would otherwise hand a bare name to ``pydoc.locate``, which finds ``eval`` too). Allowed expressions
(parsed with :mod:`ast`, never evaluated): names rooted in :data:`NAMESPACES` or :data:`SAFE_BUILTINS`, ``@`` references,
lambda parameters, ``os.path`` string and existence helpers, ``setattr`` on ``torch.backends`` only, and imports of
those modules. Refused: every other name (``os.system``, ``subprocess``, ``eval``, ``exec``, ``__import__``,
``importlib``, ``open``, ``getattr``, ``builtins``...), any attribute starting with ``_`` (the way out of every Python
sandbox), :data:`DENIED` parts of the allowed namespaces (``torch.hub``, ``torch.load``...), MONAI's ``debug``
``_mode_``, and ``%`` macros that point outside the bundle.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator

NAMESPACES = ("monai", "torch", "ignite", "msmonai", "numpy")
SAFE_BUILTINS = frozenset({
    "abs", "all", "any", "bool", "dict", "enumerate", "float", "int", "isinstance", "len", "list", "max", "min",
    "range", "round", "sorted", "str", "sum", "tuple", "zip",
})
OS_PATH_HELPERS = frozenset({"join", "dirname", "basename", "splitext", "normpath", "abspath", "isfile", "isdir",
                             "exists"})
MODES = ("default", "callable")  # MONAI's "debug" mode starts pdb
DENIED = (  # inside the allowed namespaces: what loads or runs code from elsewhere, or reaches the network
    "torch.hub", "torch.load", "torch.package", "torch.utils.cpp_extension", "torch.ops.load_library",
    "torch.classes.load_library", "torch.utils.model_zoo", "numpy.load", "numpy.ctypeslib", "monai.bundle",
    "monai.apps", "msmonai.bundle_tools",
)
_REFERENCE = re.compile(r"@[\w#]+")


@dataclass(frozen=True)
class Finding:
    """One ``_target_`` or ``$`` expression: where it is, its text, and why it is refused (None: allowed)."""

    file: str
    id: str
    kind: str  # "_target_", "$", "_mode_" or "%"
    text: str
    problem: str | None = None

    def line(self) -> str:
        verdict = f"REFUSED: {self.problem}" if self.problem else "ok"
        return f"{self.file} {self.id} {self.kind} {self.text!r}: {verdict}"


def audit_configs(configs_dir: str | Path, shown: str = "configs") -> list[Finding]:
    """Every ``_target_``, ``$`` expression, ``_mode_`` and ``%`` macro of the ``*.json`` / ``*.yaml`` configs in
    ``configs_dir``, each with its verdict; files named as ``shown/<name>``.

    MONAI runs a config's ``$import`` expressions in one namespace shared by all expressions, so the names they bind
    (``import torch.distributed as dist``) are gathered from every config first.
    """
    found: list[Finding] = []
    for path in sorted(Path(configs_dir).iterdir()):
        if path.suffix == ".json" and path.name != "metadata.json":
            found += _walk(json.loads(path.read_text(encoding="utf-8")), f"{shown}/{path.name}", "")
        elif path.suffix in (".yaml", ".yml"):
            import yaml

            found += _walk(yaml.safe_load(path.read_text(encoding="utf-8")), f"{shown}/{path.name}", "")
    aliases = {name: name for name in (*NAMESPACES, "os")}  # name in an expression -> module path it stands for
    for finding in found:
        if finding.kind == "$":
            _bind_imports(finding.text[1:], aliases)
    return [replace(f, problem=_expression_problem(f.text[1:], aliases)) if f.kind == "$" else f for f in found]


def _bind_imports(source: str, aliases: dict[str, str]) -> None:
    """Add the names an import expression binds, when it imports an allowed module (the others are refused)."""
    try:
        tree = ast.parse(_REFERENCE.sub("_ref", source), mode="exec")
    except SyntaxError:
        return
    for bound, stands_for, imported in _imports(tree):
        if _import_problem(imported) is None:
            aliases[bound] = stands_for


def _imports(tree: ast.AST) -> Iterator[tuple[str, str, str]]:
    """``(name bound, module path it stands for, module imported)`` of each import in ``tree``: ``import a.b`` binds
    ``a`` to ``a``, ``import a.b as c`` binds ``c`` to ``a.b``, ``from a import b`` binds ``b`` to ``a.b``."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                imported = f"{node.module}.{alias.name}" if isinstance(node, ast.ImportFrom) else alias.name
                if alias.asname or isinstance(node, ast.ImportFrom):
                    yield alias.asname or alias.name, imported, imported
                else:
                    yield imported.split(".")[0], imported.split(".")[0], imported


def _import_problem(module: str) -> str | None:
    if module.split(".", 1)[0] not in NAMESPACES and module not in ("os", "os.path"):
        return f"imports {module}"
    return _denied(module)


def _walk(value, file: str, id_: str) -> Iterator[Finding]:
    if isinstance(value, dict):
        for key, item in value.items():
            child = f"{id_}#{key}" if id_ else str(key)
            if key == "_target_" and isinstance(item, str):
                yield Finding(file, child, "_target_", item, _target_problem(item))
            elif key == "_mode_":
                yield Finding(file, child, "_mode_", str(item), None if item in MODES else f"a mode other than {MODES}")
            else:
                yield from _walk(item, file, child)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, file, f"{id_}#{index}")
    elif isinstance(value, str) and value.startswith("$"):
        yield Finding(file, id_, "$", value)  # judged by audit_configs, which knows every import
    elif isinstance(value, str) and value.startswith("%"):
        macro_file = value[1:].split("#", 1)[0]
        outside = macro_file and (macro_file.startswith("/") or ".." in Path(macro_file).parts)
        yield Finding(file, id_, "%", value, "a macro reading a file outside the bundle" if outside else None)


def _target_problem(target: str) -> str | None:
    if "." in target:
        if target.split(".", 1)[0] not in NAMESPACES or any(part.startswith("_") for part in target.split(".")):
            return f"component outside {', '.join(NAMESPACES)}"
        return _denied(target)
    from monai.bundle.config_item import ComponentLocator  # heavy import: only for bare names

    if ComponentLocator().get_component_module_name(target) is None:
        return "a bare name that is not a MONAI component (MONAI would look it up anywhere, eval included)"
    return None


def _denied(dotted: str) -> str | None:
    for prefix in DENIED:
        if dotted == prefix or dotted.startswith(prefix + "."):
            return f"uses {dotted} (loads or runs code from outside the bundle)"
    return None


def _expression_problem(source: str, aliases: dict[str, str]) -> str | None:
    """Why the expression (without its ``$``) is refused, or None; ``aliases`` maps the names imports bind."""
    try:
        tree = ast.parse(_REFERENCE.sub("_ref", source), mode="exec")
    except SyntaxError:
        return "not a Python expression this audit can read"
    local = set(SAFE_BUILTINS) | {"_ref"}
    for _, _, imported in _imports(tree):
        if _import_problem(imported):
            return _import_problem(imported)
    for node in ast.walk(tree):  # names bound inside the expression itself
        if isinstance(node, ast.arg):
            local.add(node.arg)
        elif isinstance(node, ast.comprehension):
            local |= {n.id for n in ast.walk(node.target) if isinstance(n, ast.Name)}
    called = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            return f"reaches the private attribute {node.attr}"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "setattr":
            if not (node.args and _resolved(node.args[0], aliases).startswith("torch.backends.")):
                return "setattr outside torch.backends"
        elif isinstance(node, ast.Name) and node.id == "setattr":
            if id(node) not in called:
                return "uses setattr as a value"
        elif isinstance(node, ast.Name) and node.id not in local and node.id not in aliases:
            return f"uses {node.id}"
    for node in ast.walk(tree):
        chain = _resolved(node, aliases) if isinstance(node, (ast.Attribute, ast.Name)) else ""
        if chain == "os" and not _is_attribute_root(tree, node):
            return "uses os itself"
        if chain.startswith("os.") and chain != "os.path" and chain.removeprefix("os.path.") not in OS_PATH_HELPERS:
            return f"uses {chain}"
        if chain and _denied(chain):
            return _denied(chain)
    return None


def _resolved(node: ast.AST, aliases: dict[str, str]) -> str:
    """The dotted path of a Name/Attribute chain with its first name replaced by the module it is an alias of."""
    dotted = _dotted(node)
    root, _, rest = dotted.partition(".")
    if root not in aliases:
        return ""
    return f"{aliases[root]}.{rest}" if rest else aliases[root]


def _dotted(node: ast.AST) -> str:
    """``a.b.c`` of a Name/Attribute chain, '' for anything else."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return ""
    return ".".join([node.id, *reversed(parts)])


def _is_attribute_root(tree: ast.AST, name: ast.Name) -> bool:
    return any(isinstance(n, ast.Attribute) and n.value is name for n in ast.walk(tree))
