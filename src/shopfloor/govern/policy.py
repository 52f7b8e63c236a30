"""The project's governance policy: `[policy]` and `[budgets]` of shopfloor.toml.

One validated, immutable object that every guard reads: which paths an agent
may not touch (protected), which paths need a human at the gate (critical),
which shell commands are refused before they run, which loopback ports the
sandbox may reach, and how much a run may spend. Built-in defaults protect the
evaluator (scenarios, CI, the factory's own config) and refuse the classic
destructive commands; a project adds to them and can switch them off explicitly.

    [policy]
    protected_paths = ["migrations/**"]      # added to DEFAULT_PROTECTED_PATHS
    critical_paths = ["src/billing/**"]      # the release gate asks a human
    [[policy.command_rules]]
    pattern = "\\bterraform\\s+destroy\\b"
    reason = "infrastructure teardown needs a human"

    [budgets]
    usd = 20.0
    [budgets.node]
    usd = 5.0
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shopfloor.config import ProjectFile
from shopfloor.govern.globs import matches_any
from shopfloor.sandbox.policy import SandboxPolicy

#: Paths an agent must never edit: the evaluator, CI and the factory's own configuration.
DEFAULT_PROTECTED_PATHS: tuple[str, ...] = (
    "scenarios/**",           # sealed scenarios
    ".scenarios/**",
    ".shopfloor/**",          # factory state and evaluator markers
    "shopfloor.toml",         # the factory's own config (this policy included)
    ".github/**",             # CI configuration
    ".gitlab-ci.yml",
    ".circleci/**",
    "Jenkinsfile",
    "azure-pipelines.yml",
    ".pre-commit-config.yaml",
    "pytest.ini",             # test-runner configuration the evaluator relies on
    "tox.ini",
    "noxfile.py",
    ".coveragerc",
    "conftest.py",
)

#: Files that are tests: existing ones are protected from deletion, skipping and weakening.
DEFAULT_TEST_PATHS: tuple[str, ...] = (
    "tests/**", "test/**", "test_*.py", "*_test.py", "*_test.go", "*.test.ts", "*.test.js",
    "*.spec.ts", "*.spec.js",
)


class CommandRule(BaseModel):
    """A regular expression matched (case-insensitively, anywhere) against a shell command."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pattern: str
    action: Literal["deny", "allow"] = "deny"
    reason: str = Field(min_length=1)

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"invalid regular expression {value!r}: {exc}") from None
        return value

    def matches(self, command: str) -> bool:
        return re.search(self.pattern, command, re.IGNORECASE) is not None


#: Commands refused before execution. `rm -rf` outside the workspace is checked
#: structurally (govern.commands), since a regex cannot know where the workspace is.
DEFAULT_COMMAND_RULES: tuple[CommandRule, ...] = (
    CommandRule(pattern=r"\bgit\s+push\b.*(\s--force\b|\s--force-with-lease\b|\s-[a-zA-Z]*f\b|\s\+\S)",
                reason="force-pushing rewrites shared history"),
    CommandRule(pattern=r"\b(drop|truncate)\s+(table|database|schema)\b",
                reason="DROP/TRUNCATE destroys data"),
    CommandRule(pattern=r"\btruncate\s+(only\s+)?[A-Za-z_\"][\w\".]*\s*(;|$)",
                reason="TRUNCATE destroys data"),
    CommandRule(pattern=r"\bchmod\b(?=.*\s-[a-zA-Z]*R)(?=.*\s(0?777|a\+rwx|ugo\+rwx)\b)",
                reason="chmod -R 777 makes a tree world-writable"),
    CommandRule(pattern=r"\b(curl|wget|fetch)\b[^|;&]*\|\s*(sudo\s+)?(ba|z|da|k|fi)?sh\b",
                reason="piping a download into a shell runs unreviewed code"),
    CommandRule(pattern=r"\b(curl|wget)\b[^|;&]*\|\s*(sudo\s+)?python[0-9.]*\b",
                reason="piping a download into an interpreter runs unreviewed code"),
    CommandRule(pattern=r"\bmkfs(\.\w+)?\b", reason="mkfs formats a file system"),
    CommandRule(pattern=r"\bdd\b.*\bof=/dev/", reason="dd onto a device overwrites it"),
    CommandRule(pattern=r">\s*/dev/(sd|nvme|hd|vd)\w*", reason="writing to a block device destroys it"),
    CommandRule(pattern=r":\(\)\s*\{\s*:\s*\|\s*:\s*&\s*\}\s*;\s*:", reason="fork bomb"),
    CommandRule(pattern=r"\b(shutdown|reboot|halt|poweroff)\b(\s|$)", reason="stops the host"),
    CommandRule(pattern=r"\bgit\s+(commit|push)\b.*--no-verify\b",
                reason="--no-verify skips the project's checks"),
)


