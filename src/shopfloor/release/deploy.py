"""Deployments: an idempotent, crash-safe state machine driving a target's rollout.

```
accepted → provisioning → (step i → analyzing i)* → promoting → succeeded
                 │                  │ Failed
                 ▼                  ▼
               failed         rolling_back → rolled_back
                                    │ Inconclusive
                                    ▼
                                  paused  (a human: `shopfloor promote` or `shopfloor rollback`)
```

Each state is committed before its side effect runs, and every side effect is
an idempotent call to the target daemon keyed by deployment id. A process
killed at any point leaves a deployment in some state whose side effect may or
may not have happened; redoing it is harmless, so the next release command
resumes the deployment from its state and no release is ever started twice.

Idempotency keys follow the IETF Idempotency-Key draft: the same key with the
same payload returns the first result, with a different payload is refused
(422), and while the first request is still being processed is refused (409).
The payload is what makes the deployment what it is: digest, target, the hash of
the rendered env (never its values: they may be secrets) and the injected fault.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import sys
import threading
from collections.abc import Callable, Mapping
from typing import Any

from shopfloor.config import ProjectFile
from shopfloor.errors import UserError
from shopfloor.release.analysis import Verdict, run_analysis
from shopfloor.release.artifacts import ArtifactStore
from shopfloor.release.canonical import canonical_sha256
from shopfloor.release.drift import ContextSnapshot, capture_snapshot, compare
from shopfloor.release.env_templates import env_digest, render_env
from shopfloor.release.errors import DriftDetected, IdempotencyKeyReused, RequestInFlight, TargetBusy
from shopfloor.release.ledger import PAUSED_STATE, Deployment, Ledger, new_deployment_id, owner_token
from shopfloor.release.loadgen import LoadGenerator
from shopfloor.release.releases import snapshot_key
from shopfloor.release.target_client import TargetClient
from shopfloor.release.targets import FaultConfig, TargetConfig, get_target
from shopfloor.store import transaction

#: Deployments this process is driving right now (threads share the owner token, so the ledger
#: alone cannot tell two threads of one process apart).
_DRIVING: set[str] = set()
_DRIVING_LOCK = threading.Lock()


def payload_hash(payload: dict[str, Any]) -> str:
    return canonical_sha256(payload)


def deploy_payload(digest: str, target: str, env: dict[str, str],
                   fault: dict[str, Any] | None) -> dict[str, Any]:
    """The idempotency payload; env and fault appear only when set, so plain deploys keep their old hash."""
    payload: dict[str, Any] = {"digest": digest, "target": target}
    if env:
        payload["env_sha256"] = env_digest(env)
    if fault:
        payload["fault"] = fault
    return payload


def fault_spec(fault: FaultConfig | None) -> dict[str, Any] | None:
    """What the daemon gets; a fault that neither aborts nor delays is no fault."""
    if fault is None or (fault.abort_rate == 0 and fault.delay_ms == 0):
        return None
    return fault.model_dump()


class _Driving:
    """Marks a deployment as driven by this process; False if another thread already drives it."""

    def __init__(self, deployment_id: str) -> None:
        self.deployment_id = deployment_id
        self.acquired = False

    def __enter__(self) -> bool:
        with _DRIVING_LOCK:
            if self.deployment_id in _DRIVING:
                return False
            _DRIVING.add(self.deployment_id)
            self.acquired = True
            return True

    def __exit__(self, *exc: object) -> None:
        if self.acquired:
            with _DRIVING_LOCK:
                _DRIVING.discard(self.deployment_id)


class Releaser:
    """The release operations over one ledger connection (one per thread)."""

    def __init__(self, config: ProjectFile, *, ledger: Ledger | None = None,
                 store: ArtifactStore | None = None,
                 on_progress: Callable[[str, dict[str, Any]], None] | None = None) -> None:
        self.config = config
        self.ledger = ledger or Ledger()
        self.store = store or ArtifactStore()
        self.owner = owner_token()
        self.on_progress = on_progress or (lambda kind, data: None)

    # -- recovery ------------------------------------------------------------------------
    def recover(self) -> list[Deployment]:
        """Resume every deployment whose driving process died; returns them in their final state."""
        recovered: list[Deployment] = []
        for dep in self.ledger.unfinished():
            if dep.state == PAUSED_STATE:
                continue
            with _Driving(dep.id) as mine:
                if not mine:
                    continue
                claimed = self.ledger.claim(dep.id, self.owner)
                if claimed is None:
                    continue
                try:
                    recovered.append(self._drive(claimed))
                except UserError as exc:
                    print(f"shopfloor: warning: could not resume {dep.id}: {exc.line()}", file=sys.stderr)
        return recovered

    # -- deploy --------------------------------------------------------------------------
    def deploy(self, digest: str, target: str, idempotency_key: str, *,
               context: Mapping[str, Any] | None = None, fault: FaultConfig | None = None) -> dict[str, Any]:
        """Deploy `digest` to `target` once per key.

        `context` (a pipeline run's) renders `{{context.KEY}}` in the target's env; `fault` replaces the
        target's `[targets.fault]` for this deployment.
        """
        if not idempotency_key.strip():
            raise UserError("empty idempotency key", where="--idempotency-key",
                            fix="pass a unique key per intended deploy, e.g. a UUID")
        self.recover()
        digest = self.store.resolve(digest)
        target_config = get_target(self.config, target)
        env = render_env(target_config.env, context, target=target)
        fault_dict = fault_spec(fault if fault is not None else target_config.fault)
        payload = deploy_payload(digest, target, env, fault_dict)
        p_hash = payload_hash(payload)
        row = self.ledger.idempotency_key(self.ledger.conn, idempotency_key)
        if row is None:
            self.check_drift(digest)
            dep_id = new_deployment_id()
            with _Driving(dep_id):  # marked before it exists, so no other thread can claim it first
                with transaction(self.ledger.conn):
                    row = self.ledger.idempotency_key(self.ledger.conn, idempotency_key)
                    if row is None:
                        self._check_target_free(target)
                        self.ledger.insert_deployment(self.ledger.conn, dep_id=dep_id, target=target,
                                                      digest=digest, kind="deploy", owner=self.owner,
                                                      env=env, fault=fault_dict)
                        self.ledger.insert_idempotency_key(self.ledger.conn, idempotency_key, payload, p_hash,
                                                           dep_id)
                if row is None:
                    dep = self.ledger.deployment(dep_id)
                    assert dep is not None
                    return self._drive(dep).result
        if row["payload_hash"] != p_hash:
            first = json.loads(row["payload"])
            if (first["digest"], first["target"]) == (digest, target):
                raise IdempotencyKeyReused(
                    f"idempotency key {idempotency_key!r} was used for digest {digest[:12]} on {target!r} "
                    "with another environment or fault", where="--idempotency-key",
                    fix="use a new key for a deploy with another env (e.g. a new run's context) or fault")
            raise IdempotencyKeyReused(
                f"idempotency key {idempotency_key!r} was used for digest {first['digest'][:12]} on target "
                f"{first['target']!r}, not digest {digest[:12]} on {target!r}", where="--idempotency-key",
                fix="use a new key for a different deploy")
        dep_id = row["deployment_id"]
        with _Driving(dep_id) as mine:
            dep = self.ledger.deployment(dep_id)
            assert dep is not None
            if dep.terminal or dep.state == PAUSED_STATE:
                return dep.result or self._result(dep)
            claimed = self.ledger.claim(dep_id, self.owner) if mine else None
            if claimed is None:
                raise RequestInFlight(f"deployment {dep_id} for this idempotency key is still in progress "
                                      f"(state {dep.state})", where="--idempotency-key",
                                      fix="retry later with the same key to get its result")
            return self._drive(claimed).result

    def _check_target_free(self, target: str) -> None:
        """One deployment per target at a time (call inside the inserting transaction)."""
        busy = next((d for d in self.ledger.unfinished() if d.target == target), None)
        if busy is None:
            return
        if busy.state == PAUSED_STATE:
            raise TargetBusy(f"deployment {busy.id} on {target!r} is paused for a human", where=target,
                             fix=f"decide first: shopfloor promote --target {target} or shopfloor rollback "
                                 f"--target {target}")
        raise TargetBusy(f"deployment {busy.id} on {target!r} is in progress (state {busy.state})",
                         where=target, fix="wait for it to finish, then deploy again")

    def check_drift(self, digest: str) -> None:
        manifest = self.store.manifest(digest)
        recorded = self.ledger.snapshot(snapshot_key(manifest))
        if recorded is None:
            return
        items = compare(ContextSnapshot.from_dict(recorded), capture_snapshot(self.config))
        if items:
            raise DriftDetected("context drifted since validation: " + "; ".join(i.line() for i in items),
                                where=f"release {digest[:12]}",
                                fix="re-validate: rerun the pipeline (or `shopfloor release create` "
                                    "on the validated tree) and deploy the new release")

    # -- the state machine ---------------------------------------------------------------
    def _plan(self, dep: Deployment, target: TargetConfig, has_stable: bool) -> list[int]:
        """Canary weights to analyse at; [] goes straight to promotion."""
        if dep.kind != "deploy" or not has_stable:
            return []
        if target.strategy == "bluegreen":
            return [0] if target.analysis.metrics else []
        return target.rollout_steps

    def _restore_stable(self, dep: Deployment, target: TargetConfig, client: TargetClient) -> None:
        """A daemon that restarted (host reboot, kill -9) lost its backends: put the ledger's stable back
        first, so the new release is still measured against it instead of taking all traffic at once."""
        good = [d for d in self.ledger.deployments(dep.target) if d.state == "succeeded" and d.id != dep.id]
        if not good or "stable" in client.state()["backends"]:
            return
        answer = client.ensure_backend(self._spec(good[-1], target, role="stable"))
        if "error" in answer:
            print(f"shopfloor: warning: could not restart stable {good[-1].digest[:12]}: {answer['error']}",
                  file=sys.stderr)

    def _spec(self, dep: Deployment, target: TargetConfig, role: str = "canary") -> dict[str, Any]:
        """The backend as the deployment recorded it: its own env (and fault), whatever the context is now."""
        return {"role": role, "deployment_id": dep.id, "digest": dep.digest,
                "tree": str(self.store.tree(dep.digest)), "command": target.command,
                "health_path": target.health_path, "health_timeout_s": target.health_timeout_s,
                "env": target.env if dep.env is None else dep.env,
                "fault": dep.fault if role == "canary" else None}

    def _result(self, dep: Deployment, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        client = TargetClient(dep.target)
        state = client.state() if client.running() else {"traffic": [], "proxy_port": None}
        return {**dep.result, "state": dep.state, "error": dep.error, **(extra or {}),
                "deployment_id": dep.id, "target": dep.target, "digest": dep.digest, "kind": dep.kind,
                "traffic": [{"digest": t["digest"], "weight": t["weight"], "role": t["role"]}
                            for t in state["traffic"]], "proxy_port": state["proxy_port"]}

    def _move(self, dep: Deployment, to_state: str, **kw: Any) -> Deployment:
        dep = self.ledger.transition(dep, to_state, **kw)
        self.on_progress("release.deployment", {"id": dep.id, "state": dep.state, "step": dep.step})
        return dep

    def _finish(self, dep: Deployment, to_state: str, extra: dict[str, Any] | None = None,
                error: str | None = None) -> Deployment:
        """Enter a resting state together with its result (the traffic as the daemon reports it)."""
        result = self._result(dep, {**(extra or {}), "state": to_state,
                                    "error": dep.error if error is None else error})
        return self._move(dep, to_state, result=result, error=error)

    def _drive(self, dep: Deployment) -> Deployment:
        target = get_target(self.config, dep.target)
        client = TargetClient(dep.target)
        while not dep.terminal and dep.state != PAUSED_STATE:
            if dep.state == "accepted":
                dep = self._move(dep, "provisioning")
            elif dep.state == "provisioning":
                client.ensure_running(target)
                if dep.kind == "deploy":
                    self._restore_stable(dep, target, client)
                answer = client.ensure_backend(self._spec(dep, target))
                if "error" in answer:
                    dep = self._finish(dep, "failed", error=answer["error"])
                    continue
                stable = answer["state"]["backends"].get("stable")
                has_stable = bool(stable) and stable["deployment_id"] != dep.id
                plan = self._plan(dep, target, has_stable)
                if plan and dep.fault:  # only a canary beside a stable release gets the fault
                    self.on_progress("release.fault", {"deployment_id": dep.id, "phase": "armed",
                                                       **dep.fault})
                dep = self._move(dep, "step" if plan else "promoting", step=0,
                                 result={**dep.result, "plan": plan})
            elif dep.state == "step":
                client.ensure_running(target)
                client.set_weight(dep.result["plan"][dep.step])
                dep = self._move(dep, "analyzing")
            elif dep.state == "analyzing":
                dep = self._analyze(dep, target, client)
            elif dep.state == "promoting":
                client.ensure_running(target)
                answer = client.promote(dep.id)
                if "error" in answer:  # the canary vanished (daemon restarted): start over
                    dep = self._move(dep, "provisioning", step=0)
                    continue
                dep = self._finish(dep, "succeeded")
            elif dep.state == "rolling_back":
                answer = client.abort(dep.id) if client.running() else {}
                failed_at = dep.result.get("failed_at")
                restored = dep.result.get("stable_since") or answer.get("stable_since")
                extra = {"restore_s": round(restored - failed_at, 4)} if failed_at and restored else {}
                dep = self._finish(dep, "rolled_back", extra)
            else:
                raise RuntimeError(f"deployment {dep.id} in unknown state {dep.state!r}")
        return dep

    def _analyze(self, dep: Deployment, target: TargetConfig, client: TargetClient) -> Deployment:
        client.ensure_running(target)
        info = client.state()
        canary = info["backends"].get("canary")
        if not canary or canary["deployment_id"] != dep.id:  # the daemon restarted and lost it: start over
            return self._move(dep, "provisioning", step=0, detail={"reason": "canary lost"})
        proxy_url = f"http://127.0.0.1:{info['proxy_port']}"
        env = {"SHOPFLOOR_PROXY_URL": proxy_url,
               "SHOPFLOOR_CANARY_URL": f"http://127.0.0.1:{canary['port']}" if canary else "",
               "SHOPFLOOR_RELEASE_DIGEST": dep.digest, "SHOPFLOOR_TARGET": dep.target}
        template = target.analysis
        with contextlib.ExitStack() as stack:
            load = (stack.enter_context(LoadGenerator.for_analysis(proxy_url, template.traffic,
                                                                   template.interval_s, template.count))
                    if template.traffic else None)
            run = run_analysis(template, client.metrics, env)
            # Users first: on failure all traffic goes back on stable now (idempotent and always safe), before
            # the generator's last request is awaited and the bookkeeping is done.
            after = client.set_weight(0)["state"] if run.verdict is Verdict.FAILED else None
        after = after or client.state()
        entry: dict[str, Any] = {"step": dep.step, **run.to_dict()}
        if load is not None:
            entry["traffic"] = load.summary()
        result = {**dep.result, "analyses": [*dep.result.get("analyses", []), entry],
                  "verdict": run.verdict.value}
        fault = after["backends"].get("canary", {}).get("fault")
        if fault is not None:
            result["fault"] = fault
            self.on_progress("release.fault", {"deployment_id": dep.id, "phase": "measured", "step": dep.step,
                                               "verdict": run.verdict.value, **fault})
        if run.verdict is Verdict.FAILED:
            restored = after["weight_changed_at"]
            return self._move(dep, "rolling_back",
                              result={**result, "failed_at": run.failed_at, "stable_since": restored},
                              error=f"canary analysis failed at step {dep.step}: " + "; ".join(
                                  f"{m.metric}={m.value} ({m.detail[:80]})" for m in run.measurements
                                  if m.verdict is Verdict.FAILED))
        if run.verdict is Verdict.INCONCLUSIVE:
            dep.result = result
            return self._finish(dep, PAUSED_STATE)
        last = dep.step + 1 >= len(dep.result["plan"])
        return self._move(dep, "promoting" if last else "step", step=dep.step if last else dep.step + 1,
                          result=result)

    # -- human decisions and history -----------------------------------------------------
    def _claim_for_human(self, dep: Deployment) -> Deployment:
        claimed = self.ledger.claim(dep.id, self.owner, resume_paused=True)
        if claimed is None:
            raise RequestInFlight(f"deployment {dep.id} is being driven by another process",
                                  where=f"target {dep.target}", fix="wait for it to finish, then retry")
        return claimed

    def paused(self, target: str) -> Deployment | None:
        return next((d for d in self.ledger.deployments(target) if d.state == PAUSED_STATE), None)

    def promote(self, target: str) -> dict[str, Any]:
        """A human judged an inconclusive canary good: continue to full promotion."""
        self.recover()
        dep = self.paused(target)
        if dep is None:
            raise UserError(f"no paused deployment on target {target!r}", where=target,
                            fix="see `shopfloor releases --target NAME`")
        with _Driving(dep.id):
            dep = self._claim_for_human(dep)
            dep = self._move(dep, "promoting", detail={"by": "human"})
            return self._drive(dep).result

    def rollback(self, target: str, to: str | None = None) -> dict[str, Any]:
        """Abort a paused canary, or put the last known good release (or `to`) back on stable."""
        self.recover()
        get_target(self.config, target)
        paused = self.paused(target)
        if paused is not None and to is None:
            with _Driving(paused.id):
                dep = self._claim_for_human(paused)
                dep = self._move(dep, "rolling_back", detail={"by": "human"})
                return self._drive(dep).result
        digest = self.store.resolve(to) if to else self.last_known_good(target)
        env = self._env_of(target, digest)
        dep_id = new_deployment_id()
        with _Driving(dep_id):
            with transaction(self.ledger.conn):
                self._check_target_free(target)
                self.ledger.insert_deployment(self.ledger.conn, dep_id=dep_id, target=target, digest=digest,
                                              kind="rollback", owner=self.owner, env=env)
            dep = self.ledger.deployment(dep_id)
            assert dep is not None
            return self._drive(dep).result

    def _env_of(self, target: str, digest: str) -> dict[str, str] | None:
        """A rollback brings a release back as it ran: with the env of its newest successful deployment
        here. A release never deployed here gets the target's env rendered now (no run context)."""
        served = [d for d in self.ledger.deployments(target) if d.digest == digest and d.state == "succeeded"]
        if served:
            return served[-1].env
        return render_env(get_target(self.config, target).env, None, target=target)

    def last_known_good(self, target: str) -> str:
        """The newest release that served as stable before the current one and was not rolled back
        from (a release someone rolled away from is not "known good")."""
        good = [d for d in self.ledger.deployments(target) if d.state == "succeeded"]
        if not good:
            raise UserError(f"target {target!r} has no successful release to roll back to", where=target,
                            fix="pass --to DIGEST")
        abandoned = {prev.digest for prev, dep in itertools.pairwise(good) if dep.kind == "rollback"}
        current = good[-1].digest
        for dep in reversed(good):
            if dep.digest != current and dep.digest not in abandoned:
                return dep.digest
        raise UserError(f"target {target!r} has no earlier known good release than {current[:12]}",
                        where=target, fix="pass --to DIGEST to choose another artifact")

    def history(self, target: str) -> dict[str, Any]:
        self.recover()
        if not self.ledger.deployments(target):
            get_target(self.config, target)  # nothing recorded: say so if the name is wrong
        client = TargetClient(target)
        live = client.state() if client.running() else None
        rows = [{"deployment_id": d.id, "digest": d.digest, "kind": d.kind, "state": d.state,
                 "created_at": d.created_at, "finished_at": d.finished_at, "error": d.error,
                 "restore_s": d.result.get("restore_s"), "verdict": d.result.get("verdict"), "fault": d.fault}
                for d in self.ledger.deployments(target)]
        live = live or {"traffic": [], "proxy_port": None}
        return {"target": target, "deployments": rows, "traffic": live["traffic"],
                "proxy_port": live["proxy_port"]}

    def drift_report(self, target: str) -> dict[str, Any]:
        """Differences between the ledger, the live target and the validated context."""
        self.recover()
        get_target(self.config, target)
        items: list[dict[str, Any]] = []
        good = [d for d in self.ledger.deployments(target) if d.state == "succeeded"]
        expected = good[-1].digest if good else None
        client = TargetClient(target)
        live = client.state() if client.running() else None
        stable = (live or {}).get("backends", {}).get("stable")
        if expected and live is None:
            items.append({"item": "target", "ledger": expected, "live": "not running"})
        elif expected and (stable or {}).get("digest") != expected:
            items.append({"item": "stable release", "ledger": expected, "live": (stable or {}).get("digest")})
        if live is not None:
            for role, on_disk in client.live_digests().items():
                backend = live["backends"][role]
                if on_disk != backend["digest"]:
                    items.append({"item": f"{role} files (changed out of band)", "ledger": backend["digest"],
                                  "live": on_disk})
        if expected:
            try:
                self.check_drift(expected)
            except DriftDetected as exc:
                items.append({"item": "validated context", "ledger": expected, "live": exc.what})
        return {"target": target, "drifted": bool(items), "items": items, "expected": expected}
