"""One trajectory: fresh twins, the candidate in a fresh sandbox, the scenario's steps and checks.

`run_trajectory(...)` never raises for anything the candidate does: every
problem becomes a `Failure(kind, message)` in the result. The `Trajectory`
object is also the API that Python scenarios (`run(t)`) are written against.
"""

from __future__ import annotations

import base64
import fnmatch
import functools
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx

from shopfloor.errors import UserError
from shopfloor.sandbox.policy import SandboxPolicy
from shopfloor.twins.chaos import read_structured_file
from shopfloor.twins.runner import BUILTIN_TWINS, TwinFleet, load_seed, run_twins, twin_class
from shopfloor.validate.candidate import CandidateNotReady, CandidateSpec, RunningCandidate, start_candidate
from shopfloor.validate.judge import Verdict, judge
from shopfloor.validate.matching import dig, matches
from shopfloor.validate.suite import (
    DEFAULT_STEP_TIMEOUT_S,
    DEFAULT_WAIT_UNTIL_TIMEOUT_S,
    JournalCheck,
    JournalExpectation,
    ResponseExpectation,
    Scenario,
    StateExpectation,
    Step,
    Suite,
)
from shopfloor.validate.templates import render
from shopfloor.validate.tunnel import InboundTunnel
from shopfloor.validate.twin_guard import TwinGuard

#: Pause between two polls of a `wait_until` condition.
WAIT_POLL_S = 0.05


