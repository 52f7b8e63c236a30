"""Jira Cloud REST API twin (v2 and v3 paths), enough for the `jira` package.

    JIRA(server=twin.url, basic_auth=(email, api_token))

Serves projects, issue types, statuses, priorities, fields, users; create, get,
edit, assign and delete issues; comments; global transitions (To Do / In
Progress / Done); enhanced JQL search (`/search/jql`, nextPageToken pages) with
the subset in `twins.jql`. Errors are Jira's bodies: `{"errorMessages": [...],
"errors": {field: message}}`. On `/rest/api/3` rich text (description, comment
body) must be Atlassian Document Format, as on Jira Cloud; `/rest/api/2` takes
plain strings. The removed `/search` endpoint answers 410 as Cloud does.

Issue events (`jira:issue_created`, `jira:issue_updated`, `jira:issue_deleted`,
`comment_created`) are POSTed as Jira webhooks to the fixture's `webhooks` URLs.

Fixture (`jira:` in a seed file):

    users: [{email: admin@example.com, name: Admin, api_token: jira-twin-token}]
    projects: [{key: OPS, name: Operations, lead: admin@example.com}]
    issues: [{project: OPS, summary: "Disk full", priority: High, labels: [infra],
              assignee: admin@example.com, status: In Progress}]
    webhooks: [{url: "http://127.0.0.1:8080/hook", events: [jira:issue_created]}]
"""

from __future__ import annotations

import base64
import binascii
import copy
from collections.abc import Mapping
from typing import Any

from starlette.responses import PlainTextResponse, Response

from shopfloor.twins.framework import Twin, TwinReply, TwinRequest, json_response, route
from shopfloor.twins.jira_model import (
    DEFAULT_PRIORITY,
    EDITABLE_FIELDS,
    ISSUE_TYPES,
    PRIORITIES,
    STATUSES,
    TRANSITIONS,
    IssueFields,
    JiraRenderer,
    find_named,
    from_adf,
)
from shopfloor.twins.jql import JqlError, compile_where, parse_jql, sort_issues, validate
from shopfloor.twins.webhooks import WebhookSender

DEFAULT_EMAIL = "admin@example.com"
DEFAULT_API_TOKEN = "jira-twin-token"
DEFAULT_SEARCH_PAGE = 50
#: Jira Cloud caps pages at 5000 ids, or 100 issues when fields are requested.
MAX_SEARCH_PAGE_IDS = 5000
MAX_SEARCH_PAGE_FIELDS = 100
API_VERSIONS = ("2", "3", "latest")
PREFIX = "/rest/api/{version}"


def _errors(
    status: int, messages: list[str] | None = None, errors: dict[str, str] | None = None
) -> TwinReply:
    return TwinReply(json_response({"errorMessages": messages or [], "errors": errors or {}}, status))


