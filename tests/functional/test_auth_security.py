"""Scoped tokens, login lockout, licence acceptance and the audit log, over HTTP and the CLI.

Runs on the demo instance with the world of :func:`tests.functional.test_agreements.build_world`
(a dataset of each access level, with data). Lockout tests keep the real argon2 hashing of
the demo accounts: failures are counted in the catalogue, by the real login form and API.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from beffroi.cli import cli
from beffroi.web.i18n import LANG_COOKIE
from tests.functional.conftest import BACKENDS, DemoInstance, bearer, csrf_from, login
from tests.functional.test_agreements import World, build_world

STEWARD, VIEWER = "referent-eau", "lecteur-lanester"  # users of the world
WORLD_PASSWORD = "correct horse battery staple"


@pytest.fixture
def world(client: TestClient, demo_instance: DemoInstance, tmp_path: Path) -> World:
    return build_world(client, demo_instance, tmp_path / "world")


def basic(username: str, password: str) -> dict[str, str]:
    raw = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def new_token(client: TestClient, headers: dict[str, str], **body: object) -> dict[str, object]:
    answer = client.post("/api/v1/tokens", json={"name": "essai", **body}, headers=headers)
    assert answer.status_code == 201, answer.text
    created: dict[str, object] = answer.json()
    return created


def same_page(html: str, username: str) -> str:
    """A login page without what differs between two lock answers (name typed, times)."""
    html = html.replace(f'value="{username}"', 'value="?"')
    html = re.sub(r'name="csrf_token" value="[^"]+"', "", html)
    return re.sub(r"\d+ min \(réessayez après [^)]+\)", "…", html)


def count_sql(slug: str) -> str:
    return f'SELECT count(*) AS n FROM "{slug}"'  # noqa: S608 - a test's own slug


def auth(secret: object) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


# ---------------------------------------------------------------- scoped tokens


def test_token_api_scopes_and_revocation(client: TestClient, world: World) -> None:
    public = world.datasets["public"]
    steward = bearer(client, STEWARD)
    # The first token of a script, from the account's password.
    first = new_token(client, basic(STEWARD, WORLD_PASSWORD), scope="write")
    assert str(first["secret"]).startswith("bfr_")
    assert (first["user"], first["scope"], first["datasets"], first["active"]) == (
        STEWARD,
        "write",
        None,
        True,
    )
    reader = new_token(client, steward, scope="read", expires_in_days=7)
    read_headers = auth(reader["secret"])
    # A read token reads, and changes nothing.
    assert client.get(f"/api/v1/datasets/{public}/records", headers=read_headers).status_code == 200
    patched = client.patch(
        f"/api/v1/datasets/{public}", json={"description": "x"}, headers=read_headers
    )
    assert patched.status_code == 403
    assert "lecture seule" in patched.json()["detail"]
    published = client.post(f"/api/v1/datasets/{public}/versions/1/publish", headers=read_headers)
    assert published.status_code == 403
    assert (
        client.post("/api/v1/tokens", json={"name": "x"}, headers=read_headers).status_code == 403
    )
    # The write token may.
    written = client.patch(
        f"/api/v1/datasets/{public}", json={"description": "y"}, headers=auth(first["secret"])
    )
    assert written.status_code == 200
    # Listing shows the caller's tokens, never a secret.
    listed = client.get("/api/v1/tokens", headers=steward).json()
    assert {first["id"], reader["id"]} <= {t["id"] for t in listed}
    assert "secret" not in json.dumps(listed)
    assert str(first["secret"]) not in json.dumps(listed)
    # Another user may not revoke it; its owner may.
    other = bearer(client, VIEWER)
    assert client.delete(f"/api/v1/tokens/{reader['id']}", headers=other).status_code == 403
    assert client.delete(f"/api/v1/tokens/{reader['id']}", headers=steward).status_code == 204
    assert client.get("/api/v1/datasets", headers=read_headers).status_code == 401
    # Administrators list everyone's (?all=1), and revoke any; others may not list them all.
    assert client.get("/api/v1/tokens", params={"all": "1"}, headers=other).status_code == 403
    admin = bearer(client, "admin")
    everyone = client.get("/api/v1/tokens", params={"all": "1"}, headers=admin).json()
    assert {first["id"], reader["id"]} <= {t["id"] for t in everyone}
    assert client.delete(f"/api/v1/tokens/{first['id']}", headers=admin).status_code == 204
    assert client.get("/api/v1/datasets", headers=auth(first["secret"])).status_code == 401


def test_token_lifetime_is_bounded(client: TestClient, world: World) -> None:
    steward = bearer(client, STEWARD)
    too_long = client.post(
        "/api/v1/tokens", json={"name": "x", "expires_in_days": 400}, headers=steward
    )
    assert too_long.status_code == 422
    assert "BEFFROI_TOKEN_MAX_DAYS" in too_long.json()["hint"]
    default = new_token(client, steward)
    assert default["expires_at"] is not None


def test_dataset_limited_token(client: TestClient, world: World) -> None:
    organization, public = world.datasets["organization"], world.datasets["public"]
    limited = new_token(client, bearer(client, STEWARD), datasets=[organization])
    assert limited["datasets"] == [organization]
    headers = auth(limited["secret"])
    assert (
        client.get(f"/api/v1/datasets/{organization}/records", headers=headers).status_code == 200
    )
    hidden = client.get(f"/api/v1/datasets/{public}/records", headers=headers)
    assert hidden.status_code == 404  # even a public dataset: the token is for one job
    listed = client.get("/api/v1/datasets", params={"page_size": "100"}, headers=headers).json()
    assert [d["slug"] for d in listed["data"]] == [organization]
    assert listed["meta"]["total"] == 1
    sql = client.post("/api/v1/sql", json={"sql": count_sql(public)}, headers=headers)
    assert sql.status_code in {400, 404, 422}, sql.text
    # Writes on its dataset, nothing beyond it.
    edit = client.patch(
        f"/api/v1/datasets/{organization}", json={"description": "z"}, headers=headers
    )
    assert edit.status_code == 200
    other = client.patch(f"/api/v1/datasets/{public}", json={"description": "z"}, headers=headers)
    assert other.status_code == 404
    assert client.post("/api/v1/tokens", json={"name": "x"}, headers=headers).status_code == 403
    unknown = client.post(
        "/api/v1/tokens",
        json={"name": "x", "datasets": ["n-existe-pas"]},
        headers=bearer(client, STEWARD),
    )
    assert unknown.status_code == 404


# ---------------------------------------------------------------- login lockout


@pytest.mark.parametrize("backend", BACKENDS)
def test_login_lockout_form_and_api(client: TestClient, demo_instance: DemoInstance) -> None:
    username = "admin"
    password = demo_instance.password(username)
    for _ in range(4):
        refused = login(client, username, "mauvais mot de passe")
        assert refused.status_code == 401
        assert "Identifiant ou mot de passe incorrect" in refused.text
    locked = login(client, username, "mauvais mot de passe")  # the fifth failure locks
    assert locked.status_code == 429  # Too Many Requests, with when to come back
    assert "Trop de tentatives" in locked.text
    assert re.search(r"bloquée pendant 15 min \(réessayez après \d{4}-\d\d-\d\d ", locked.text)
    assert 14 * 60 < int(locked.headers["Retry-After"]) <= 15 * 60
    # The right password is refused too while locked, on the form and on the API.
    right = login(client, username, password)
    assert right.status_code == 429
    assert "Trop de tentatives" in right.text
    client.cookies.set(LANG_COOKIE, "en")
    try:
        english_page = login(client, username, password)
    finally:
        client.cookies.delete(LANG_COOKIE)
    assert english_page.status_code == 429
    assert "sign-in blocked for 15 min (try again after" in english_page.text
    api = client.post("/api/v1/tokens", json={"name": "x"}, headers=basic(username, password))
    assert api.status_code == 429
    assert api.headers["content-type"].startswith("application/problem+json")
    problem = api.json()
    assert problem["status"] == 429
    assert problem["type"].endswith("#too-many-attempts")
    assert "Trop de tentatives" in problem["detail"]
    assert 0 < int(api.headers["Retry-After"]) <= 15 * 60
    assert "Too many failed sign-in attempts" in problem["detail_en"]
    english = client.post(
        "/api/v1/tokens",
        json={"name": "x"},
        headers={**basic(username, password), "Accept-Language": "en"},
    )
    assert english.status_code == 429
    assert english.json()["detail"].startswith("Too many failed sign-in attempts")
    # An unknown account locks alike: the answer does not tell which accounts exist.
    for attempt in range(5):
        ghost = login(client, "personne", "mauvais mot de passe")
        assert ghost.status_code == (429 if attempt == 4 else 401)
    assert ghost.status_code == locked.status_code
    assert "Retry-After" in ghost.headers
    assert same_page(ghost.text, "personne") == same_page(locked.text, username)
    # An administrator unlocks it (CLI); the next login succeeds.
    base = ["--data-dir", str(demo_instance.settings.data_dir)]
    if demo_instance.backend == "sqlite":
        unlocked = CliRunner().invoke(cli, [*base, "user", "unlock", username])
        assert unlocked.exit_code == 0, unlocked.output
        assert "débloquée" in unlocked.output
        assert login(client, username, password).status_code == 303
        audit = client.get(
            "/api/v1/audit", params={"action": "login.*"}, headers=bearer(client, "admin")
        ).json()
        assert {e["action"] for e in audit["data"]} == {"login.lockout", "login.unlock"}


def test_unknown_account_lock_answers_alike_on_the_api(
    client: TestClient, demo_instance: DemoInstance
) -> None:
    """A locked unknown name and a locked real one get the same 429 from the API."""
    answers = {}
    for name in ("admin", "fantome"):
        for _ in range(5):
            client.post("/api/v1/tokens", json={"name": "x"}, headers=basic(name, "mauvais"))
        right = demo_instance.password("admin")
        answers[name] = client.post(
            "/api/v1/tokens", json={"name": "x"}, headers=basic(name, right)
        )
    for answer in answers.values():
        assert answer.status_code == 429
        assert 14 * 60 < int(answer.headers["Retry-After"]) <= 15 * 60
    real, ghost = (answers[n].json() for n in ("admin", "fantome"))
    assert real.keys() == ghost.keys()
    assert real["type"] == ghost["type"]
    assert real["title"] == ghost["title"]
    assert re.sub(r"\d", "0", real["detail"]) == re.sub(r"\d", "0", ghost["detail"])


def test_client_address_lockout(client: TestClient, demo_instance: DemoInstance) -> None:
    """Many names tried from one address lock that address, even for a right password."""
    demo_instance_settings = demo_instance.settings
    assert demo_instance_settings.login_max_failures_per_ip == 50
    for index in range(50):
        answer = client.post(
            "/api/v1/tokens", json={"name": "x"}, headers=basic(f"essai-{index}", "mauvais")
        )
        assert answer.status_code == (429 if index == 49 else 401)
    assert "Trop de tentatives" in answer.json()["detail"]
    assert int(answer.headers["Retry-After"]) > 0
    right = basic("admin", demo_instance.password("admin"))
    refused = client.post("/api/v1/tokens", json={"name": "x"}, headers=right)
    assert refused.status_code == 429
    assert "Trop de tentatives" in refused.json()["detail"]


# ---------------------------------------------------------------- licence acceptance


def test_registered_dataset_needs_licence_acceptance(client: TestClient, world: World) -> None:
    registered = world.datasets["registered"]
    viewer = bearer(client, VIEWER)
    # Metadata: visible; data: not before accepting.
    assert client.get(f"/api/v1/datasets/{registered}", headers=viewer).status_code == 200
    records = client.get(f"/api/v1/datasets/{registered}/records", headers=viewer)
    assert records.status_code == 403
    assert f"/api/v1/datasets/{registered}/licence-acceptance" in records.json()["hint"]
    export = client.get(f"/api/v1/datasets/{registered}/export.csv", headers=viewer)
    assert export.status_code == 403
    sql = client.post("/api/v1/sql", json={"sql": count_sql(registered)}, headers=viewer)
    assert sql.status_code >= 400
    # The owner's members read at once.
    steward = bearer(client, STEWARD)
    assert client.get(f"/api/v1/datasets/{registered}/records", headers=steward).status_code == 200

    # The dataset page offers the form; accepting it (CSRF) opens the data.
    assert login(client, VIEWER, WORLD_PASSWORD).status_code == 303
    page = client.get(f"/jeux-de-donnees/{registered}", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert 'id="accepter-licence"' in page.text
    assert "accepte la licence" in page.text
    assert 'id="apercu"' not in page.text
    refused = client.post(
        f"/jeux-de-donnees/{registered}/licence",
        data={"csrf_token": "faux"},
        headers={"Accept": "text/html"},
        follow_redirects=False,
    )
    assert refused.status_code == 403
    form_token = csrf_from(page.text[page.text.index('id="licence"') :])
    accepted = client.post(
        f"/jeux-de-donnees/{registered}/licence",
        data={"csrf_token": form_token},
        headers={"Accept": "text/html"},
        follow_redirects=False,
    )
    assert accepted.status_code == 303
    page = client.get(f"/jeux-de-donnees/{registered}", headers={"Accept": "text/html"})
    assert 'id="accepter-licence"' not in page.text
    assert 'id="apercu"' in page.text
    assert client.get(f"/api/v1/datasets/{registered}/records", headers=viewer).status_code == 200
    sql = client.post("/api/v1/sql", json={"sql": count_sql(registered)}, headers=viewer)
    assert sql.status_code == 200, sql.text


def test_licence_acceptance_api(client: TestClient, world: World) -> None:
    registered, public = world.datasets["registered"], world.datasets["public"]
    url = f"/api/v1/datasets/{registered}/licence-acceptance"
    assert client.post(url).status_code == 404  # anonymous: invisible, like a missing one
    viewer = bearer(client, VIEWER)
    accepted = client.post(url, headers=viewer)
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["user"] == VIEWER
    assert client.post(url, headers=viewer).json() == accepted.json()  # idempotent
    public_url = f"/api/v1/datasets/{public}/licence-acceptance"
    assert client.post(public_url, headers=viewer).status_code == 409
    events = client.get(
        "/api/v1/audit",
        params={"action": "licence.accept", "dataset": registered},
        headers=bearer(client, "admin"),
    ).json()["data"]
    assert [e["actor"].split(" ")[0] for e in events] == [f"user:{VIEWER}"]
    assert events[0]["details"]["licence"]


# ---------------------------------------------------------------- audit log API


def test_audit_api_is_for_administrators(client: TestClient, world: World) -> None:
    admin = bearer(client, "admin")
    for path in ("/api/v1/audit", "/api/v1/audit.csv"):
        for who in ({}, bearer(client, STEWARD), bearer(client, VIEWER)):
            hidden = client.get(path, headers=who)
            missing = client.get(path.replace("audit", "audit-absent"), headers=who)
            assert hidden.status_code == missing.status_code == 404
            assert hidden.json()["detail"].replace("audit", "X") == missing.json()[
                "detail"
            ].replace("audit-absent", "X")
    first = client.get("/api/v1/audit", params={"limit": "5"}, headers=admin).json()
    assert len(first["data"]) == 5
    ids = [e["id"] for e in first["data"]]
    assert ids == sorted(ids, reverse=True)
    second = client.get(first["links"]["next"], headers=admin).json()
    assert max(e["id"] for e in second["data"]) < min(ids)
    # Filters: actor, surface, dataset, action prefix, dates.
    by_actor = client.get(
        "/api/v1/audit", params={"actor": "system:test", "limit": "1000"}, headers=admin
    ).json()["data"]
    assert by_actor
    assert {e["actor"] for e in by_actor} == {"system:test"}
    restricted = world.datasets["restricted"]
    about = client.get(
        "/api/v1/audit", params={"dataset": restricted, "limit": "1000"}, headers=admin
    ).json()["data"]
    assert about
    assert {e["object_id"] for e in about} == {restricted}
    assert {e["action"] for e in about} >= {"dataset.create"}
    tokens = client.get(
        "/api/v1/audit", params={"action": "token.*", "surface": "cli"}, headers=admin
    ).json()["data"]
    assert tokens
    assert {e["action"] for e in tokens} <= {"token.create", "token.revoke"}
    at = first["data"][-1]["at"]
    later = client.get("/api/v1/audit", params={"from": at, "limit": "1000"}, headers=admin).json()
    assert all(e["at"] >= at for e in later["data"])
    earlier = client.get("/api/v1/audit", params={"to": at, "limit": "1000"}, headers=admin).json()
    assert all(e["at"] < at for e in earlier["data"])
    # The CSV export streams the same events.
    exported = client.get("/api/v1/audit.csv", params={"dataset": restricted}, headers=admin)
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [int(r["id"]) for r in rows] == [e["id"] for e in about]
    assert json.loads(rows[0]["details"]) == about[0]["details"]


# ---------------------------------------------------------------- command line


def test_token_cli(client: TestClient, world: World, demo_instance: DemoInstance) -> None:
    runner = CliRunner()
    base = ["--data-dir", str(demo_instance.settings.data_dir)]
    organization = world.datasets["organization"]
    created = runner.invoke(
        cli,
        [
            *base,
            "token",
            "create",
            STEWARD,
            "--name",
            "export",
            "--scope",
            "read",
            "--dataset",
            organization,
            "--expires-days",
            "10",
        ],
    )
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip().splitlines()[0]
    headers = auth(secret)
    assert (
        client.get(f"/api/v1/datasets/{organization}/records", headers=headers).status_code == 200
    )
    assert client.get("/api/v1/datasets", headers=headers).json()["meta"]["total"] == 1
    listed = runner.invoke(cli, [*base, "token", "list", "--user", STEWARD, "--json"])
    assert listed.exit_code == 0, listed.output
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    [row] = [r for r in rows if r["name"] == "export"]
    assert (row["scope"], row["datasets"], row["status"]) == ("read", organization, "actif")
    assert secret not in listed.output
    too_long = runner.invoke(cli, [*base, "token", "create", STEWARD, "--expires-days", "400"])
    assert too_long.exit_code != 0
    assert "BEFFROI_TOKEN_MAX_DAYS" in too_long.output
    revoked = runner.invoke(cli, [*base, "token", "revoke", str(row["id"])])
    assert revoked.exit_code == 0, revoked.output
    assert client.get("/api/v1/datasets", headers=headers).status_code == 401
    nothing = runner.invoke(cli, [*base, "user", "unlock", "personne"])
    assert nothing.exit_code != 0
    assert "Aucun échec" in nothing.output
