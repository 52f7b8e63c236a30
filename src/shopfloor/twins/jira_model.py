"""Jira's data shapes: the static catalog (types, statuses, priorities, transitions),
Atlassian Document Format, the JSON the REST API returns, and JQL field semantics.

Internal issues are flat dicts (`summary`, `status` id, `assignee` accountId,
`description` as plain text, ...); `render_issue` turns one into the REST shape
for API version 2 (plain-text rich fields) or 3 (ADF documents).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shopfloor.twins.jql import JqlError, Value

ISSUE_TYPES = [
    {"id": "10001", "name": "Task", "description": "A small, distinct piece of work.", "subtask": False},
    {"id": "10002", "name": "Bug", "description": "A problem or error.", "subtask": False},
    {"id": "10003", "name": "Story", "description": "A user story.", "subtask": False},
    {"id": "10000", "name": "Epic", "description": "A big user story.", "subtask": False},
]
STATUS_CATEGORIES = {
    "new": {"id": 2, "key": "new", "colorName": "blue-gray", "name": "To Do"},
    "indeterminate": {"id": 4, "key": "indeterminate", "colorName": "yellow", "name": "In Progress"},
    "done": {"id": 3, "key": "done", "colorName": "green", "name": "Done"},
}
STATUSES = [
    {"id": "10000", "name": "To Do", "category": "new"},
    {"id": "3", "name": "In Progress", "category": "indeterminate"},
    {"id": "10001", "name": "Done", "category": "done"},
]
#: Global transitions of the simplified workflow: from any status to the named one.
TRANSITIONS = [
    {"id": "11", "name": "To Do", "to": "10000"},
    {"id": "21", "name": "In Progress", "to": "3"},
    {"id": "31", "name": "Done", "to": "10001"},
]
PRIORITIES = [
    {"id": "1", "name": "Highest"},
    {"id": "2", "name": "High"},
    {"id": "3", "name": "Medium"},
    {"id": "4", "name": "Low"},
    {"id": "5", "name": "Lowest"},
]
DEFAULT_PRIORITY = "3"
#: Fields an issue may be created or edited with (everything else is "not on the screen").
EDITABLE_FIELDS = {
    "project",
    "summary",
    "description",
    "issuetype",
    "priority",
    "assignee",
    "reporter",
    "labels",
    "duedate",
}
NAVIGABLE_FIELDS = [
    "summary",
    "description",
    "issuetype",
    "project",
    "status",
    "priority",
    "assignee",
    "reporter",
    "labels",
    "created",
    "updated",
    "resolution",
    "resolutiondate",
    "duedate",
    "comment",
]


def jira_time(epoch: float) -> str:
    """Jira's timestamp format: 2024-01-01T00:00:00.000+0000."""
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def to_adf(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    return {
        "type": "doc",
        "version": 1,
        "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": line}] if line else []}
            for line in text.split("\n")
        ],
    }


def from_adf(doc: Any) -> str:
    """Plain text of an ADF document; ValueError when it is not one."""
    if not isinstance(doc, dict) or doc.get("type") != "doc" or not isinstance(doc.get("content"), list):
        raise ValueError("not an Atlassian Document")

    def text_of(node: dict[str, Any]) -> str:
        if node.get("type") == "text":
            return str(node.get("text", ""))
        if node.get("type") == "hardBreak":
            return "\n"
        return "".join(text_of(child) for child in node.get("content", []) if isinstance(child, dict))

    return "\n".join(text_of(block) for block in doc["content"] if isinstance(block, dict))


def by_id(catalog: list[dict[str, Any]], ident: str) -> dict[str, Any]:
    return next(item for item in catalog if item["id"] == ident)


def find_named(catalog: list[dict[str, Any]], ref: Any) -> dict[str, Any] | None:
    """An item referenced by {"id": ...}, {"name": ...}, or a bare id/name string."""
    if isinstance(ref, dict):
        ident, name = ref.get("id"), ref.get("name")
    else:
        ident = name = ref
    for item in catalog:
        if (ident is not None and item["id"] == str(ident)) or (
            name is not None and str(item["name"]).lower() == str(name).lower()
        ):
            return item
    return None