class BudgetLimits(BaseModel):
    """Limits for one level (run, node, session, subagent); None means no limit of its own."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    usd: float | None = Field(default=None, gt=0)
    tokens: int | None = Field(default=None, gt=0)
    tool_calls: int | None = Field(default=None, gt=0)
    wall_clock_s: float | None = Field(default=None, gt=0)


#: A run with no `[budgets]` still has a ceiling: a runaway loop costs at most this.
DEFAULT_RUN_BUDGET = BudgetLimits(usd=10.0, tokens=5_000_000, tool_calls=2_000, wall_clock_s=4 * 3600.0)


class BudgetsConfig(BaseModel):
    """`[budgets]`: the run's limits at top level, per-level defaults in sub-tables."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    usd: float | None = Field(default=DEFAULT_RUN_BUDGET.usd, gt=0)
    tokens: int | None = Field(default=DEFAULT_RUN_BUDGET.tokens, gt=0)
    tool_calls: int | None = Field(default=DEFAULT_RUN_BUDGET.tool_calls, gt=0)
    wall_clock_s: float | None = Field(default=DEFAULT_RUN_BUDGET.wall_clock_s, gt=0)
    node: BudgetLimits = BudgetLimits()
    session: BudgetLimits = BudgetLimits()
    subagent: BudgetLimits = BudgetLimits()

    @property
    def run(self) -> BudgetLimits:
        return BudgetLimits(usd=self.usd, tokens=self.tokens, tool_calls=self.tool_calls,
                            wall_clock_s=self.wall_clock_s)


class PolicySection(BaseModel):
    """`[policy]` as written in shopfloor.toml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    protected_paths: list[str] = []
    default_protected_paths: bool = True
    test_paths: list[str] = list(DEFAULT_TEST_PATHS)
    critical_paths: list[str] = []
    command_rules: list[CommandRule] = []
    default_command_rules: bool = True

    @field_validator("protected_paths", "critical_paths", "test_paths")
    @classmethod
    def _globs(cls, value: list[str]) -> list[str]:
        for glob in value:
            if not glob.strip():
                raise ValueError("empty path glob")
        return value


class Policy(BaseModel):
    """The effective policy: the project's section merged with the built-in defaults."""

    model_config = ConfigDict(frozen=True)

    protected_paths: tuple[str, ...] = DEFAULT_PROTECTED_PATHS
    test_paths: tuple[str, ...] = DEFAULT_TEST_PATHS
    critical_paths: tuple[str, ...] = ()
    #: Evaluated in order; the first match decides. Project rules come before the defaults,
    #: so a project `allow` rule can exempt a command a default would refuse.
    command_rules: tuple[CommandRule, ...] = DEFAULT_COMMAND_RULES
    #: The network allow-list: host loopback ports a sandbox may reach. It is written once, as
    #: `[sandbox] allowed_ports` (the sandbox enforces it); the policy carries it so that the
    #: policy digest, and approvals bound to it, change when it does.
    allowed_loopback_ports: tuple[int, ...] = ()
    budgets: BudgetsConfig = BudgetsConfig()

    @classmethod
    def from_sections(cls, section: PolicySection, budgets: BudgetsConfig,
                      allowed_loopback_ports: tuple[int, ...] = ()) -> Policy:
        protected = (DEFAULT_PROTECTED_PATHS if section.default_protected_paths else ()) + tuple(
            section.protected_paths)
        defaults = DEFAULT_COMMAND_RULES if section.default_command_rules else ()
        rules = tuple(section.command_rules) + defaults
        return cls(protected_paths=protected, test_paths=tuple(section.test_paths),
                   critical_paths=tuple(section.critical_paths), command_rules=rules,
                   allowed_loopback_ports=allowed_loopback_ports, budgets=budgets)

    def is_protected(self, path: str) -> str | None:
        """The protected glob that `path` (workspace-relative) matches, or None."""
        return matches_any(path, self.protected_paths)

    def is_critical(self, path: str) -> str | None:
        """The critical glob that `path` matches, or None (the gate asks a human when set)."""
        return matches_any(path, self.critical_paths)

    def is_test(self, path: str) -> bool:
        return matches_any(path, self.test_paths) is not None


def load_policy(project_file: ProjectFile | None = None) -> Policy:
    """The effective policy of a project (raises UserError with one line on a bad section)."""
    pf = project_file if project_file is not None else ProjectFile.load()
    ports = tuple(SandboxPolicy.from_config(pf).allowed_ports)
    section, budgets = pf.section("policy", PolicySection), pf.section("budgets", BudgetsConfig)
    return Policy.from_sections(section, budgets, ports)


def policy_digest(policy: Policy) -> str:
    """sha256 of the effective policy's canonical JSON; approvals and ledgers bind to it."""
    body = json.dumps(policy.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()