class ExpectationFailed(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass
class Failure:
    kind: str
    message: str


@dataclass
class TrajectoryResult:
    scenario: str
    index: int
    chaos: str | None
    satisfied: bool
    failures: list[Failure] = field(default_factory=list)
    duration_s: float = 0.0
    judge: dict[str, Any] | None = None
    candidate_log: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Reply:
    """A response seen by a step."""

    status: int
    text: str
    headers: dict[str, str]

    def json(self) -> Any:
        try:
            return httpx.Response(200, content=self.text.encode()).json()
        except ValueError:
            return None


def parse_body(text: str) -> Any:
    """A journaled request body: JSON if it parses, else a form body as a mapping, else the text."""
    reply = Reply(200, text, {}).json()
    if reply is not None:
        return reply
    if "=" in text and "\n" not in text:
        return dict(parse_qsl(text, keep_blank_values=True))
    return text


def default_auth_headers(credentials: Mapping[str, Any]) -> dict[str, str]:
    """The Authorization header a twin's default credentials give (Slack token, Jira basic, Okta SSWS)."""
    if tokens := credentials.get("tokens"):
        return {"Authorization": f"Bearer {next(iter(tokens))}"}
    if basic := credentials.get("basic_auth"):
        raw = f"{basic[0]['email']}:{basic[0]['api_token']}".encode()
        return {"Authorization": "Basic " + base64.b64encode(raw).decode()}
    if api_tokens := credentials.get("api_tokens"):
        return {"Authorization": f"SSWS {api_tokens[0]}"}
    return {}


@functools.cache
def _loopback_client() -> httpx.Client:
    """One HTTP client for every trajectory (thread-safe; plain HTTP on loopback, so no TLS
    context or proxy settings to build per trajectory)."""
    return httpx.Client(
        timeout=DEFAULT_STEP_TIMEOUT_S,
        trust_env=False,
        verify=False,
        limits=httpx.Limits(max_keepalive_connections=0),
    )


class Trajectory:
    """What a scenario acts on: the candidate, the twins, and the checks it makes."""

    def __init__(
        self,
        suite: Suite,
        scenario: Scenario,
        fleet: TwinFleet,
        candidate: RunningCandidate,
        variables: dict[str, str],
        deadline: float,
    ) -> None:
        self.suite = suite
        self.scenario = scenario
        self.fleet = fleet
        self.candidate = candidate
        self.variables = variables
        self.deadline = deadline
        self.responses: dict[str | int, Reply] = {}
        self._http = _loopback_client()

    # -- acting
    def render(self, value: Any) -> Any:
        return render(value, self.variables, where=str(self.scenario.path))

    def _remaining(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise ExpectationFailed("timeout", "the trajectory ran out of time")
        return left

    def _request(
        self,
        base: str,
        method: str,
        path: str,
        *,
        json: Any = None,
        body: str | None = None,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, Any] | None = None,
        timeout_s: float = DEFAULT_STEP_TIMEOUT_S,
    ) -> Reply:
        timeout = min(timeout_s, self._remaining())
        try:
            response = self._http.request(
                method.upper(),
                base + self.render(path),
                json=self.render(json),
                content=self.render(body),
                headers=self.render(dict(headers or {})),
                params=self.render(dict(query or {})),
                timeout=timeout,
            )
        except httpx.HTTPError as exc:
            raise ExpectationFailed("step", f"{method.upper()} {path}: {type(exc).__name__}: {exc}") from None
        return Reply(response.status_code, response.text, dict(response.headers))

    def http(self, method: str, path: str, **kwargs: Any) -> Reply:
        """A request to the candidate."""
        return self._request(self.candidate.url, method, path, **kwargs)

    def twin(self, name: str, method: str, path: str, *, auth: bool = True, **kwargs: Any) -> Reply:
        """A request to a twin's API (or its `/_twin` control API), with its default credentials."""
        running = self._twin(name)
        headers = {
            **(default_auth_headers(running.credentials()) if auth else {}),
            **kwargs.pop("headers", {}),
        }
        return self._request(running.url, method, path, headers=headers, **kwargs)

    def cli(
        self,
        argv: Sequence[str] | str,
        *,
        env: Mapping[str, str] | None = None,
        timeout_s: float = DEFAULT_STEP_TIMEOUT_S,
    ) -> tuple[int, str]:
        """Run a command in the candidate's sandbox; (exit code, output)."""
        command = ["/bin/sh", "-c", argv] if isinstance(argv, str) else list(argv)
        result = self.candidate.cli(
            self.render(command),
            env=self.render(dict(env or {})),
            timeout_s=min(timeout_s, self._remaining()),
        )
        return result.exit_code, result.output

    # -- observing
    def _twin(self, name: str) -> Any:
        if name not in self.fleet:
            raise ExpectationFailed(
                "error", f"twin {name!r} is not running (suite twins: {', '.join(self.fleet)})"
            )
        return self.fleet[name]

    def journal(
        self,
        twin: str,
        method: str | None = None,
        path: str | None = None,
        where: Any = None,
        *,
        include_faults: bool = False,
    ) -> list[dict[str, Any]]:
        """The twin's recorded requests (body parsed), filtered by method, path (glob) and body subset.

        Requests that chaos answered instead of the twin (429, injected error, reset, hang,
        outage) never reached the vendor, and are left out unless `include_faults`.
        """
        out = []
        for entry in self._twin(twin).twin.journal.entries(method=method):
            if path is not None and not fnmatch.fnmatchcase(entry.path, path):
                continue
            if entry.fault not in (None, "limited_data") and not include_faults:
                continue
            body = parse_body(entry.body)
            if where is not None and not matches(self.render(where), body):
                continue
            out.append(
                {
                    "method": entry.method,
                    "path": entry.path,
                    "query": entry.query,
                    "body": body,
                    "status": entry.status,
                    "fault": entry.fault,
                }
            )
        return out

    def state(self, twin: str) -> Any:
        return self._twin(twin).twin.snapshot()["state"]

    def fixture(self, relative: str) -> Any:
        """A file of the suite (YAML or JSON), parsed and rendered."""
        return self.render(read_structured_file(self.suite.path(relative), "fixture"))

    def check(self, kind: str, condition: bool, message: str) -> None:
        if not condition:
            raise ExpectationFailed(kind, message)

    def journal_holds(self, check: JournalCheck) -> tuple[bool, str]:
        found = self.journal(
            check.twin, check.method, check.path, check.where, include_faults=check.include_faults
        )
        n = len(found)
        what = f"{check.twin} journal {check.method or '*'} {check.path or '*'}"
        if check.count is not None and n != check.count:
            return False, f"{what}: {n} matching requests, expected exactly {check.count}"
        lowest = (
            check.min_count
            if check.min_count is not None
            else (1 if check.count is None and check.max_count is None else None)
        )
        if lowest is not None and n < lowest:
            return False, f"{what}: {n} matching requests, expected at least {lowest}"
        if check.max_count is not None and n > check.max_count:
            return False, f"{what}: {n} matching requests, expected at most {check.max_count}"
        return True, ""

    def wait_until_journal(
        self,
        twin: str,
        method: str | None = None,
        path: str | None = None,
        *,
        where: Any = None,
        min_count: int = 1,
        timeout_s: float = DEFAULT_WAIT_UNTIL_TIMEOUT_S,
    ) -> None:
        self._wait(
            JournalCheck(twin=twin, method=method, path=path, where=where, min_count=min_count), timeout_s
        )

    def _wait(self, check: JournalCheck, timeout_s: float) -> None:
        until = min(time.monotonic() + timeout_s, self.deadline)
        while True:
            ok, message = self.journal_holds(check)
            if ok:
                return
            if time.monotonic() >= until:
                raise ExpectationFailed("journal", f"waited {timeout_s:g}s: {message}")
            time.sleep(WAIT_POLL_S)

    # -- the YAML form
    def run_step(self, index: int, step: Step) -> None:
        if step.wait is not None:
            time.sleep(min(step.wait, self._remaining()))
            return
        if step.wait_until is not None:
            self._wait(step.wait_until.journal, step.wait_until.timeout_s)
            return
        if step.cli is not None:
            cli = step.cli
            code, output = self.cli(
                cli.argv if cli.argv is not None else cli.command or "", env=cli.env, timeout_s=cli.timeout_s
            )
            self.check(
                "step",
                code == cli.expect_exit,
                f"step {index}: command exited {code}, expected {cli.expect_exit}: {output.strip()[-300:]}",
            )
            return
        call = step.http or step.twin
        assert call is not None
        kwargs = {
            "json": call.json_,
            "body": call.body,
            "headers": call.headers,
            "query": call.query,
            "timeout_s": call.timeout_s,
        }
        if step.twin is not None:
            reply = self.twin(step.twin.name, call.method, call.path, auth=step.twin.auth, **kwargs)
        else:
            reply = self.http(call.method, call.path, **kwargs)
        self.responses[index] = reply
        if step.name:
            self.responses[step.name] = reply
        if step.expect is not None:
            self._check_reply(
                f"step {step.name or index}", reply, step.expect.status, step.expect.json_, "step"
            )

    def _check_reply(self, label: str, reply: Reply, status: int | None, body: Any, kind: str) -> None:
        if status is not None:
            self.check(kind, reply.status == status, f"{label}: status {reply.status}, expected {status}")
        if body is not None:
            self.check(
                kind,
                matches(self.render(body), reply.json()),
                f"{label}: response body does not contain the expected JSON",
            )

    def check_expectation(self, expectation: Any) -> None:
        if isinstance(expectation, JournalExpectation):
            ok, message = self.journal_holds(expectation.journal)
            self.check("journal", ok, message)
        elif isinstance(expectation, StateExpectation):
            check = expectation.state
            try:
                value = dig(self.state(check.twin), self.render(check.at))
            except KeyError as exc:
                raise ExpectationFailed(
                    "state", f"{check.twin} state has no {check.at!r} (missing {exc})"
                ) from None
            if check.equals is not None:
                self.check(
                    "state", value == self.render(check.equals), f"{check.twin} state {check.at}: differs"
                )
            if check.where is not None:
                self.check(
                    "state",
                    matches(self.render(check.where), value),
                    f"{check.twin} state {check.at}: does not contain the expected value",
                )
        elif isinstance(expectation, ResponseExpectation):
            check = expectation.response
            reply = self.responses.get(check.step)
            self.check("response", reply is not None, f"no response recorded for step {check.step!r}")
            assert reply is not None
            self._check_reply(f"response of step {check.step}", reply, check.status, check.json_, "response")

    def evidence(self, scenario: Scenario) -> list[Any]:
        assert scenario.spec is not None and scenario.spec.rubric is not None
        out: list[Any] = []
        for item in scenario.spec.rubric.evidence:
            if item.journal is not None:
                j = item.journal
                out.append(
                    {
                        "journal": f"{j.twin} {j.method or '*'} {j.path or '*'}",
                        "requests": [r["body"] for r in self.journal(j.twin, j.method, j.path, j.where)],
                    }
                )
            if item.response is not None and item.response in self.responses:
                reply = self.responses[item.response]
                out.append({"response": item.response, "status": reply.status, "body": reply.text})
        return out


def merge_seed(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """A scenario's seed added to the suite's: per twin, lists are appended and mappings merged."""
    out: dict[str, Any] = {name: dict(section) for name, section in base.items()}
    for name, section in extra.items():
        target = out.setdefault(name, {})
        for key, value in section.items():
            if isinstance(value, list) and isinstance(target.get(key), list):
                target[key] = [*target[key], *value]
            elif isinstance(value, dict) and isinstance(target.get(key), dict):
                target[key] = {**target[key], **value}
            else:
                target[key] = value
    return out


@dataclass
class TrajectoryPlan:
    """Everything one trajectory needs, decided before it starts."""

    suite: Suite
    scenario: Scenario
    index: int
    chaos: str | None
    workspace: Path
    command: str
    twins: list[str]
    hidden_paths: list[Path]
    policy: SandboxPolicy | None = None
    judge_model: str | None = None


def _execute(t: Trajectory, scenario: Scenario) -> None:
    if scenario.module is not None:
        scenario.module.run(t)
        return
    assert scenario.spec is not None
    for index, step in enumerate(scenario.spec.steps):
        t.run_step(index, step)
    for expectation in scenario.spec.expect:
        t.check_expectation(expectation)


def run_trajectory(
    plan: TrajectoryPlan,
    defer: Callable[[Callable[[], None]], None] | None = None,
) -> TrajectoryResult:
    """Run one trajectory end to end; the result says whether it was satisfied, and why not.

    The candidate is stopped before this returns. Stopping the twins (a graceful HTTP
    server shutdown, mostly waiting) is handed to `defer` when given, so the next
    trajectory need not wait for it; the caller must run every deferred call.
    """
    suite, scenario, config = plan.suite, plan.scenario, plan.suite.config
    started = time.monotonic()
    deadline = started + config.timeout_s
    result = TrajectoryResult(scenario.id, plan.index, plan.chaos, satisfied=False)
    tunnel = InboundTunnel()
    variables = {"candidate.url": f"http://127.0.0.1:{tunnel.port}", "candidate.port": str(tunnel.port)}
    twins = ExitStack()
    try:
        started_names = [twin_class(name).name for name in plan.twins]
        known = [*BUILTIN_TWINS, *started_names]
        suite_seed, _ = load_seed(suite.path(config.seed) if config.seed else None, known)
        load_seed(scenario.seed, known)  # the same one-line error for a typo in a scenario's seed
        # Sections for twins this run does not start (`--twins` narrowed the set) are left out.
        merged = {k: v for k, v in merge_seed(suite_seed, scenario.seed).items() if k in started_names}
        seed = render(merged, variables, where=str(scenario.path))
        chaos = suite.path(plan.chaos) if plan.chaos else None
        fleet = twins.enter_context(run_twins(plan.twins, seed=seed, chaos=chaos))
        guards: list[int] = []
        for name, running in fleet.items():
            # The candidate reaches each twin through a guard that refuses the control API.
            guard = TwinGuard(running.server.port).start()
            twins.callback(guard.close)
            guards.append(guard.port)
            variables[f"twins.{name}.url"] = guard.url
            variables[f"twins.{name}.base_url"] = guard.url + running.base_url.removeprefix(running.url)
        c = config.candidate
        spec = CandidateSpec(
            command=plan.command,
            workspace=plan.workspace,
            cwd=c.cwd,
            env=render(c.env, variables, where=str(suite.path("suite.yaml"))),
            port_env=c.port_env,
            health_path=c.health_path,
            ready_timeout_s=c.ready_timeout_s,
            lifetime_s=config.timeout_s + c.ready_timeout_s,
        )
        ports = guards
        try:
            with start_candidate(
                spec, allowed_ports=ports, hidden_paths=plan.hidden_paths, tunnel=tunnel, policy=plan.policy
            ) as candidate:
                t = Trajectory(suite, scenario, fleet, candidate, variables, deadline)
                try:
                    _execute(t, scenario)
                    if scenario.spec is not None and scenario.spec.rubric is not None:
                        verdict = judge(
                            t.render(scenario.spec.rubric.question),
                            t.evidence(scenario),
                            model=scenario.spec.rubric.model or plan.judge_model,
                        )
                        result.judge = verdict.to_dict()
                        _apply_verdict(verdict)
                finally:
                    result.candidate_log = candidate.output_tail()
        except CandidateNotReady as exc:
            raise ExpectationFailed("ready", str(exc)) from None
    except ExpectationFailed as exc:
        result.failures.append(Failure(exc.kind, exc.message))
    except UserError:
        raise  # a broken suite, not a failed candidate
    except Exception as exc:
        result.failures.append(Failure("error", f"{type(exc).__name__}: {exc}"))
    finally:
        tunnel.close()
        if defer is None:
            twins.close()
        else:
            defer(twins.close)
    result.satisfied = not result.failures
    result.duration_s = round(time.monotonic() - started, 3)
    return result


def _apply_verdict(verdict: Verdict) -> None:
    if verdict.verdict == "fail":
        raise ExpectationFailed("rubric", f"judge: {verdict.reason}")