class JiraRenderer:
    """REST JSON for the twin's records, with `self` links on the client's base URL."""

    def __init__(self, base: str, version: str, state: dict[str, Any]) -> None:
        self.base = base
        self.version = "3" if version == "3" else "2"
        self.api = f"{base}/rest/api/{self.version}"
        self.state = state

    def rich(self, text: str | None) -> Any:
        return to_adf(text) if self.version == "3" else text

    def user(self, account_id: str | None) -> dict[str, Any] | None:
        if account_id is None:
            return None
        user = self.state["users"][account_id]
        return {
            "self": f"{self.api}/user?accountId={account_id}",
            "accountId": account_id,
            "accountType": "atlassian",
            "emailAddress": user["email"],
            "displayName": user["displayName"],
            "active": user.get("active", True),
            "timeZone": "Etc/UTC",
            "avatarUrls": {},
        }

    def issue_type(self, item: dict[str, Any]) -> dict[str, Any]:
        return {"self": f"{self.api}/issuetype/{item['id']}", "iconUrl": "", "hierarchyLevel": 0, **item}

    def status(self, ident: str) -> dict[str, Any]:
        item = by_id(STATUSES, ident)
        category = STATUS_CATEGORIES[item["category"]]
        return {
            "self": f"{self.api}/status/{ident}",
            "description": "",
            "iconUrl": "",
            "name": item["name"],
            "id": ident,
            "statusCategory": {"self": f"{self.api}/statuscategory/{category['id']}", **category},
        }

    def priority(self, ident: str | None) -> dict[str, Any] | None:
        if ident is None:
            return None
        return {"self": f"{self.api}/priority/{ident}", "iconUrl": "", **by_id(PRIORITIES, ident)}

    def project(self, key: str, *, issue_types: bool = True) -> dict[str, Any]:
        project = self.state["projects"][key]
        out = {
            "self": f"{self.api}/project/{project['id']}",
            "id": project["id"],
            "key": key,
            "name": project["name"],
            "projectTypeKey": "software",
            "simplified": False,
            "style": "classic",
            "isPrivate": False,
            "avatarUrls": {},
        }
        if issue_types:
            out["lead"] = self.user(project["lead"])
            out["issueTypes"] = [self.issue_type(t) for t in ISSUE_TYPES]
        return out

    def comment(self, comment: dict[str, Any], issue_id: str) -> dict[str, Any]:
        author = self.user(comment["author"])
        return {
            "self": f"{self.api}/issue/{issue_id}/comment/{comment['id']}",
            "id": comment["id"],
            "author": author,
            "updateAuthor": author,
            "body": self.rich(comment["body"]),
            "created": jira_time(comment["created"]),
            "updated": jira_time(comment["updated"]),
            "jsdPublic": True,
        }

    def transition(self, item: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": item["id"],
            "name": item["name"],
            "to": self.status(item["to"]),
            "hasScreen": False,
            "isGlobal": True,
            "isInitial": False,
            "isAvailable": True,
            "isConditional": False,
            "isLooped": False,
        }

    def issue(self, issue: dict[str, Any], fields: list[str] | None = None) -> dict[str, Any]:
        comments = [self.comment(c, issue["id"]) for c in issue["comments"]]
        resolution = (
            {
                "self": f"{self.api}/resolution/10000",
                "id": "10000",
                "name": "Done",
                "description": "Work has been completed on this issue.",
            }
            if issue.get("resolutiondate")
            else None
        )
        all_fields = {
            "summary": issue["summary"],
            "description": self.rich(issue.get("description")),
            "issuetype": self.issue_type(by_id(ISSUE_TYPES, issue["issuetype"])),
            "project": self.project(issue["project"], issue_types=False),
            "status": self.status(issue["status"]),
            "priority": self.priority(issue.get("priority")),
            "assignee": self.user(issue.get("assignee")),
            "reporter": self.user(issue.get("reporter")),
            "creator": self.user(issue.get("reporter")),
            "labels": list(issue["labels"]),
            "created": jira_time(issue["created"]),
            "updated": jira_time(issue["updated"]),
            "resolution": resolution,
            "resolutiondate": jira_time(issue["resolutiondate"]) if issue.get("resolutiondate") else None,
            "duedate": issue.get("duedate"),
            "comment": {
                "comments": comments,
                "self": f"{self.api}/issue/{issue['id']}/comment",
                "maxResults": len(comments),
                "total": len(comments),
                "startAt": 0,
            },
        }
        out: dict[str, Any] = {
            "expand": "renderedFields,names,schema,operations,editmeta,changelog",
            "id": issue["id"],
            "self": f"{self.api}/issue/{issue['id']}",
            "key": issue["key"],
        }
        selected = select_fields(fields)
        if selected is None:
            out["fields"] = all_fields
        elif selected:
            out["fields"] = {k: v for k, v in all_fields.items() if k in selected}
        return out


