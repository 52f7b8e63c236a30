"""A small service and sealed scenario suites for the validation gauntlet's tests.

The service (`app.py`, standard library only) posts to Slack's chat.postMessage:
on `POST /notify {channel, text}`, and on a Jira webhook for a High/Highest
priority issue. Variants are switched by constants at the top of the file, so
each test writes the candidate it needs:

- `good`: retries Slack's 429s; passes everything;
- `no_retry`: gives up on a 429, so it fails only under the rate-limiting chaos (flaky);
- `overfit`: its own tests pass, but it never posts on webhooks (wrong priority names).
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import yaml

SERVICE = """
import json, os, time, urllib.error, urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RETRY = {retry}
PAGED = {paged}
SLACK = os.environ["SLACK_URL"]
TOKEN = os.environ["SLACK_TOKEN"]


def format_message(key, summary):
    return f"{{key}}: {{summary}}"


def post(channel, text):
    data = json.dumps({{"channel": channel, "text": text}}).encode()
    for _ in range(5):
        req = urllib.request.Request(SLACK + "/api/chat.postMessage", data=data, headers={{
            "Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"}})
        try:
            return json.load(urllib.request.urlopen(req, timeout=5))
        except urllib.error.HTTPError as exc:
            if exc.code == 429 and RETRY:
                time.sleep(float(exc.headers.get("Retry-After", "0")))
                continue
            raise
    raise RuntimeError("slack kept rate-limiting")


class Handler(BaseHTTPRequestHandler):
    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.reply(200 if self.path == "/healthz" else 404, {{"ok": self.path == "/healthz"}})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{{}}")
        try:
            if self.path == "/notify":
                self.reply(200, {{"ok": True, "slack": post(body["channel"], body["text"])}})
            elif self.path == "/jira/webhook":
                fields = body["issue"]["fields"]
                if (fields.get("priority") or {{}}).get("name") in PAGED:
                    post("oncall", format_message(body["issue"]["key"], fields["summary"]))
                self.reply(200, {{"ok": True}})
            else:
                self.reply(404, {{"ok": False}})
        except Exception as exc:
            self.reply(502, {{"ok": False, "error": str(exc)}})

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
"""

VISIBLE_TEST = """
import importlib.util, os, sys
os.environ.setdefault("SLACK_URL", "http://127.0.0.1:9")
os.environ.setdefault("SLACK_TOKEN", "x")
src = open(os.path.join(os.path.dirname(__file__), "..", "app.py")).read().split("class Handler")[0]
ns = {}
exec(src, ns)

def test_format_message():
    assert ns["format_message"]("OPS-1", "Disk full") == "OPS-1: Disk full"

def test_format_message_keeps_summary():
    assert ns["format_message"]("A-2", "x y").endswith("x y")
