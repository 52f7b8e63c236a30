"""The Okta twin through the official `okta` SDK (3.x, async), asserting Okta's documented behaviour."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from okta.client import Client
from okta.models import AddGroupRequest, CreateUserRequest
from okta.pagination import PaginationHelper, paginate_all

from shopfloor.twins.runner import RunningTwin
from tests.support.twins import OKTA_API_TOKEN


@pytest.fixture(autouse=True)
def _plain_http_org(okta_twin: RunningTwin, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in okta_twin.credentials()["sdk_env"].items():
        monkeypatch.setenv(key, value)


def okta(twin: RunningTwin, token: str = OKTA_API_TOKEN) -> Client:
    return Client({"orgUrl": twin.url, "token": token})


def run(coro) -> Any:
    return asyncio.run(coro)


def new_user(
    login: str, first: str = "Ann", last: str = "Lee", password: str | None = None
) -> CreateUserRequest:
    body: dict[str, Any] = {"profile": {"firstName": first, "lastName": last, "email": login, "login": login}}
    if password:
        body["credentials"] = {"password": {"value": password}}
    return CreateUserRequest.from_dict(body)


def test_create_activate_deactivate_lifecycle(okta_twin: RunningTwin) -> None:
    async def flow() -> None:
        client = okta(okta_twin)
        staged, _, err = await client.create_user(new_user("ann@example.com"), activate=False)
        assert err is None and staged.status.value == "STAGED" and staged.id.startswith("00u")
        token, _, err = await client.activate_user(staged.id, send_email=False)
        assert err is None and token.activation_url and token.activation_token
        fetched, _, _ = await client.get_user("ann@example.com")  # by login, as Okta allows
        assert fetched.id == staged.id and fetched.status.value == "PROVISIONED"  # no password yet
        _, _, again = await client.activate_user(staged.id, send_email=False)
        assert again is None  # PROVISIONED users may be re-activated
        with_password, _, _ = await client.create_user(new_user("bo@example.com", "Bo", "Ng", "S3cret-pass!"))
        assert with_password.status.value == "ACTIVE"
        _, _, already = await client.activate_user(with_password.id, send_email=False)
        assert already.status == 403 and already.error_code == "E0000016"
        await client.suspend_user(with_password.id)
        suspended, _, _ = await client.get_user(with_password.id)
        assert suspended.status.value == "SUSPENDED"
        twice = (await client.suspend_user(with_password.id))[-1]  # this SDK call returns 2 or 3 values
        assert twice.status == 400 and twice.error_code == "E0000001"
        await client.unsuspend_user(with_password.id)
        _, _, err = await client.deactivate_user(with_password.id)
        assert err is None
        gone, _, _ = await client.get_user(with_password.id)
        assert gone.status.value == "DEPROVISIONED"
        listed, _, _ = await client.list_users()
        assert [u.profile.login for u in listed] == ["ann@example.com"]  # DEPROVISIONED hidden by default
        searched, _, _ = await client.list_users(search='status eq "DEPROVISIONED"')
        assert [u.profile.login for u in searched] == ["bo@example.com"]

    run(flow())


def test_errors_carry_okta_codes(okta_twin: RunningTwin) -> None:
    async def flow() -> None:
        client = okta(okta_twin)
        await client.create_user(new_user("ann@example.com"))
        _, _, dup = await client.create_user(new_user("ann@example.com"))
        assert dup.status == 400 and dup.error_code == "E0000001"
        assert "login: An object with this field already exists in the current organization" in [
            cause["errorSummary"] for cause in dup.error_causes
        ]
        _, _, missing = await client.get_user("nobody@example.com")
        assert missing.status == 404 and missing.error_code == "E0000007"
        assert missing.error_summary == "Not found: Resource not found: nobody@example.com (User)"
        _, _, bad_search = await client.list_users(search="profile.login eq")
        assert bad_search.status == 400 and bad_search.error_code == "E0000031"
        _, _, denied = await okta(okta_twin, token="wrong").list_users()
        assert denied.status == 401 and denied.error_code == "E0000011"

    run(flow())


def test_list_users_paginates_with_link_headers(okta_twin: RunningTwin) -> None:
    async def flow() -> None:
        client = okta(okta_twin)
        logins = [f"user{i}@example.com" for i in range(5)]
        for login in logins:
            await client.create_user(new_user(login, first=login[:5], last="Pager"))
        page, resp, _ = await client.list_users(limit=2)
        assert [u.profile.login for u in page] == logins[:2]
        assert 'rel="self"' in resp.headers["Link"] and 'rel="next"' in resp.headers["Link"]
        seen = [u.profile.login for u in page]
        cursor = PaginationHelper.extract_next_cursor(resp.headers)
        while cursor:
            page, resp, _ = await client.list_users(limit=2, after=cursor)
            seen += [u.profile.login for u in page]
            cursor = PaginationHelper.extract_next_cursor(resp.headers)
        assert seen == logins
        assert [u.profile.login async for u in paginate_all(client.list_users, limit=3)] == logins

    run(flow())


def test_search_filter_and_q(okta_twin: RunningTwin) -> None:
    async def flow() -> None:
        client = okta(okta_twin)
        await client.create_user(new_user("ann@example.com", "Ann", "Lee"))
        await client.create_user(new_user("ops-bot@example.com", "Ops", "Bot"), activate=False)
        await client.create_user(new_user("zed@example.com", "Zed", "Lee"))

        async def logins(**query) -> list[str]:
            users, _, err = await client.list_users(**query)
            assert err is None, err
            return [u.profile.login for u in users]

        assert await logins(search='profile.lastName eq "Lee"') == ["ann@example.com", "zed@example.com"]
        assert await logins(
            search='profile.lastName eq "Lee"', sort_by="profile.firstName", sort_order="desc"
        ) == ["zed@example.com", "ann@example.com"]
        assert await logins(search='profile.login sw "ops" or profile.firstName eq "Zed"') == [
            "ops-bot@example.com",
            "zed@example.com",
        ]
        assert await logins(filter='status eq "STAGED"') == ["ops-bot@example.com"]
        assert await logins(q="ze") == ["zed@example.com"]

    run(flow())


def test_groups_and_membership(okta_twin: RunningTwin) -> None:
    async def flow() -> None:
        client = okta(okta_twin)
        ann, _, _ = await client.create_user(new_user("ann@example.com"))
        eng, _, err = await client.add_group(AddGroupRequest.from_dict({"profile": {"name": "Engineering"}}))
        assert err is None and eng.id.startswith("00g") and eng.type.value == "OKTA_GROUP"
        _, _, dup = await client.add_group(AddGroupRequest.from_dict({"profile": {"name": "Engineering"}}))
        assert dup.status == 400 and dup.error_code == "E0000001"
        _, resp, err = await client.assign_user_to_group(eng.id, ann.id)
        assert err is None and resp.status_code == 204
        members, _, _ = await client.list_group_users(eng.id)
        assert [m.profile.login for m in members] == ["ann@example.com"]
        groups, _, _ = await client.list_user_groups(ann.id)
        assert sorted(g.profile.actual_instance.name for g in groups) == ["Engineering", "Everyone"]
        found, _, _ = await client.list_groups(q="Eng")
        assert [g.id for g in found] == [eng.id]
        await client.unassign_user_from_group(eng.id, ann.id)
        members, _, _ = await client.list_group_users(eng.id)
        assert members == []

    run(flow())


def test_seeded_org(twin_fleet, monkeypatch) -> None:
    seed = {
        "okta": {
            "api_tokens": ["seeded-token"],
            "users": [{"login": "root@example.com", "firstName": "Root", "lastName": "User"}],
            "groups": [{"name": "Admins", "members": ["root@example.com"]}],
        }
    }
    twin = twin_fleet(["okta"], seed=seed)["okta"]
    assert twin.credentials()["api_tokens"] == ["seeded-token"]

    async def flow() -> None:
        client = okta(twin, token="seeded-token")
        (admins,), _, _ = await client.list_groups(q="Admins")
        members, _, _ = await client.list_group_users(admins.id)
        assert [(m.profile.login, m.status.value) for m in members] == [("root@example.com", "ACTIVE")]
        _, _, denied = await okta(twin).list_users()  # the default token is not accepted any more
        assert denied.error_code == "E0000011"

    run(flow())
