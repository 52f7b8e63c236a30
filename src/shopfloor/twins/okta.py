"""Okta Management API twin: users, lifecycle, groups and membership, for the `okta` SDK.

    Client({"orgUrl": twin.url, "token": api_token, "testing": {"testingDisableHttpsCheck": True}})

(The SDK insists on https unless `testingDisableHttpsCheck` is set; the twin
speaks plain HTTP on loopback.) Auth is `Authorization: SSWS <token>`. Errors are
Okta's JSON (`errorCode` E0000001 validation, E0000007 not found, E0000011
invalid token, E0000016 already active, E0000031 bad search, E0000047 rate
limit). Lists page with `limit` + `after` cursors and `Link` headers
(`rel="self"`, `rel="next"`), as Okta documents; `search=` and `filter=` take
the expression language in `twins.okta_filter`, `q=` matches name/email
prefixes.

Fixture (`okta:` in a seed file):

    api_tokens: [okta-twin-token]
    users: [{login: alice@example.com, firstName: Alice, lastName: Adams, status: ACTIVE}]
    groups: [{name: Engineering, description: Builders, members: [alice@example.com]}]
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from starlette.responses import Response

from shopfloor.twins.framework import Twin, TwinReply, TwinRequest, json_response, route
from shopfloor.twins.ids import ALPHANUMERIC
from shopfloor.twins.okta_filter import FilterError, compile_filter, lookup

DEFAULT_API_TOKEN = "okta-twin-token"
DEFAULT_LIST_LIMIT = 200
#: Okta returns 10 users by default for `q=` lookups.
DEFAULT_Q_LIMIT = 10
MAX_LIST_LIMIT = 200
#: Okta's default rate-limit bucket size, reported in X-Rate-Limit-Limit.
RATE_LIMIT_BUCKET = 600
USER_STATUSES = {
    "STAGED",
    "PROVISIONED",
    "ACTIVE",
    "RECOVERY",
    "PASSWORD_EXPIRED",
    "LOCKED_OUT",
    "SUSPENDED",
    "DEPROVISIONED",
}


def okta_time(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(epoch))


class OktaTwin(Twin):
    name = "okta"
    description = "Okta Management API (the `okta` SDK)"
    fixture_keys = frozenset({"api_tokens", "users", "groups"})

    # --- fixture -----------------------------------------------------------------------------------
    def load_fixture(self, fixture: Mapping[str, Any]) -> None:
        s = self.state
        if not s:
            s.update(
                tokens=list(fixture.get("api_tokens", [DEFAULT_API_TOKEN])),
                users={},
                groups={},
                members={},
                user_type=self.ids.next("oty", 17, ALPHANUMERIC),
            )
            everyone = self._new_group("Everyone", "All users in your organization", kind="BUILT_IN")
            s["everyone"] = everyone["id"]
        elif "api_tokens" in fixture:
            s["tokens"].extend(fixture["api_tokens"])
        for spec in fixture.get("users", []):
            profile = {k: v for k, v in spec.items() if k not in ("status", "password")}
            profile.setdefault("email", profile["login"])
            user = self._new_user(profile)
            self._set_status(user, str(spec.get("status", "ACTIVE")).upper())
        for spec in fixture.get("groups", []):
            group = self._new_group(spec["name"], spec.get("description"))
            for login in spec.get("members", []):
                s["members"][group["id"]].append(self._find_user(login)["id"])

    def _new_user(self, profile: Mapping[str, Any]) -> dict[str, Any]:
        now = okta_time(self.clock.now())
        user = {
            "id": self.ids.next("00u", 17, ALPHANUMERIC),
            "status": "STAGED",
            "created": now,
            "activated": None,
            "statusChanged": None,
            "lastLogin": None,
            "lastUpdated": now,
            "passwordChanged": None,
            "type": {"id": self.state["user_type"]},
            "profile": {
                "firstName": None,
                "lastName": None,
                "mobilePhone": None,
                "secondEmail": None,
                **profile,
            },
            "credentials": {"provider": {"type": "OKTA", "name": "OKTA"}},
            "has_password": False,
        }
        self.state["users"][user["id"]] = user
        self.state["members"][self.state["everyone"]].append(user["id"])
        return user

    def _new_group(self, name: str, description: str | None, kind: str = "OKTA_GROUP") -> dict[str, Any]:
        now = okta_time(self.clock.now())
        group = {
            "id": self.ids.next("00g", 17, ALPHANUMERIC),
            "created": now,
            "lastUpdated": now,
            "lastMembershipUpdated": now,
            "objectClass": ["okta:user_group"],
            "type": kind,
            "profile": {"name": name, "description": description},
        }
        self.state["groups"][group["id"]] = group
        self.state["members"][group["id"]] = []
        return group

    def _set_status(self, user: dict[str, Any], status: str) -> None:
        if status not in USER_STATUSES:
            raise ValueError(f"unknown Okta user status {status!r}")
        now = okta_time(self.clock.now())
        user["status"], user["statusChanged"], user["lastUpdated"] = status, now, now
        if status in ("ACTIVE", "PROVISIONED") and user["activated"] is None:
            user["activated"] = now

    def _find_user(self, ref: str) -> dict[str, Any]:
        """By id, login, or login prefix before '@' (Okta's shortname lookup)."""
        for user in self.state["users"].values():
            login = str(user["profile"]["login"]).lower()
            if ref == user["id"] or ref.lower() in (login, login.split("@")[0]):
                return user
        raise _error(404, "E0000007", f"Not found: Resource not found: {ref} (User)")

    def _find_group(self, ref: str) -> dict[str, Any]:
        group = self.state["groups"].get(ref)
        if group is None:
            raise _error(404, "E0000007", f"Not found: Resource not found: {ref} (UserGroup)")
        return group

    # --- framework hooks ---------------------------------------------------------------------------
    def environment(self) -> dict[str, str]:
        # The okta SDK reads these itself: Client() with no configuration talks to the twin.
        env = {"OKTA_CLIENT_ORGURL": self.url, "OKTA_TESTING_TESTINGDISABLEHTTPSCHECK": "true"}
        if self.state["tokens"]:
            env["OKTA_CLIENT_TOKEN"] = self.state["tokens"][0]
        return env

    def credentials(self) -> dict[str, Any]:
        return {
            "api_tokens": list(self.state["tokens"]),
            "authorization": "SSWS <api_token>",
            # The okta SDK refuses plain-http org URLs unless this is set.
            "sdk_env": {"OKTA_TESTING_TESTINGDISABLEHTTPSCHECK": "true"},
        }

    def authenticate(self, request: TwinRequest) -> Response | None:
        header = request.headers.get("authorization", "")
        # okta SDK 3.x sends "SSWS<token>" without the space; Okta's docs write "SSWS <token>".
        if header[:4].upper() == "SSWS" and header[4:].strip() in self.state["tokens"]:
            return None
        if not header:
            return _error_response(401, "E0000005", "Invalid session")
        return _error_response(401, "E0000011", "Invalid token provided")

    def error_response(self, status: int, message: str) -> Response:
        code = {400: "E0000001", 401: "E0000011", 403: "E0000006", 404: "E0000007", 429: "E0000047"}
        return _error_response(
            status, code.get(status, "E0000009"), "Internal Server Error" if status >= 500 else message
        )

    def rate_limited_response(self, retry_after_s: int) -> Response:
        # The SDK waits until X-Rate-Limit-Reset, read against the Date header: both are wall-clock.
        reset = int(time.time()) + max(retry_after_s, 0)
        response = _error_response(429, "E0000047", "API call exceeded rate limit due to too many requests.")
        response.headers.update(
            {
                "X-Rate-Limit-Limit": str(RATE_LIMIT_BUCKET),
                "X-Rate-Limit-Remaining": "0",
                "X-Rate-Limit-Reset": str(reset),
            }
        )
        return response

    def not_found_response(self, request: TwinRequest) -> Response:
        return _error_response(404, "E0000022", "The endpoint does not support the provided HTTP method")

    # --- rendering ---------------------------------------------------------------------------------
    def _user_json(self, request: TwinRequest, user: Mapping[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in user.items() if k != "has_password"}
        out["profile"] = {k: v for k, v in user["profile"].items()}
        base = f"{request.base_url}/api/v1/users/{user['id']}"
        out["_links"] = {"self": {"href": base}}
        if user["status"] in ("STAGED", "PROVISIONED", "DEPROVISIONED"):
            out["_links"]["activate"] = {"href": f"{base}/lifecycle/activate", "method": "POST"}
        if user["status"] != "DEPROVISIONED":
            out["_links"]["deactivate"] = {"href": f"{base}/lifecycle/deactivate", "method": "POST"}
        return out

    def _group_json(self, request: TwinRequest, group: Mapping[str, Any]) -> dict[str, Any]:
        base = f"{request.base_url}/api/v1/groups/{group['id']}"
        return {
            **group,
            "_links": {
                "self": {"href": base},
                "users": {"href": f"{base}/users"},
                "apps": {"href": f"{base}/apps"},
            },
        }

    def _page(
        self,
        request: TwinRequest,
        items: list[dict[str, Any]],
        render: Any,
        default_limit: int = DEFAULT_LIST_LIMIT,
    ) -> Response:
        """Okta cursor paging: `after` is the id of the last item of the previous page."""
        try:
            limit = int(request.query.get("limit") or default_limit)
        except ValueError:
            raise _error(
                400, "E0000001", "Api validation failed: limit", ["limit: must be a number"]
            ) from None
        limit = max(1, min(limit, MAX_LIST_LIMIT))
        after = request.query.get("after")
        start = 0
        if after:
            ids = [item["id"] for item in items]
            start = ids.index(after) + 1 if after in ids else len(items)
        page = items[start : start + limit]
        params = {k: v for k, v in request.query.items() if k != "after"}
        base = f"{request.base_url}{request.path}"
        links = [f'<{base}?{urlencode(params)}>; rel="self"' if params else f'<{base}>; rel="self"']
        if start + limit < len(items):
            links.append(f'<{base}?{urlencode({**params, "after": page[-1]["id"]})}>; rel="next"')
        return json_response([render(request, item) for item in page], headers={"Link": ", ".join(links)})

    def _body(self, request: TwinRequest) -> dict[str, Any]:
        try:
            body = request.json()
        except ValueError:
            raise _error(400, "E0000003", "The request body was not well-formed.") from None
        return body if isinstance(body, dict) else {}

    # --- users -------------------------------------------------------------------------------------
    @route("POST", "/api/v1/users")
    def create_user(self, request: TwinRequest) -> Any:
        body = self._body(request)
        profile = dict(body.get("profile") or {})
        causes = [
            f"{name}: The field cannot be left blank"
            for name in ("login", "email", "firstName", "lastName")
            if not profile.get(name)
        ]
        login = str(profile.get("login") or "")
        if login and "@" not in login:
            causes.append("login: Username must be in the form of an email address")
        if login and any(
            u["profile"]["login"].lower() == login.lower() for u in self.state["users"].values()
        ):
            causes.append("login: An object with this field already exists in the current organization")
        if causes:
            raise _error(
                400,
                "E0000001",
                "Api validation failed: login"
                if "login" in causes[0]
                else f"Api validation failed: {causes[0].split(':')[0]}",
                causes,
            )
        user = self._new_user(profile)
        password = ((body.get("credentials") or {}).get("password") or {}).get("value")
        user["has_password"] = bool(password)
        if password:
            user["passwordChanged"] = user["created"]
        if str(request.query.get("activate", "true")).lower() == "true":
            self._set_status(user, "ACTIVE" if password else "PROVISIONED")
        return self._user_json(request, user)

    @route("GET", "/api/v1/users")
    def list_users(self, request: TwinRequest) -> Any:
        users = list(self.state["users"].values())
        expression = request.query.get("search") or request.query.get("filter")
        if expression:
            users = _matching(users, expression)
            sort_by = request.query.get("sortBy")
            if sort_by and request.query.get("search"):
                users.sort(
                    key=lambda u: (str(lookup(u, sort_by) or ""), u["id"]),
                    reverse=request.query.get("sortOrder", "asc").lower() == "desc",
                )
        else:
            # Okta hides DEPROVISIONED users unless the caller filters or searches.
            users = [u for u in users if u["status"] != "DEPROVISIONED"]
        q = (request.query.get("q") or "").lower()
        default_limit = DEFAULT_LIST_LIMIT
        if q:
            default_limit = DEFAULT_Q_LIMIT
            users = [
                u
                for u in users
                if any(
                    str(u["profile"].get(f) or "").lower().startswith(q)
                    for f in ("firstName", "lastName", "email")
                )
            ]
        return self._page(request, users, self._user_json, default_limit)

    @route("GET", "/api/v1/users/{ref}")
    def get_user(self, request: TwinRequest) -> Any:
        return self._user_json(request, self._find_user(request.path_params["ref"]))

    @route("POST", "/api/v1/users/{ref}")
    @route("PUT", "/api/v1/users/{ref}")
    def update_user(self, request: TwinRequest) -> Any:
        user = self._find_user(request.path_params["ref"])
        profile = self._body(request).get("profile") or {}
        if request.method == "PUT":
            user["profile"] = {
                "firstName": None,
                "lastName": None,
                "mobilePhone": None,
                "secondEmail": None,
                **profile,
            }
        else:
            user["profile"].update(profile)
        user["lastUpdated"] = okta_time(self.clock.now())
        return self._user_json(request, user)

    @route("DELETE", "/api/v1/users/{ref}")
    def delete_user(self, request: TwinRequest) -> Any:
        user = self._find_user(request.path_params["ref"])
        if user["status"] != "DEPROVISIONED":
            self._set_status(user, "DEPROVISIONED")  # Okta's first DELETE deactivates
        else:
            del self.state["users"][user["id"]]
            for members in self.state["members"].values():
                if user["id"] in members:
                    members.remove(user["id"])
        return Response(status_code=204)

    @route("POST", "/api/v1/users/{ref}/lifecycle/activate")
    def activate_user(self, request: TwinRequest) -> Any:
        user = self._find_user(request.path_params["ref"])
        if user["status"] == "ACTIVE":
            raise _error(403, "E0000016", "Activation failed because the user is already active")
        self._set_status(user, "ACTIVE" if user["has_password"] else "PROVISIONED")
        if str(request.query.get("sendEmail", "true")).lower() == "true":
            return {}
        token = self.ids.next("", 20, ALPHANUMERIC)
        return {"activationUrl": f"{request.base_url}/welcome/{token}", "activationToken": token}

    @route("POST", "/api/v1/users/{ref}/lifecycle/deactivate")
    def deactivate_user(self, request: TwinRequest) -> Any:
        user = self._find_user(request.path_params["ref"])
        self._set_status(user, "DEPROVISIONED")
        return {}

    @route("POST", "/api/v1/users/{ref}/lifecycle/suspend")
    def suspend_user(self, request: TwinRequest) -> Any:
        user = self._find_user(request.path_params["ref"])
        if user["status"] != "ACTIVE":
            raise _error(400, "E0000001", "Api validation failed: Cannot suspend a user that is not active")
        self._set_status(user, "SUSPENDED")
        return {}

    @route("POST", "/api/v1/users/{ref}/lifecycle/unsuspend")
    def unsuspend_user(self, request: TwinRequest) -> Any:
        user = self._find_user(request.path_params["ref"])
        if user["status"] != "SUSPENDED":
            raise _error(
                400, "E0000001", "Api validation failed: Cannot unsuspend a user that is not suspended"
            )
        self._set_status(user, "ACTIVE")
        return {}

    @route("GET", "/api/v1/users/{ref}/groups")
    def user_groups(self, request: TwinRequest) -> Any:
        user = self._find_user(request.path_params["ref"])
        groups = [g for gid, g in self.state["groups"].items() if user["id"] in self.state["members"][gid]]
        return self._page(request, groups, self._group_json)

    # --- groups ------------------------------------------------------------------------------------
    @route("POST", "/api/v1/groups")
    def create_group(self, request: TwinRequest) -> Any:
        profile = self._body(request).get("profile") or {}
        name = str(profile.get("name") or "")
        if not name:
            raise _error(
                400, "E0000001", "Api validation failed: name", ["name: The field cannot be left blank"]
            )
        if any(g["profile"]["name"].lower() == name.lower() for g in self.state["groups"].values()):
            raise _error(
                400,
                "E0000001",
                "Api validation failed: name",
                ["name: An object with this field already exists in the current organization"],
            )
        return self._group_json(request, self._new_group(name, profile.get("description")))

    @route("GET", "/api/v1/groups")
    def list_groups(self, request: TwinRequest) -> Any:
        groups = list(self.state["groups"].values())
        q = (request.query.get("q") or "").lower()
        if q:
            groups = [g for g in groups if g["profile"]["name"].lower().startswith(q)]
        expression = request.query.get("search") or request.query.get("filter")
        if expression:
            groups = _matching(groups, expression)
        return self._page(request, groups, self._group_json)

    @route("GET", "/api/v1/groups/{gid}")
    def get_group(self, request: TwinRequest) -> Any:
        return self._group_json(request, self._find_group(request.path_params["gid"]))

    @route("DELETE", "/api/v1/groups/{gid}")
    def delete_group(self, request: TwinRequest) -> Any:
        group = self._find_group(request.path_params["gid"])
        if group["type"] == "BUILT_IN":
            raise _error(403, "E0000006", "You do not have permission to perform the requested action")
        del self.state["groups"][group["id"]]
        del self.state["members"][group["id"]]
        return Response(status_code=204)

    @route("GET", "/api/v1/groups/{gid}/users")
    def group_users(self, request: TwinRequest) -> Any:
        group = self._find_group(request.path_params["gid"])
        users = [self.state["users"][uid] for uid in self.state["members"][group["id"]]]
        return self._page(request, users, self._user_json)

    @route("PUT", "/api/v1/groups/{gid}/users/{uid}")
    def add_member(self, request: TwinRequest) -> Any:
        group = self._find_group(request.path_params["gid"])
        user = self._find_user(request.path_params["uid"])
        if group["type"] == "BUILT_IN":
            raise _error(403, "E0000006", "You do not have permission to perform the requested action")
        members = self.state["members"][group["id"]]
        if user["id"] not in members:
            members.append(user["id"])
            group["lastMembershipUpdated"] = okta_time(self.clock.now())
        return Response(status_code=204)

    @route("DELETE", "/api/v1/groups/{gid}/users/{uid}")
    def remove_member(self, request: TwinRequest) -> Any:
        group = self._find_group(request.path_params["gid"])
        user = self._find_user(request.path_params["uid"])
        members = self.state["members"][group["id"]]
        if user["id"] in members:
            members.remove(user["id"])
            group["lastMembershipUpdated"] = okta_time(self.clock.now())
        return Response(status_code=204)


def _matching(objects: list[dict[str, Any]], expression: str) -> list[dict[str, Any]]:
    """The objects a `search`/`filter` expression selects; a bad expression is Okta's E0000031."""
    try:
        predicate = compile_filter(expression)
    except FilterError as exc:
        raise _error(400, "E0000031", str(exc)) from None
    return [o for o in objects if predicate(o)]


def _error_response(status: int, code: str, summary: str, causes: list[str] | None = None) -> Response:
    return json_response(
        {
            "errorCode": code,
            "errorSummary": summary,
            "errorLink": code,
            "errorId": "oae" + code.lower(),
            "errorCauses": [{"errorSummary": c} for c in causes or []],
        },
        status,
    )


def _error(status: int, code: str, summary: str, causes: list[str] | None = None) -> TwinReply:
    return TwinReply(_error_response(status, code, summary, causes))