"""

VARIANTS = {
    "good": {"retry": True, "paged": ("High", "Highest")},
    "no_retry": {"retry": False, "paged": ("High", "Highest")},
    "overfit": {"retry": True, "paged": ("P1", "P2")},
}

SEED = {
    "slack": {
        "bot": {"name": "notifier"},
        "tokens": {"xoxb-notifier": {"user": "notifier", "scopes": ["chat:write", "channels:read"]}},
        "channels": [{"name": "oncall", "members": ["notifier"]}],
    },
    "jira": {
        "projects": [{"key": "OPS", "name": "Operations", "lead": "admin@example.com"}],
        "webhooks": [{"url": "{{candidate.url}}/jira/webhook", "events": ["jira:issue_created"]}],
    },
}

CHAOS = {
    "seed": 3,
    "twins": {
        "slack": {
            "routes": {
                "POST /api/chat.postMessage": {
                    "rate_limit": {"rate": 1.0, "burst": 1, "retry_after_s": 0, "quiet": 5}
                }
            }
        }
    },
}

NOTIFY = {
    "id": "notify-posts",
    "title": "A notification request is posted to its Slack channel",
    "steps": [
        {
            "name": "notify",
            "http": {
                "method": "POST",
                "path": "/notify",
                "json": {"channel": "oncall", "text": "deploy finished on the east cluster"},
            },
            "expect": {"status": 200},
        }
    ],
    "expect": [
        {
            "journal": {
                "twin": "slack",
                "method": "POST",
                "path": "/api/chat.postMessage",
                "where": {"text": {"$contains": "east cluster"}},
                "min_count": 1,
            }
        },
        {"response": {"step": "notify", "status": 200, "json": {"ok": True}}},
    ],
}


def _create_issue(summary: str, priority: str) -> dict[str, object]:
    """A step that files a Bug in project OPS through the Jira twin (whose webhook calls the candidate)."""
    return {
        "twin": {
            "name": "jira",
            "method": "POST",
            "path": "/rest/api/2/issue",
            "json": {
                "fields": {
                    "project": {"key": "OPS"},
                    "summary": summary,
                    "issuetype": {"name": "Bug"},
                    "priority": {"name": priority},
                }
            },
        }
    }


HIGH_PRIORITY = {
    "id": "high-priority-pages",
    "title": "A high-priority issue pages the on-call channel with its summary",
    "steps": [
        {**_create_issue("Card payments failing in the EU region", "High"), "expect": {"status": 201}},
        {
            "wait_until": {
                "journal": {"twin": "slack", "path": "/api/chat.postMessage", "min_count": 1},
                "timeout_s": 3,
            }
        },
    ],
    "expect": [
        {
            "journal": {
                "twin": "slack",
                "method": "POST",
                "path": "/api/chat.postMessage",
                "where": {"channel": "oncall", "text": {"$regex": "^OPS-[0-9]+: Card payments"}},
                "count": 1,
            }
        },
        {"state": {"twin": "jira", "at": "projects.OPS", "where": {"name": "Operations"}}},
    ],
}

LOW_PRIORITY = {
    "id": "low-priority-stays-quiet",
    "title": "A low-priority issue posts nothing",
    "steps": [
        _create_issue("Typo on the settings page", "Low"),
        {"wait": 0.3},
    ],
    "expect": [{"journal": {"twin": "slack", "path": "/api/chat.postMessage", "count": 0}}],
}

ALL_SCENARIOS = (NOTIFY, HIGH_PRIORITY, LOW_PRIORITY)


def write_candidate(root: Path, variant: str = "good") -> Path:
    """A candidate directory holding the service variant and its visible tests."""
    root.mkdir(parents=True, exist_ok=True)
    opts = VARIANTS[variant]
    (root / "app.py").write_text(SERVICE.format(retry=opts["retry"], paged=repr(opts["paged"])))
    (root / "tests").mkdir(exist_ok=True)
    (root / "tests" / "test_app.py").write_text(textwrap.dedent(VISIBLE_TEST))
    return root


def write_suite(
    root: Path,
    scenarios: tuple[dict, ...] = ALL_SCENARIOS,
    *,
    chaos: bool = False,
    trajectories: int = 1,
    extra: dict | None = None,
) -> Path:
    """A sealed suite directory: suite.yaml, seed, optional chaos and the given scenarios."""
    root.mkdir(parents=True, exist_ok=True)
    suite = {
        "twins": ["slack", "jira"],
        "seed": "seed.yaml",
        "trajectories": trajectories,
        "timeout_s": 30,
        "candidate": {
            "command": f"{sys.executable} app.py",
            "env": {"SLACK_URL": "{{twins.slack.url}}", "SLACK_TOKEN": "xoxb-notifier"},
            "health_path": "/healthz",
            "ready_timeout_s": 10,
        },
        **(extra or {}),
    }
    if chaos:
        suite["chaos"] = [None, "chaos.yaml"]
        (root / "chaos.yaml").write_text(yaml.safe_dump(CHAOS))
    (root / "suite.yaml").write_text(yaml.safe_dump(suite, sort_keys=False))
    (root / "seed.yaml").write_text(yaml.safe_dump(SEED, sort_keys=False))
    for scenario in scenarios:
        (root / f"{scenario['id']}.yaml").write_text(yaml.safe_dump(scenario, sort_keys=False))
    return root
