"""Resource budgets: peak RSS and p95 latency of the service under a short load.

The service runs in a sandbox (its code is the candidate's) and is reached
through the inbound tunnel, exactly as scenarios reach it. The load is
`requests` requests from `concurrency` clients; the peak RSS is the sum of the
high-water marks (VmHWM) of the service's processes, read from inside the
sandbox after the load.
"""

from __future__ import annotations

import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from shopfloor.validate.candidate import CandidateNotReady, CandidateSpec, start_candidate
from shopfloor.validate.contracts.config import ResourcesContract
from shopfloor.validate.contracts.result import ContractResult, Violation

#: Seconds one load request may take.
DEFAULT_LOAD_TIMEOUT_S = 10.0

# Run inside the sandbox: the peak RSS (kB) of every process but the sandbox's own plumbing.
_PEAK_RSS = """
import os, sys
total = 0
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        cmd = open(f"/proc/{pid}/cmdline", "rb").read()
        status = open(f"/proc/{pid}/status").read()
    except OSError:
        continue
    if int(pid) == os.getpid() or b"supervisor.py" in cmd or b"tunnel_inside.py" in cmd or not cmd:
        continue
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            total += int(line.split()[1])
print(total)
"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def check_resources(project: Path, contract: ResourcesContract, hidden_paths: list[Path]) -> ContractResult:
    spec = CandidateSpec(
        command=contract.command,
        workspace=project,
        cwd=contract.cwd,
        env=contract.env,
        port_env=contract.port_env,
        health_path=contract.health_path,
    )
    request = contract.request
    body = None if request.json_ is None else json.dumps(request.json_)
    latencies: list[float] = []
    errors = 0
    try:
        with start_candidate(spec, allowed_ports=[], hidden_paths=hidden_paths) as candidate:
            with httpx.Client(base_url=candidate.url, timeout=DEFAULT_LOAD_TIMEOUT_S) as client:

                def one(_: int) -> float | None:
                    started = time.perf_counter()
                    try:
                        response = client.request(
                            request.method,
                            request.path,
                            content=body,
                            headers={"Content-Type": "application/json"} if body else None,
                        )
                    except httpx.HTTPError:
                        return None
                    return (time.perf_counter() - started) * 1000 if response.status_code < 500 else None

                with ThreadPoolExecutor(max_workers=contract.concurrency) as pool:
                    for latency in pool.map(one, range(contract.requests)):
                        if latency is None:
                            errors += 1
                        else:
                            latencies.append(latency)
            probe = candidate.cli(
                [sys.executable, "-E", "-s", "-c", _PEAK_RSS], timeout_s=DEFAULT_LOAD_TIMEOUT_S
            )
            rss_mb = int(probe.stdout.strip() or 0) / 1024
    except CandidateNotReady as exc:
        return ContractResult(
            "resources", False, f"the service did not start: {exc}", [Violation(contract.command, str(exc))]
        )
    p95 = percentile(latencies, 0.95)
    measured = {
        "peak_rss_mb": round(rss_mb, 1),
        "p95_ms": round(p95, 2),
        "p50_ms": round(percentile(latencies, 0.5), 2),
        "requests": contract.requests,
        "errors": errors,
    }
    violations: list[Violation] = []
    if contract.max_rss_mb is not None and rss_mb > contract.max_rss_mb:
        violations.append(Violation("peak RSS", f"{rss_mb:.1f} MB > budget {contract.max_rss_mb:g} MB"))
    if contract.max_p95_ms is not None and p95 > contract.max_p95_ms:
        violations.append(Violation("p95 latency", f"{p95:.1f} ms > budget {contract.max_p95_ms:g} ms"))
    if errors:
        violations.append(
            Violation("load", f"{errors} of {contract.requests} requests failed (5xx or no answer)")
        )
    summary = (
        f"peak RSS {rss_mb:.1f} MB (budget {contract.max_rss_mb or '-'}), p95 {p95:.1f} ms "
        f"(budget {contract.max_p95_ms or '-'}) over {contract.requests} requests x{contract.concurrency}"
    )
    return ContractResult("resources", not violations, summary, violations, measured)
