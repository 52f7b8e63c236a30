"""Test quality, for the tests the agent wrote: assert-free tests, and mutation testing.

The tests are the files `paths` names, else the test files added or changed
since the base revision. An assert-free test (no `assert`, no `pytest.raises`
/ `warns`, no `self.assert*`, no `fail(...)`) is a violation. Mutation testing:
the tests run under coverage in a sandbox; each covered line of the code under
test gets mutants (see `mutants.py`), at most `max_mutants`; each mutant runs
the tests in a sandboxed copy of the project, and must make them fail. The
mutation score (killed / tried) must reach `min_mutation_score`.
"""

from __future__ import annotations

import ast
import fnmatch
import json
import shlex
import shutil
import tempfile
from pathlib import Path

from shopfloor.errors import UserError
from shopfloor.sandbox.bwrap import SandboxedExecutionEnvironment
from shopfloor.sandbox.policy import SandboxPolicy
from shopfloor.validate.contracts.config import AgentTestsContract
from shopfloor.validate.contracts.mutants import Mutant, mutants_of, spread
from shopfloor.validate.contracts.result import ContractResult, Violation
from shopfloor.validate.contracts.revisions import changed_files
from shopfloor.validate.leaks import SKIPPED_DIRS
from shopfloor.validate.toolchain import sandbox_path

PYTEST_PREFIX = "python -m pytest"
TEST_FILE_GLOBS = ("test_*.py", "*_test.py")
_ASSERTING_CALLS = {"raises", "warns", "fail", "deprecated_call", "approx"}


def _is_test_file(path: str) -> bool:
    return any(fnmatch.fnmatch(Path(path).name, g) for g in TEST_FILE_GLOBS)


def select_tests(project: Path, contract: AgentTestsContract, base: str | None) -> list[str]:
    if contract.paths:
        found = {str(p.relative_to(project)) for g in contract.paths for p in project.glob(g) if p.is_file()}
        return sorted(found)
    if base is None:
        raise UserError(
            "no tests to judge",
            where="[contracts.tests]",
            fix="list the agent's tests in paths = [...] or give a base revision (--base)",
        )
    return [p for p in changed_files(project, base) if _is_test_file(p) and (project / p).is_file()]


def _asserts(fn: ast.AST) -> bool:
    for node in ast.walk(fn):
        if isinstance(node, ast.Assert):
            return True
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name.startswith("assert") or name in _ASSERTING_CALLS:
                return True
    return False


def assert_free_tests(project: Path, tests: list[str]) -> list[Violation]:
    out: list[Violation] = []
    for test in tests:
        tree = ast.parse((project / test).read_text())
        for node in ast.walk(tree):
            function = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            if function and node.name.startswith("test") and not _asserts(node):
                out.append(Violation(f"{test}:{node.lineno}", f"{node.name} asserts nothing"))
    return out


def _pytest_args(contract: AgentTestsContract) -> list[str]:
    argv = shlex.split(contract.test_command)
    if argv[:3] != ["python", "-m", "pytest"]:
        raise UserError(
            f"test_command must start with `{PYTEST_PREFIX}` for mutation testing",
            where="[contracts.tests].test_command",
            fix=f'write e.g. "{PYTEST_PREFIX} -q -x"',
        )
    return argv[3:]


def _run(
    env: SandboxedExecutionEnvironment, argv: list[str], contract: AgentTestsContract
) -> tuple[int, str]:
    result = env.run(
        argv, timeout_ms=int(contract.timeout_s * 1000), env_vars={**sandbox_path(), **contract.env}
    )
    return result.exit_code, result.output


