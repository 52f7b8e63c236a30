"""HTML pages for operating runs from a browser: status, drawing, and human gates as plain forms.

No JavaScript: each question is a form whose buttons POST the answer, and the
page refreshes itself while the run is live, so it works in any browser and
through any proxy (attractor-spec 9.5: human gates operable via web controls).
"""

from __future__ import annotations

from html import escape
from typing import Any

#: Seconds between automatic refreshes of a live run's page.
DEFAULT_PAGE_REFRESH_S = 2

_STYLE = """body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem}
table{border-collapse:collapse}td,th{padding:.2rem .6rem;text-align:left;border-bottom:1px solid #ddd}
.q{border:2px solid #f5c26b;padding:1rem;margin:1rem 0;border-radius:.5rem}
button{margin:.2rem;padding:.4rem 1rem;font-size:1rem}img{max-width:100%}"""


def _page(title: str, body: str, refresh: bool) -> str:
    meta = f'<meta http-equiv="refresh" content="{DEFAULT_PAGE_REFRESH_S}">' if refresh else ""
    return (f"<!doctype html><html><head><meta charset=utf-8><title>{escape(title)}</title>{meta}"
            f"<style>{_STYLE}</style></head><body>{body}</body></html>")


def run_list_page(runs: list[dict[str, Any]]) -> str:
    rows = "".join(f'<tr><td><a href="/pipelines/{escape(r["id"])}/ui">{escape(r["id"])}</a></td>'
                   f"<td>{escape(r['name'])}</td><td>{escape(r['status'])}</td></tr>" for r in runs)
    table = f"<table><tr><th>run</th><th>pipeline</th><th>status</th></tr>{rows}</table>"
    body = "<h1>shopfloor runs</h1>" + (table if runs else "<p>No runs yet: POST a pipeline to /run.</p>")
    return _page("shopfloor runs", body, refresh=any(r["status"] == "running" for r in runs))


def _question_form(run_id: str, question: dict[str, Any]) -> str:
    action = f"/pipelines/{escape(run_id)}/questions/{escape(question['id'])}/answer"
    if question["options"]:
        controls = "".join(f'<button name="answer" value="{escape(o["key"])}">{escape(o["label"])}</button>'
                           for o in question["options"])
    elif question["type"] in ("yes_no", "confirmation"):
        controls = ('<button name="answer" value="yes">Yes</button>'
                    '<button name="answer" value="no">No</button>')
    else:
        controls = '<input name="answer" size="60" autofocus> <button>Send</button>'
    return (f'<form class="q" method="post" action="{action}"><p><b>{escape(question["stage"])}</b>: '
            f"{escape(question['text'])}</p>{controls}</form>")


def run_page(snapshot: dict[str, Any]) -> str:
    run_id = snapshot["id"]
    questions = "".join(_question_form(run_id, q) for q in snapshot["pending_questions"])
    outcomes = "".join(f"<tr><td>{escape(node)}</td><td>{escape(status)}</td></tr>"
                       for node, status in snapshot["node_outcomes"].items())
    live = snapshot["status"] in ("running", "stopping")
    cancel = (f'<form method="post" action="/pipelines/{escape(run_id)}/cancel">'
              "<button>Cancel run</button></form>") if live else ""
    current = f" — at <b>{escape(snapshot['current_node'])}</b>" if snapshot["current_node"] else ""
    body = (f'<p><a href="/ui">all runs</a></p><h1>{escape(snapshot["name"])}</h1>'
            f"<p>{escape(snapshot['goal'])}</p>"
            f"<p>run <code>{escape(run_id)}</code>: <b>{escape(snapshot['status'])}</b>{current}</p>"
            f"{questions}{cancel}"
            f'<img alt="pipeline graph" src="/pipelines/{escape(run_id)}/graph">'
            f"<h2>Node outcomes</h2><table>{outcomes}</table>")
    return _page(f"{snapshot['name']} — {snapshot['status']}", body, refresh=live)
