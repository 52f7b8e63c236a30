"""Public API compatibility against a base revision: Python signatures and OpenAPI documents.

Python: a module's public names are its `__all__`, else its top-level names not
starting with `_`. Breaking: a public function, class or method removed; a
parameter removed or renamed; a parameter made required, or a new required
one; positional order changed. OpenAPI: a path or operation removed; a new
required parameter or a parameter made required; a request body made required;
a documented success response removed.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from shopfloor.validate.contracts.config import ApiContract
from shopfloor.validate.contracts.result import ContractResult, Violation
from shopfloor.validate.contracts.revisions import check_revision, files_at, files_now

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@dataclass(frozen=True)
class Param:
    name: str
    kind: str  # positional | keyword
    required: bool


def _params(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[Param]:
    args = fn.args
    positional = [*args.posonlyargs, *args.args]
    first_default = len(positional) - len(args.defaults)
    out = [Param(a.arg, "positional", i < first_default) for i, a in enumerate(positional)]
    out += [
        Param(a.arg, "keyword", d is None) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)
    ]
    return [p for p in out if p.name not in ("self", "cls")]


def _public(name: str) -> bool:
    return not name.startswith("_")


def api_of(source: str) -> dict[str, list[Param] | None]:
    """{qualified name: parameters (None for a class or constant)} of a module's public surface."""
    tree = ast.parse(source)
    exported: set[str] | None = None
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            try:
                exported = set(ast.literal_eval(node.value))
            except ValueError:
                exported = None
    out: dict[str, list[Param] | None] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            name = node.name
        else:
            continue
        if not (name in exported if exported is not None else _public(name)):
            continue
        if isinstance(node, ast.ClassDef):
            out[name] = None
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and (
                    _public(item.name) or item.name == "__init__"
                ):
                    out[f"{name}.{item.name}"] = _params(item)
        else:
            out[name] = _params(node)
    return out


def compare_signatures(name: str, old: list[Param], new: list[Param]) -> list[str]:
    problems: list[str] = []
    new_by_name = {p.name: p for p in new}
    old_names = {p.name for p in old}
    for p in old:
        if p.name not in new_by_name:
            problems.append(f"{name}: parameter {p.name!r} removed")
        elif new_by_name[p.name].required and not p.required:
            problems.append(f"{name}: parameter {p.name!r} became required")
    for p in new:
        if p.name not in old_names and p.required:
            problems.append(f"{name}: new required parameter {p.name!r}")
    old_pos = [p.name for p in old if p.kind == "positional"]
    new_pos = [p.name for p in new if p.kind == "positional"]
    common = [n for n in old_pos if n in new_pos]
    if common != [n for n in new_pos if n in old_pos]:
        problems.append(
            f"{name}: positional parameters reordered ({', '.join(old_pos)} → {', '.join(new_pos)})"
        )
    return problems


def python_breaks(old_files: dict[str, str], new_files: dict[str, str]) -> list[Violation]:
    violations: list[Violation] = []
    for path, old_source in sorted(old_files.items()):
        if not path.endswith(".py"):
            continue
        if path not in new_files:
            violations.append(Violation(path, "module removed"))
            continue
        try:
            old_api, new_api = api_of(old_source), api_of(new_files[path])
        except SyntaxError as exc:
            violations.append(Violation(path, f"cannot parse: {exc.msg} (line {exc.lineno})"))
            continue
        for name, params in old_api.items():
            if name not in new_api:
                violations.append(Violation(f"{path}:{name}", "public name removed"))
            elif params is not None and new_api[name] is not None:
                for problem in compare_signatures(name, params, new_api[name] or []):
                    violations.append(Violation(path, problem))
    return violations


def _operations(doc: Any) -> dict[tuple[str, str], dict[str, Any]]:
    paths = (doc or {}).get("paths") or {}
    return {
        (path, method): op or {}
        for path, item in paths.items()
        for method, op in (item or {}).items()
        if method in HTTP_METHODS
    }


def _required_params(op: dict[str, Any]) -> dict[tuple[str, str], bool]:
    return {
        (p.get("in", ""), p.get("name", "")): bool(p.get("required") or p.get("in") == "path")
        for p in op.get("parameters") or []
        if isinstance(p, dict)
    }


def openapi_breaks(where: str, old: Any, new: Any) -> list[Violation]:
    violations: list[Violation] = []
    old_ops, new_ops = _operations(old), _operations(new)
    for (path, method), op in sorted(old_ops.items()):
        label = f"{method.upper()} {path}"
        if (path, method) not in new_ops:
            what = "path removed" if path not in {p for p, _ in new_ops} else "operation removed"
            violations.append(Violation(f"{where} {label}", what))
            continue
        now = new_ops[(path, method)]
        before_params, after_params = _required_params(op), _required_params(now)
        for key, required in after_params.items():
            if required and not before_params.get(key, False):
                state = "became required" if key in before_params else "is new and required"
                violations.append(Violation(f"{where} {label}", f"{key[0]} parameter {key[1]!r} {state}"))
        if (now.get("requestBody") or {}).get("required") and not (op.get("requestBody") or {}).get(
            "required"
        ):
            violations.append(Violation(f"{where} {label}", "request body became required"))
        for code in op.get("responses") or {}:
            if str(code).startswith("2") and code not in (now.get("responses") or {}):
                violations.append(Violation(f"{where} {label}", f"response {code} removed"))
    return violations


def check_api(project: Path, contract: ApiContract, base: str) -> ContractResult:
    check_revision(project, base)
    violations: list[Violation] = []
    modules = 0
    for package in contract.packages:
        before = files_at(project, base, package)
        modules += sum(name.endswith(".py") for name in before)
        violations += python_breaks(before, files_now(project, package, (".py",)))
    for document in contract.openapi:
        old = files_at(project, base, document).get(document)
        if old is None:
            continue  # a new document breaks nothing
        current = project / document
        if not current.is_file():
            violations.append(Violation(document, "OpenAPI document removed"))
            continue
        violations += openapi_breaks(document, yaml.safe_load(old), yaml.safe_load(current.read_text()))
    checked = (
        f"{modules} module(s) in {len(contract.packages)} package(s), "
        f"{len(contract.openapi)} OpenAPI document(s) against {base}"
    )
    return ContractResult(
        "api", not violations, f"{checked}; {len(violations)} breaking change(s)", violations
    )
