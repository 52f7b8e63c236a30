"""The twin framework: routes, auth, state, reset, snapshot/restore, journal, clock, ids, control API."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from shopfloor.twins.clock import DEFAULT_EPOCH
from shopfloor.twins.server import TwinServer
from tests.twins.notes_twin import TOKEN, NotesTwin

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def notes() -> Iterator[tuple[NotesTwin, httpx.Client]]:
    twin = NotesTwin({"notes": ["seeded"]}, seed=7)
    with TwinServer(twin) as server, httpx.Client(base_url=server.url, headers=AUTH, timeout=5) as client:
        yield twin, client


def test_routes_path_params_auth_and_errors(notes) -> None:
    twin, client = notes
    created = client.post("/notes", json={"text": "hello"})
    assert created.status_code == 201 and created.json()["text"] == "hello"
    assert client.get(f"/notes/{created.json()['id']}").json()["text"] == "hello"
    assert client.post("/notes", json={}).status_code == 422
    assert httpx.get(f"{twin.url}/notes").status_code == 401  # no token
    assert httpx.get(f"{twin.url}/health").json() == {"ok": True}  # auth=False route
    assert client.delete("/notes").status_code == 405
    assert client.get("/nowhere").status_code == 404
    crashed = client.get("/crash")
    assert crashed.status_code == 500 and "bug in the twin" in crashed.json()["error"]


def test_ids_and_clock_are_deterministic() -> None:
    first, second, other = NotesTwin(seed=1), NotesTwin(seed=1), NotesTwin(seed=2)
    assert [first._add("a")["id"] for _ in range(3)] == [second._add("a")["id"] for _ in range(3)]
    assert first.ids.next("N", 8) != other.ids.next("N", 8)
    assert first.clock.now() == DEFAULT_EPOCH
    first.clock.advance(90)
    assert first._add("later")["at"] == DEFAULT_EPOCH + 90


def test_reset_seed_snapshot_restore(notes) -> None:
    twin, client = notes
    client.post("/notes", json={"text": "one"})
    snap = twin.snapshot()
    client.post("/notes", json={"text": "two"})
    assert len(client.get("/notes").json()["notes"]) == 3
    twin.restore(snap)
    texts = [n["text"] for n in client.get("/notes").json()["notes"]]
    assert texts == ["seeded", "one"]
    # ids continue from the snapshot, so a restored twin repeats the same ids as the original run
    again = client.post("/notes", json={"text": "two"}).json()["id"]
    twin.restore(snap)
    assert client.post("/notes", json={"text": "two"}).json()["id"] == again
    twin.reset()
    assert [n["text"] for n in client.get("/notes").json()["notes"]] == ["seeded"]
    twin.seed({"notes": ["extra"]})
    assert [n["text"] for n in client.get("/notes").json()["notes"]] == ["seeded", "extra"]
    with pytest.raises(ValueError):
        twin.restore({**snap, "twin": "slack"})


def test_journal_records_requests_and_answers(notes) -> None:
    twin, client = notes
    twin.journal.clear()
    client.post("/notes", json={"text": "audit me"})
    client.get("/notes/missing")
    posted = twin.journal.entries(method="POST", path="/notes")
    assert len(posted) == 1 and posted[0].json() == {"text": "audit me"} and posted[0].status == 201
    assert posted[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert [e.status for e in twin.journal.entries()] == [201, 404]


def test_control_api_over_http(notes) -> None:
    _, client = notes
    assert client.get("/_twin/health").json() == {"twin": "notes", "ok": True}
    client.post("/notes", json={"text": "kept"})
    snapshot = client.post("/_twin/snapshot").json()
    client.post("/notes", json={"text": "dropped"})
    client.post("/_twin/restore", json=snapshot)
    assert [n["text"] for n in client.get("/_twin/state").json()["notes"].values()] == ["seeded", "kept"]
    journal = client.get("/_twin/journal", params={"method": "POST"}).json()["entries"]
    assert [e["body"] for e in journal] == ['{"text":"kept"}', '{"text":"dropped"}']
    assert all(not e["path"].startswith("/_twin") for e in client.get("/_twin/journal").json()["entries"])
    client.delete("/_twin/journal")
    assert client.get("/_twin/journal").json()["entries"] == []
    assert client.post("/_twin/clock", json={"advance": 60}).json()["now"] == DEFAULT_EPOCH + 60
    assert client.post("/notes", json={"text": "t"}).json()["at"] == DEFAULT_EPOCH + 60
    client.post("/_twin/seed", json={"notes": ["via http"]})
    client.post("/_twin/reset")
    assert [n["text"] for n in client.get("/notes").json()["notes"]] == ["seeded"]
    assert client.get("/_twin/clock").json()["now"] == DEFAULT_EPOCH
    unknown = client.post("/_twin/teleport")
    assert unknown.status_code == 404 and "POST reset" in unknown.json()["known"]
    assert client.post("/_twin/restore", json={"twin": "other"}).status_code == 400


def test_bad_seed_sections_are_one_line_user_errors(tmp_path) -> None:
    from shopfloor.errors import UserError
    from shopfloor.twins.runner import run_twins

    seed = tmp_path / "seed.yaml"
    cases = {
        "slack:\n  users: [{real_name: No Name}]\n": "bad `slack` section: missing key 'name'",
        "slack:\n  channels: [{name: x, members: [ghost]}]\n": "unknown user 'ghost'",
        "okta:\n  users: [{login: a@example.com, status: SLEEPING}]\n": "unknown Okta user status 'SLEEPING'",
        "jira: [not, a, mapping]\n": "bad `jira` section: the jira section must be a mapping, not list",
        "jira:\n  project: []\n": "unknown key 'project' (known: issues, projects, users, webhooks)",
        "slak: {}\n": "unknown twin section 'slak'",
    }
    for text, message in cases.items():
        seed.write_text(text)
        with pytest.raises(UserError) as err, run_twins(["slack", "jira", "okta"], seed=seed):
            pass
        assert message in err.value.line() and str(seed) in err.value.line(), text


def test_custom_twins_run_by_import_path(twin_fleet) -> None:
    fleet = twin_fleet(
        ["slack", "tests.twins.notes_twin:NotesTwin"],
        seed={"notes": {"notes": ["from seed"]}},
        chaos={"twins": {"notes": {"routes": {"GET /health": {"errors": {"rate": 1.0, "status": 418}}}}}},
    )
    assert set(fleet) == {"slack", "notes"}
    notes = fleet["notes"]
    listed = httpx.get(notes.url + "/notes", headers=AUTH).json()["notes"]
    assert [n["text"] for n in listed] == ["from seed"]
    assert httpx.get(notes.url + "/health").status_code == 418


def test_bad_twin_references_are_user_errors() -> None:
    from shopfloor.errors import UserError
    from shopfloor.twins.runner import twin_class

    for ref, message in {
        "nope": "unknown twin 'nope'",
        "no.such.module:Twin": "cannot load twin",
        "shopfloor.twins.clock:TwinClock": "is not a Twin subclass",
    }.items():
        with pytest.raises(UserError, match=message):
            twin_class(ref)


def test_fixed_ports_and_busy_ports() -> None:
    import socket

    from shopfloor.errors import UserError
    from shopfloor.twins.runner import run_twins

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with (
            pytest.raises(UserError, match=f"cannot listen on 127.0.0.1:{port}"),
            run_twins(["slack"], ports={"slack": port}),
        ):
            pass
    # The port is free again now; a twin asked to use it does.
    with run_twins(["slack"], ports={"slack": port}) as fleet:
        assert fleet["slack"].url == f"http://127.0.0.1:{port}"
        assert httpx.get(f"http://127.0.0.1:{port}/_twin/health").json()["twin"] == "slack"
    with pytest.raises(UserError, match="not started"), run_twins(["slack"], ports={"jira": port}):
        pass