def covered_lines(
    env: SandboxedExecutionEnvironment, contract: AgentTestsContract, tests: list[str], project: Path
) -> dict[str, set[int]]:
    """{source file relative to the project: executed lines} while the tests run (tests excluded)."""
    script = (
        "python -m coverage run --data-file=/tmp/.sf-coverage -m pytest "
        f"{shlex.join([*_pytest_args(contract), *tests])} >/tmp/.sf-tests.log 2>&1; status=$?; "
        "python -m coverage json -q --data-file=/tmp/.sf-coverage -o /tmp/.sf-coverage.json "
        "&& cat /tmp/.sf-coverage.json; exit $status"
    )
    code, output = _run(env, ["/bin/sh", "-c", script], contract)
    if code != 0:
        raise _TestsFail(f"the tests fail before any mutation (exit {code})")
    data = json.loads(output[output.index("{") :])
    out: dict[str, set[int]] = {}
    for name, info in data.get("files", {}).items():
        path = Path(name)
        relative = str(path.relative_to(project)) if path.is_absolute() else name
        if (
            relative.startswith("..")
            or _is_test_file(relative)
            or SKIPPED_DIRS.intersection(Path(relative).parts)
        ):
            continue
        if contract.source and not any(fnmatch.fnmatch(relative, g) for g in contract.source):
            continue
        if relative.endswith("conftest.py"):
            continue
        out[relative] = set(info.get("executed_lines", []))
    return out


class _TestsFail(Exception):
    pass


def run_mutants(
    project: Path,
    contract: AgentTestsContract,
    tests: list[str],
    hidden_paths: list[Path],
) -> tuple[list[Mutant], list[Mutant], str | None]:
    """(tried, survivors, problem): mutants run against a sandboxed copy of the project."""
    with tempfile.TemporaryDirectory(prefix="shopfloor-mutants-") as tmp:
        copy = Path(tmp) / "project"
        shutil.copytree(project, copy, ignore=shutil.ignore_patterns(*SKIPPED_DIRS), symlinks=True)
        policy = SandboxPolicy().with_overrides(
            hidden_paths=[*SandboxPolicy().hidden_paths, *(str(p) for p in hidden_paths)]
        )
        with SandboxedExecutionEnvironment(copy, policy) as env:
            try:
                coverage = covered_lines(env, contract, tests, copy)
            except _TestsFail as exc:
                return [], [], str(exc)
            candidates: list[Mutant] = []
            for relative, lines in sorted(coverage.items()):
                try:
                    candidates += mutants_of(relative, (copy / relative).read_text(), lines)
                except SyntaxError:
                    continue
            tried = spread(candidates, contract.max_mutants)
            survivors: list[Mutant] = []
            argv = ["python", "-m", "pytest", *_pytest_args(contract), *tests]
            for mutant in tried:
                target = copy / mutant.path
                original = target.read_text()
                target.write_text(mutant.source)
                try:
                    code, _ = _run(env, argv, contract)
                finally:
                    target.write_text(original)
                if code == 0:
                    survivors.append(mutant)
    return tried, survivors, None


def check_tests(
    project: Path, contract: AgentTestsContract, base: str | None, hidden_paths: list[Path]
) -> ContractResult:
    tests = select_tests(project, contract, base)
    if not tests:
        return ContractResult("tests", True, "no tests written since the base revision: nothing to judge")
    violations = assert_free_tests(project, tests)
    measured: dict[str, object] = {"tests": tests, "assert_free": len(violations)}
    summary = f"{len(tests)} test file(s); {len(violations)} assert-free test(s)"
    if contract.mutation:
        tried, survivors, problem = run_mutants(project, contract, tests, hidden_paths)
        if problem:
            violations.append(Violation("tests", problem))
            summary += f"; mutation testing not possible: {problem}"
        else:
            killed = len(tried) - len(survivors)
            score = killed / len(tried) if tried else 1.0
            measured.update(mutants=len(tried), killed=killed, mutation_score=round(score, 3))
            summary += (
                f"; mutation score {killed}/{len(tried)} = {score:.0%} "
                f"(minimum {contract.min_mutation_score:.0%})"
            )
            if score < contract.min_mutation_score:
                violations += [
                    Violation(f"{m.path}:{m.line}", f"mutant survived: {m.description}") for m in survivors
                ]
    return ContractResult("tests", not violations, summary, violations, measured)