def select_fields(requested: list[str] | None) -> set[str] | None:
    """None means every field; an empty set means only id/key (the search/jql default)."""
    if requested is None:
        return None
    wanted: set[str] = set()
    names = [f.strip() for item in requested for f in str(item).split(",") if f.strip()]
    if any(n in ("*all", "*navigable") for n in names):
        wanted = set(NAVIGABLE_FIELDS) | {"creator"}
    for name in names:
        if name.startswith("-"):
            wanted.discard(name[1:])
        elif not name.startswith("*") and name != "id":
            wanted.add(name)
    return wanted


class IssueFields:
    """JQL semantics of the twin's issue fields (implements jql.JqlFields)."""

    FIELDS = {
        "project",
        "status",
        "priority",
        "assignee",
        "reporter",
        "labels",
        "issuetype",
        "type",
        "summary",
        "description",
        "text",
        "comment",
        "key",
        "issuekey",
        "id",
        "created",
        "updated",
        "statuscategory",
        "resolution",
    }
    TEXT_FIELDS = {"summary", "description", "text", "comment"}

    def __init__(self, state: dict[str, Any], caller: str) -> None:
        self.state = state
        self.caller = caller

    def _canon(self, name: str) -> str:
        name = name.lower()
        return {"type": "issuetype", "issuekey": "key"}.get(name, name)

    def _user_ids(self, ref: str) -> list[str]:
        ref = ref.lower()
        return [
            uid
            for uid, u in self.state["users"].items()
            if ref in (uid.lower(), u["email"].lower(), u["displayName"].lower())
        ]

    def check(self, field: str, op: str, values: list[Value]) -> None:
        name = self._canon(field)
        if name not in self.FIELDS:
            raise JqlError(f"Field '{field}' does not exist or you do not have permission to view it.")
        if op in ("~", "!~") and name not in self.TEXT_FIELDS:
            raise JqlError(f"The operator '{op}' is not supported by the '{field}' field.")
        if name in self.TEXT_FIELDS and op not in ("~", "!~", "IS", "IS NOT"):
            raise JqlError(f"The operator '{op}' is not supported by the '{field}' field.")
        for value in values:
            if value.function:
                if value.function.lower() != "currentuser" or name not in ("assignee", "reporter"):
                    raise JqlError(f"Unable to find JQL function '{value.function}()'.")
                continue
            if value.text is None or op in (">", ">=", "<", "<="):
                continue
            if not self._known(name, value.text):
                raise JqlError(f"The value '{value.text}' does not exist for the field '{field}'.")

    def _known(self, name: str, text: str) -> bool:
        low = text.lower()
        if name == "project":
            return any(
                low in (k.lower(), p["id"], p["name"].lower()) for k, p in self.state["projects"].items()
            )
        if name == "status":
            return any(low in (s["id"], s["name"].lower()) for s in STATUSES)
        if name == "priority":
            return any(low in (p["id"], p["name"].lower()) for p in PRIORITIES)
        if name == "issuetype":
            return any(low in (t["id"], t["name"].lower()) for t in ISSUE_TYPES)
        if name in ("assignee", "reporter"):
            return bool(self._user_ids(text))
        if name == "statuscategory":
            return any(low in (c["key"], c["name"].lower()) for c in STATUS_CATEGORIES.values())
        return True

    def values(self, issue: dict[str, Any], field: str) -> list[str]:
        name = self._canon(field)
        if name == "project":
            project = self.state["projects"][issue["project"]]
            return [issue["project"].lower(), project["id"], project["name"].lower()]
        if name == "status":
            status = by_id(STATUSES, issue["status"])
            return [status["id"], status["name"].lower()]
        if name == "statuscategory":
            category = STATUS_CATEGORIES[by_id(STATUSES, issue["status"])["category"]]
            return [category["key"], category["name"].lower()]
        if name == "priority":
            if not issue.get("priority"):
                return []
            priority = by_id(PRIORITIES, issue["priority"])
            return [priority["id"], priority["name"].lower()]
        if name == "issuetype":
            issue_type = by_id(ISSUE_TYPES, issue["issuetype"])
            return [issue_type["id"], issue_type["name"].lower()]
        if name in ("assignee", "reporter"):
            uid = issue.get(name)
            if not uid:
                return []
            user = self.state["users"][uid]
            return [uid.lower(), user["email"].lower(), user["displayName"].lower()]
        if name == "labels":
            return [label.lower() for label in issue["labels"]]
        if name == "key":
            return [issue["key"].lower(), issue["id"]]
        if name == "id":
            return [issue["id"]]
        if name == "resolution":
            return ["done"] if issue.get("resolutiondate") else []
        if name in self.TEXT_FIELDS:
            return [self.text(issue, name)] if self.text(issue, name) else []
        return [str(issue.get(name, "")).lower()]

    def text(self, issue: dict[str, Any], field: str) -> str:
        name = self._canon(field)
        parts = {
            "summary": [issue["summary"]],
            "description": [issue.get("description") or ""],
            "comment": [c["body"] for c in issue["comments"]],
        }
        if name == "text":
            return "\n".join(p for key in parts for p in parts[key])
        return "\n".join(parts.get(name, []))

    def sort_value(self, issue: dict[str, Any], field: str) -> Any:
        name = self._canon(field)
        if name == "priority":
            # Jira sorts priorities by rank: DESC puts Highest first.
            return None if not issue.get("priority") else -int(issue["priority"])
        if name in ("key", "id"):
            return (
                (issue["project"], int(issue["key"].rsplit("-", 1)[1])) if name == "key" else int(issue["id"])
            )
        if name in ("created", "updated", "resolutiondate"):
            return issue.get(name)
        if name == "status":
            return [s["id"] for s in STATUSES].index(issue["status"])
        if name in ("assignee", "reporter"):
            uid = issue.get(name)
            return None if not uid else self.state["users"][uid]["displayName"].lower()
        if name == "summary":
            return issue["summary"].lower()
        if name == "project":
            return issue["project"]
        if name == "issuetype":
            return by_id(ISSUE_TYPES, issue["issuetype"])["name"]
        return None

    def literal(self, field: str, value: Value) -> Any:
        name = self._canon(field)
        if value.function:
            return self.caller.lower()
        text = value.text or ""
        if name == "priority":
            item = find_named(PRIORITIES, text)
            return -int(item["id"]) if item else 0
        if name in ("created", "updated", "resolutiondate"):
            try:
                return datetime.fromisoformat(text.replace("/", "-")).replace(tzinfo=UTC).timestamp()
            except ValueError:
                raise JqlError(
                    f"Date value '{text}' for field '{field}' is invalid. Valid formats include: "
                    "'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd'."
                ) from None
        if name == "id":
            return int(text) if text.isdigit() else text
        if name in ("assignee", "reporter"):
            ids = self._user_ids(text)
            return ids[0].lower() if ids else text.lower()
        return text