class JiraTwin(Twin):
    name = "jira"
    description = "Jira Cloud REST API v2/v3 (the `jira` package)"
    fixture_keys = frozenset({"users", "projects", "issues", "webhooks"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.webhooks = WebhookSender()
        super().__init__(*args, **kwargs)

    # --- fixture -----------------------------------------------------------------------------------
    def load_fixture(self, fixture: Mapping[str, Any]) -> None:
        s = self.state
        if not s:
            s.update(users={}, tokens={}, projects={}, issues={}, webhooks=[])
            if "users" not in fixture:
                self._add_user({"email": DEFAULT_EMAIL, "name": "Admin", "api_token": DEFAULT_API_TOKEN})
                self._add_user({"email": "dev@example.com", "name": "Dev Eloper"})
            if "projects" not in fixture:
                self._add_project({"key": "OPS", "name": "Operations"})
        for spec in fixture.get("users", []):
            self._add_user(spec)
        for spec in fixture.get("projects", []):
            self._add_project(spec)
        for spec in fixture.get("issues", []):
            caller = self._user_ref(spec.get("reporter", DEFAULT_EMAIL)) or next(iter(s["users"]))
            fields = {k: v for k, v in spec.items() if k not in ("status", "comments")}
            fields["project"] = {"key": spec["project"]}
            fields.setdefault("issuetype", {"name": "Task"})
            if isinstance(fields.get("priority"), str):
                fields["priority"] = {"name": fields["priority"]}
            if "assignee" in fields:
                fields["assignee"] = {"accountId": self._user_ref(fields["assignee"])}
            fields.pop("reporter", None)
            issue = self._create(fields, caller, version="2")
            if "status" in spec:
                self._set_status(issue, find_named(STATUSES, spec["status"]) or {"id": "?"}, caller)
            for body in spec.get("comments", []):
                self._add_comment(issue, body, caller)
        s["webhooks"].extend(
            {"url": w["url"], "events": list(w.get("events", []))} for w in fixture.get("webhooks", [])
        )

    def _add_user(self, spec: Mapping[str, Any]) -> None:
        account_id = "5b10ac8d82e05b22cc7d" + self.ids.next("", 4, "0123456789abcdef")
        self.state["users"][account_id] = {
            "email": spec["email"],
            "displayName": spec.get("name", spec["email"]),
            "active": bool(spec.get("active", True)),
        }
        if spec.get("api_token"):
            self.state["tokens"][spec["email"].lower()] = spec["api_token"]

    def _add_project(self, spec: Mapping[str, Any]) -> None:
        key = str(spec["key"]).upper()
        lead = self._user_ref(spec.get("lead", DEFAULT_EMAIL)) or next(iter(self.state["users"]))
        self.state["projects"][key] = {
            "id": str(self.ids.next_int("project", 10000)),
            "name": spec.get("name", key),
            "lead": lead,
            "next": 1,
        }

    def _user_ref(self, ref: Any) -> str | None:
        if isinstance(ref, dict):
            ref = ref.get("accountId") or ref.get("emailAddress") or ref.get("name")
        if ref is None:
            return None
        for uid, user in self.state["users"].items():
            if str(ref).lower() in (uid.lower(), user["email"].lower()):
                return uid
        return None

    # --- framework hooks ---------------------------------------------------------------------------
    def environment(self) -> dict[str, str]:
        env = {"JIRA_URL": self.url}
        for email, token in list(self.state["tokens"].items())[:1]:
            env.update(JIRA_EMAIL=email, JIRA_API_TOKEN=token)
        return env

    def credentials(self) -> dict[str, Any]:
        return {
            "basic_auth": [
                {"email": email, "api_token": token} for email, token in self.state["tokens"].items()
            ]
        }

    def authenticate(self, request: TwinRequest) -> Response | None:
        if request.path_params.get("version") not in API_VERSIONS:
            return self.not_found_response(request)
        header = request.headers.get("authorization", "")
        if not header and request.path.endswith("/serverInfo"):
            return None  # public when anonymous; wrong credentials are refused everywhere, as on Jira Cloud
        if header.lower().startswith("basic "):
            try:
                email, _, token = base64.b64decode(header[6:]).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                email = token = ""
            if email and self.state["tokens"].get(email.lower()) == token:
                uid = self._user_ref(email)
                if uid is not None and self.state["users"][uid]["active"]:
                    request.auth["account_id"] = uid
                    return None
        return PlainTextResponse(
            "Client must be authenticated to access this resource.",
            401,
            headers={"WWW-Authenticate": 'Basic realm="protected-area"'},
        )

    def error_response(self, status: int, message: str) -> Response:
        return json_response({"errorMessages": [message], "errors": {}}, status)

    def rate_limited_response(self, retry_after_s: int) -> Response:
        return json_response(
            {"errorMessages": ["Rate limit exceeded."], "errors": {}},
            429,
            {"Retry-After": str(retry_after_s), "X-RateLimit-Reason": "jira-quota-tenant-based"},
        )

    def not_found_response(self, request: TwinRequest) -> Response:
        return json_response(
            {"errorMessages": ["null for uri: " + request.base_url + request.path], "errors": {}}, 404
        )

    # --- helpers -----------------------------------------------------------------------------------
    def _render(self, request: TwinRequest) -> JiraRenderer:
        return JiraRenderer(request.base_url, str(request.path_params.get("version", "2")), self.state)

    def _body(self, request: TwinRequest) -> dict[str, Any]:
        try:
            body = request.json()
        except ValueError:
            raise _errors(400, ["Unexpected character in request body: not valid JSON."]) from None
        if not isinstance(body, dict):
            raise _errors(400, ["Request body must be a JSON object."])
        return body

    def _issue(self, ref: str) -> dict[str, Any]:
        for issue in self.state["issues"].values():
            if ref in (issue["id"], issue["key"]) or ref.upper() == issue["key"]:
                return issue
        raise _errors(404, ["Issue does not exist or you do not have permission to see it."])

    def _rich_text(self, value: Any, version: str, field: str) -> str | None:
        if value is None:
            return None
        if version == "3":
            try:
                return from_adf(value)
            except ValueError:
                message = (
                    "Comment body is not valid!"
                    if field == "comment"
                    else "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
                )
                raise _errors(400, errors={field: message}) from None
        if not isinstance(value, str):
            raise _errors(400, errors={field: "Operation value must be a string"})
        return value

    def _apply_fields(
        self, issue: dict[str, Any], fields: Mapping[str, Any], version: str, errors: dict[str, str]
    ) -> None:
        for name, value in fields.items():
            if name not in EDITABLE_FIELDS:
                errors[name] = (
                    f"Field '{name}' cannot be set. It is not on the appropriate screen, or unknown."
                )
            elif name == "summary":
                if not isinstance(value, str) or not value.strip():
                    errors["summary"] = "You must specify a summary of the issue."
                elif len(value) > 255:
                    errors["summary"] = "Summary must be less than 255 characters."
                else:
                    issue["summary"] = value
            elif name == "description":
                try:
                    issue["description"] = self._rich_text(value, version, "description")
                except TwinReply:
                    errors["description"] = (
                        "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
                    )
            elif name == "priority":
                item = find_named(PRIORITIES, value) if value else None
                if value and item is None:
                    errors["priority"] = "Specify a valid value for priority"
                else:
                    issue["priority"] = item["id"] if item else None
            elif name in ("assignee", "reporter"):
                uid = self._user_ref(value) if value else None
                if value and uid is None:
                    errors[name] = f"Specify a valid value for {name}"
                else:
                    issue[name] = uid
            elif name == "labels":
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    errors["labels"] = "Labels must be a list of strings."
                elif bad := [v for v in value if " " in v]:
                    errors["labels"] = f"The label '{bad[0]}' contains spaces which is invalid."
                else:
                    issue["labels"] = list(dict.fromkeys(value))
            elif name == "duedate":
                issue["duedate"] = value
            elif name == "issuetype":
                item = find_named(ISSUE_TYPES, value)
                if item is None:
                    errors["issuetype"] = "Specify a valid issue type"
                else:
                    issue["issuetype"] = item["id"]

    def _create(self, fields: Mapping[str, Any], caller: str, version: str) -> dict[str, Any]:
        errors: dict[str, str] = {}
        project_ref = fields.get("project") or {}
        project_key = None
        for key, project in self.state["projects"].items():
            if isinstance(project_ref, dict) and (
                project_ref.get("key", "").upper() == key or str(project_ref.get("id")) == project["id"]
            ):
                project_key = key
        if project_key is None:
            errors["project"] = "Specify a valid project ID or key"
        if "issuetype" not in fields:
            errors["issuetype"] = "Specify an issue type"
        if not fields.get("summary"):
            errors["summary"] = "You must specify a summary of the issue."
        if errors:
            raise _errors(400, errors=errors)
        assert project_key is not None
        now = self.clock.now()
        issue: dict[str, Any] = {
            "id": str(self.ids.next_int("issue", 10000)),
            "project": project_key,
            "summary": "",
            "description": None,
            "issuetype": "10001",
            "status": STATUSES[0]["id"],
            "priority": DEFAULT_PRIORITY,
            "assignee": None,
            "reporter": caller,
            "labels": [],
            "created": now,
            "updated": now,
            "resolutiondate": None,
            "duedate": None,
            "comments": [],
        }
        self._apply_fields(issue, {k: v for k, v in fields.items() if k != "project"}, version, errors)
        if errors:
            raise _errors(400, errors=errors)
        project = self.state["projects"][project_key]
        issue["key"] = f"{project_key}-{project['next']}"
        project["next"] += 1
        self.state["issues"][issue["id"]] = issue
        return issue

    def _set_status(self, issue: dict[str, Any], status: Mapping[str, Any], caller: str) -> dict[str, Any]:
        before = issue["status"]
        issue["status"] = status["id"]
        issue["updated"] = self.clock.now()
        done = next(s for s in STATUSES if s["id"] == status["id"])["category"] == "done"
        issue["resolutiondate"] = issue["updated"] if done else None
        return {
            "field": "status",
            "fieldtype": "jira",
            "from": before,
            "to": status["id"],
            "fromString": next(s["name"] for s in STATUSES if s["id"] == before),
            "toString": status["name"],
        }

    def _add_comment(self, issue: dict[str, Any], body: str, caller: str) -> dict[str, Any]:
        now = self.clock.now()
        comment = {
            "id": str(self.ids.next_int("comment", 10000)),
            "author": caller,
            "body": body,
            "created": now,
            "updated": now,
        }
        issue["comments"].append(comment)
        issue["updated"] = now
        return comment

    def _emit(self, request: TwinRequest, event: str, issue: dict[str, Any], **extra: Any) -> None:
        targets = [w["url"] for w in self.state["webhooks"] if not w["events"] or event in w["events"]]
        if not targets:
            return
        render = JiraRenderer(request.base_url, "2", self.state)
        payload = {
            "timestamp": int(self.clock.now() * 1000),
            "webhookEvent": event,
            "user": render.user(request.auth.get("account_id")),
            "issue": render.issue(issue),
            **extra,
        }
        if event.startswith("jira:issue_"):
            payload["issue_event_type_name"] = {
                "jira:issue_created": "issue_created",
                "jira:issue_deleted": "issue_deleted",
            }.get(event, "issue_generic")
        for url in targets:
            self.webhooks.send(url, event, payload)

    # --- metadata ----------------------------------------------------------------------------------
    @route("GET", PREFIX + "/serverInfo")
    def server_info(self, request: TwinRequest) -> Any:
        return {
            "baseUrl": request.base_url,
            "version": "1001.0.0-SNAPSHOT",
            "versionNumbers": [1001, 0, 0],
            "deploymentType": "Cloud",
            "buildNumber": 100250,
            "buildDate": "2024-01-01T00:00:00.000+0000",
            "serverTime": self.clock.now_datetime().strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
            "scmInfo": "shopfloor-twin",
            "serverTitle": "Jira",
        }

    @route("GET", PREFIX + "/myself")
    def myself(self, request: TwinRequest) -> Any:
        return self._render(request).user(request.auth["account_id"])

    @route("GET", PREFIX + "/field")
    def fields(self, request: TwinRequest) -> Any:
        names = {
            "summary": "Summary",
            "description": "Description",
            "issuetype": "Issue Type",
            "project": "Project",
            "status": "Status",
            "priority": "Priority",
            "assignee": "Assignee",
            "reporter": "Reporter",
            "labels": "Labels",
            "created": "Created",
            "updated": "Updated",
            "resolution": "Resolution",
            "resolutiondate": "Resolved",
            "duedate": "Due date",
            "comment": "Comment",
        }
        return [
            {
                "id": fid,
                "key": fid,
                "name": name,
                "custom": False,
                "orderable": True,
                "navigable": True,
                "searchable": True,
                "clauseNames": [fid],
            }
            for fid, name in names.items()
        ]

    @route("GET", PREFIX + "/issuetype")
    def issue_types(self, request: TwinRequest) -> Any:
        render = self._render(request)
        return [render.issue_type(t) for t in ISSUE_TYPES]

    @route("GET", PREFIX + "/priority")
    def priorities(self, request: TwinRequest) -> Any:
        render = self._render(request)
        return [render.priority(p["id"]) for p in PRIORITIES]

    @route("GET", PREFIX + "/status")
    def statuses(self, request: TwinRequest) -> Any:
        render = self._render(request)
        return [render.status(s["id"]) for s in STATUSES]

    @route("GET", PREFIX + "/user")
    def user(self, request: TwinRequest) -> Any:
        uid = self._user_ref(request.query.get("accountId"))
        if uid is None:
            raise _errors(404, ["Specified user does not exist or you do not have required permissions"])
        return self._render(request).user(uid)

    @route("GET", PREFIX + "/user/search")
    def user_search(self, request: TwinRequest) -> Any:
        query = (request.query.get("query") or "").lower()
        account = request.query.get("accountId")
        start, size = self._paging(request, DEFAULT_SEARCH_PAGE)
        render = self._render(request)
        found = [
            render.user(uid)
            for uid, u in self.state["users"].items()
            if (account and uid == account)
            or (
                query
                and (
                    query == uid.lower()
                    or u["email"].lower().startswith(query)
                    or any(w.startswith(query) for w in u["displayName"].lower().split())
                )
            )
        ]
        return found[start : start + size]

    # --- projects ----------------------------------------------------------------------------------
    @route("GET", PREFIX + "/project")
    def projects(self, request: TwinRequest) -> Any:
        render = self._render(request)
        return [
            render.project(key, issue_types="issueTypes" in (request.query.get("expand") or ""))
            for key in sorted(self.state["projects"])
        ]

    @route("GET", PREFIX + "/project/search")
    def project_search(self, request: TwinRequest) -> Any:
        start, size = self._paging(request, DEFAULT_SEARCH_PAGE)
        keys = sorted(self.state["projects"])
        render = self._render(request)
        page = keys[start : start + size]
        return {
            "self": request.base_url + request.path,
            "maxResults": size,
            "startAt": start,
            "total": len(keys),
            "isLast": start + size >= len(keys),
            "values": [render.project(k) for k in page],
        }

    @route("GET", PREFIX + "/project/{ref}")
    def project(self, request: TwinRequest) -> Any:
        ref = request.path_params["ref"]
        for key, project in self.state["projects"].items():
            if ref.upper() == key or ref == project["id"]:
                return self._render(request).project(key)
        raise _errors(404, [f"No project could be found with key '{ref}'."])

    def _paging(self, request: TwinRequest, default: int) -> tuple[int, int]:
        try:
            start = int(request.query.get("startAt") or 0)
            size = int(request.query.get("maxResults") or default)
        except ValueError:
            raise _errors(400, ["startAt and maxResults must be integers."]) from None
        return max(start, 0), max(min(size, MAX_SEARCH_PAGE_FIELDS), 0)

    # --- issues ------------------------------------------------------------------------------------
    @route("POST", PREFIX + "/issue")
    def create_issue(self, request: TwinRequest) -> Any:
        body = self._body(request)
        fields = body.get("fields")
        if not isinstance(fields, dict):
            raise _errors(
                400,
                errors={
                    "project": "Specify a valid project ID or key",
                    "summary": "You must specify a summary of the issue.",
                },
            )
        issue = self._create(fields, request.auth["account_id"], request.path_params["version"])
        self._emit(request, "jira:issue_created", issue)
        render = self._render(request)
        return json_response(
            {"id": issue["id"], "key": issue["key"], "self": f"{render.api}/issue/{issue['id']}"}, 201
        )

    @route("GET", PREFIX + "/issue/{ref}")
    def get_issue(self, request: TwinRequest) -> Any:
        issue = self._issue(request.path_params["ref"])
        requested = request.query.getlist("fields")
        return self._render(request).issue(issue, requested or None)

    @route("PUT", PREFIX + "/issue/{ref}")
    def edit_issue(self, request: TwinRequest) -> Any:
        issue = self._issue(request.path_params["ref"])
        body = self._body(request)
        version = request.path_params["version"]
        candidate = copy.deepcopy(issue)
        errors: dict[str, str] = {}
        self._apply_fields(candidate, body.get("fields") or {}, version, errors)
        for name, operations in (body.get("update") or {}).items():
            for operation in operations if isinstance(operations, list) else [operations]:
                # A bare value is the `add` shorthand the jira package sends for list kwargs.
                for verb, value in operation.items() if isinstance(operation, dict) else [("add", operation)]:
                    if name == "labels" and verb in ("add", "remove", "set"):
                        labels = candidate["labels"]
                        candidate["labels"] = (
                            value
                            if verb == "set"
                            else [*labels, value]
                            if verb == "add" and value not in labels
                            else [v for v in labels if v != value]
                            if verb == "remove"
                            else labels
                        )
                    elif name == "comment" and verb == "add":
                        text = self._rich_text(value.get("body"), version, "comment")
                        self._add_comment(candidate, text or "", request.auth["account_id"])
                    elif name in EDITABLE_FIELDS and verb == "set":
                        self._apply_fields(candidate, {name: value}, version, errors)
                    else:
                        errors[name] = (
                            f"Field '{name}' cannot be set. It is not on the appropriate screen, or unknown."
                        )
        if errors:
            raise _errors(400, errors=errors)
        candidate["updated"] = self.clock.now()
        issue.clear()
        issue.update(candidate)
        self._emit(request, "jira:issue_updated", issue)
        return Response(status_code=204)

    @route("PUT", PREFIX + "/issue/{ref}/assignee")
    def assign_issue(self, request: TwinRequest) -> Any:
        issue = self._issue(request.path_params["ref"])
        body = self._body(request)
        account = body.get("accountId")
        uid = self._user_ref(account) if account else None
        if account and uid is None:
            raise _errors(404, [f"User '{account}' does not exist."])
        issue["assignee"] = uid
        issue["updated"] = self.clock.now()
        self._emit(request, "jira:issue_updated", issue)
        return Response(status_code=204)

    @route("DELETE", PREFIX + "/issue/{ref}")
    def delete_issue(self, request: TwinRequest) -> Any:
        issue = self._issue(request.path_params["ref"])
        del self.state["issues"][issue["id"]]
        self._emit(request, "jira:issue_deleted", issue)
        return Response(status_code=204)

    # --- transitions & comments --------------------------------------------------------------------
    @route("GET", PREFIX + "/issue/{ref}/transitions")
    def transitions(self, request: TwinRequest) -> Any:
        issue = self._issue(request.path_params["ref"])
        render = self._render(request)
        wanted = request.query.get("transitionId")
        return {
            "expand": "transitions",
            "transitions": [
                render.transition(t)
                for t in TRANSITIONS
                if t["to"] != issue["status"] and (wanted is None or t["id"] == wanted)
            ],
        }

    @route("POST", PREFIX + "/issue/{ref}/transitions")
    def transition(self, request: TwinRequest) -> Any:
        issue = self._issue(request.path_params["ref"])
        body = self._body(request)
        ident = str((body.get("transition") or {}).get("id", ""))
        chosen = next((t for t in TRANSITIONS if t["id"] == ident and t["to"] != issue["status"]), None)
        if chosen is None:
            raise _errors(400, [f"Transition id '{ident}' is not valid for this issue."])
        errors: dict[str, str] = {}
        candidate = copy.deepcopy(issue)
        self._apply_fields(
            candidate,
            {k: v for k, v in (body.get("fields") or {}).items() if k != "resolution"},
            request.path_params["version"],
            errors,
        )
        if errors:
            raise _errors(400, errors=errors)
        issue.update(candidate)
        change = self._set_status(
            issue, next(s for s in STATUSES if s["id"] == chosen["to"]), request.auth["account_id"]
        )
        for operation in (body.get("update") or {}).get("comment", []):
            text = self._rich_text(
                operation.get("add", {}).get("body"), request.path_params["version"], "comment"
            )
            self._add_comment(issue, text or "", request.auth["account_id"])
        self._emit(
            request,
            "jira:issue_updated",
            issue,
            changelog={"id": str(self.ids.next_int("changelog", 10000)), "items": [change]},
        )
        return Response(status_code=204)

    @route("GET", PREFIX + "/issue/{ref}/comment")
    def comments(self, request: TwinRequest) -> Any:
        issue = self._issue(request.path_params["ref"])
        start, size = self._paging(request, DEFAULT_SEARCH_PAGE)
        render = self._render(request)
        page = issue["comments"][start : start + size]
        return {
            "startAt": start,
            "maxResults": size,
            "total": len(issue["comments"]),
            "comments": [render.comment(c, issue["id"]) for c in page],
        }

    @route("POST", PREFIX + "/issue/{ref}/comment")
    def add_comment(self, request: TwinRequest) -> Any:
        issue = self._issue(request.path_params["ref"])
        body = self._body(request)
        text = self._rich_text(body.get("body"), request.path_params["version"], "comment")
        if not text:
            raise _errors(400, errors={"comment": "Comment body can not be empty!"})
        comment = self._add_comment(issue, text, request.auth["account_id"])
        rendered = self._render(request).comment(comment, issue["id"])
        self._emit(
            request,
            "comment_created",
            issue,
            comment=JiraRenderer(request.base_url, "2", self.state).comment(comment, issue["id"]),
        )
        return json_response(rendered, 201)

    @route("GET", PREFIX + "/issue/{ref}/comment/{comment_id}")
    def get_comment(self, request: TwinRequest) -> Any:
        issue = self._issue(request.path_params["ref"])
        for comment in issue["comments"]:
            if comment["id"] == request.path_params["comment_id"]:
                return self._render(request).comment(comment, issue["id"])
        raise _errors(404, ["Can not find a comment for the id: " + request.path_params["comment_id"] + "."])

    # --- search ------------------------------------------------------------------------------------
    def _search_args(self, request: TwinRequest) -> dict[str, Any]:
        if request.method == "POST":
            return self._body(request)
        args: dict[str, Any] = dict(request.query)
        args["fields"] = request.query.getlist("fields") or None
        return args

    def _run_jql(self, jql: str, caller: str) -> list[dict[str, Any]]:
        fields = IssueFields(self.state, caller)
        try:
            query = parse_jql(jql)
            validate(query.where, fields)
            where = compile_where(query.where, fields)
            found = [i for i in self.state["issues"].values() if where(i)]
            order = query.order_by or [("created", True), ("id", True)]
            return sort_issues(found, order, fields)
        except JqlError as exc:
            raise _errors(400, [str(exc)]) from None

    @route("GET", PREFIX + "/search/jql")
    @route("POST", PREFIX + "/search/jql")
    def search_jql(self, request: TwinRequest) -> Any:
        args = self._search_args(request)
        jql = str(args.get("jql") or "").strip()
        query_bounded = bool(jql) and not jql.upper().startswith("ORDER BY")
        if not query_bounded:
            raise _errors(
                400,
                [
                    "Unbounded JQL queries are not allowed here. Please add a search restriction "
                    "to your query."
                ],
            )
        found = self._run_jql(jql, request.auth["account_id"])
        requested = args.get("fields")
        if isinstance(requested, str):
            requested = requested.split(",")
        wants_fields = bool(requested) and requested != ["id"]
        cap = MAX_SEARCH_PAGE_FIELDS if wants_fields else MAX_SEARCH_PAGE_IDS
        try:
            size = max(1, min(int(args.get("maxResults") or DEFAULT_SEARCH_PAGE), cap))
            token = args.get("nextPageToken")
            start = int(base64.urlsafe_b64decode(str(token).encode()).decode()) if token else 0
        except (ValueError, binascii.Error):
            raise _errors(400, ["The provided next page token is invalid or expired."]) from None
        page = found[start : start + size]
        render = self._render(request)
        out: dict[str, Any] = {
            "issues": [render.issue(i, requested or []) for i in page],
            "isLast": start + size >= len(found),
        }
        if not out["isLast"]:
            out["nextPageToken"] = base64.urlsafe_b64encode(str(start + size).encode()).decode()
        return out

    @route("POST", PREFIX + "/search/approximate-count")
    def approximate_count(self, request: TwinRequest) -> Any:
        jql = str(self._body(request).get("jql") or "")
        return {"count": len(self._run_jql(jql, request.auth["account_id"]))}

    @route("GET", PREFIX + "/search")
    @route("POST", PREFIX + "/search")
    def removed_search(self, request: TwinRequest) -> Any:
        raise _errors(
            410,
            [
                "The requested API has been removed. Please migrate to the /rest/api/3/search/jql "
                "API. A full migration guideline is available at "
                "https://developer.atlassian.com/changelog/#CHANGE-2046"
            ],
        )
