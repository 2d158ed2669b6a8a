"""Personal columns and statistical secrecy through every surface, on the demo instance
(datasets of :func:`tests.functional.test_agreements.build_world`, whose subscriber names
and e-mails are detected as personal on upload)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.functional.conftest import DemoInstance, bearer
from tests.functional.test_agreements import LANESTER, LORIENT, World, build_world

PERSONAL = {"abonne_nom", "abonne_email"}


@pytest.fixture
def world(client: TestClient, demo_instance: DemoInstance, tmp_path: Path) -> World:
    return build_world(client, demo_instance, tmp_path / "world")


def test_personal_columns_never_leave_to_outsiders(client: TestClient, world: World) -> None:
    slug = world.datasets["public"]
    records = client.get(f"/api/v1/datasets/{slug}/records").json()
    assert records["data"]
    assert all(not PERSONAL & set(r) for r in records["data"])
    assert not PERSONAL & {f["name"] for f in records["fields"]}
    export = client.get(f"/api/v1/datasets/{slug}/export.csv")
    assert export.status_code == 200
    assert "@example.org" not in export.text
    assert "Dupont" not in export.text
    sql = client.post("/api/v1/sql", json={"sql": f'SELECT * FROM "{slug}"'})  # noqa: S608
    assert sql.status_code == 200, sql.text
    assert not PERSONAL & {f["name"] for f in sql.json()["fields"]}
    email_filter = client.get(
        f"/api/v1/datasets/{slug}/records", params={"abonne_email": "jean.dupont@example.org"}
    )
    assert email_filter.status_code in {400, 422}  # the column does not exist for them
    version = client.get(f"/api/v1/datasets/{slug}/versions/1").json()
    profiled = {p["name"]: p for p in version["profile"]}
    assert profiled["abonne_email"] == {"name": "abonne_email", "type": "string", "personal": True}
    assert "jean.dupont@example.org" not in str(version)
    # The owner's members see everything.
    editor = bearer(client, "editeur-eau")
    own = client.get(f"/api/v1/datasets/{slug}/records", headers=editor).json()["data"]
    assert set(own[0]) >= PERSONAL
    mine = client.get(f"/api/v1/datasets/{slug}/versions/1", headers=editor).json()
    assert "jean.dupont@example.org" in str(mine["profile"])


def test_referent_confirms_and_clears_flags(client: TestClient, world: World) -> None:
    slug = world.datasets["public"]
    url = f"/api/v1/datasets/{slug}/privacy"
    editor, steward = bearer(client, "editeur-eau"), bearer(client, "referent-eau")
    assert client.get(url).status_code == 401
    assert client.get(url, headers=bearer(client, "lecteur-lanester")).status_code == 403
    shown = client.get(url, headers=editor).json()
    flags = {f["column"]: f for f in shown["flags"]}
    assert flags["abonne_nom"]["category"] == "person_name"
    assert flags["abonne_nom"]["hidden"] is True
    assert flags["abonne_email"]["status"] == "suggested"
    cleared = {"status": "cleared"}
    assert client.post(f"{url}/columns/abonne_nom", json=cleared, headers=editor).status_code == 403
    done = client.post(f"{url}/columns/abonne_nom", json=cleared, headers=steward)
    assert done.status_code == 200, done.text
    assert done.json()["hidden"] is False
    public = client.get(f"/api/v1/datasets/{slug}/records").json()["data"]
    assert "abonne_nom" in public[0]
    assert "abonne_email" not in public[0]
    confirm = {"status": "confirmed", "category": "other"}
    flagged = client.post(f"{url}/columns/commune", json=confirm, headers=steward)
    assert flagged.status_code == 200
    public = client.get(f"/api/v1/datasets/{slug}/records").json()["data"]
    assert "commune" not in public[0]
    missing = client.post(f"{url}/columns/volume_m3", json=cleared, headers=steward)
    assert missing.status_code == 422


def test_minimum_cell_size(client: TestClient, world: World) -> None:
    slug = world.datasets["public"]
    steward, editor = bearer(client, "referent-eau"), bearer(client, "editeur-eau")
    url = f"/api/v1/datasets/{slug}/privacy"
    assert client.put(url, json={"min_cell_size": 2}, headers=editor).status_code == 403
    assert client.put(url, json={"min_cell_size": 1}, headers=steward).status_code == 422
    assert client.put(url, json={"min_cell_size": 2}, headers=steward).status_code == 200
    records = f"/api/v1/datasets/{slug}/records"
    grouped = client.get(records, params={"group_by": "code_insee", "agg": "count"})
    assert grouped.status_code == 200, grouped.text
    assert [(str(g["code_insee"]), g["count"]) for g in grouped.json()["data"]] == [(LORIENT, 2)]
    facets = client.get(records, params={"facet": "code_insee"}).json()["facets"]["code_insee"]
    assert [str(f["value"]) for f in facets] == [LORIENT]
    summed = client.get(records, params={"group_by": "commune", "agg": "sum:volume_m3"}).json()
    assert [g["commune"] for g in summed["data"]] == ["Lorient"]
    # SQL cannot be suppressed: the table does not exist for outsiders.
    sql = client.post(
        "/api/v1/sql",
        json={"sql": f'SELECT code_insee, count(*) FROM "{slug}" GROUP BY 1'},  # noqa: S608
    )
    assert sql.status_code in {404, 422}
    assert LANESTER not in sql.text
    # The owner sees every group, and may query it in SQL.
    own = client.get(records, params={"group_by": "code_insee"}, headers=editor).json()["data"]
    assert sorted(str(g["code_insee"]) for g in own) == sorted([LORIENT, LANESTER])
    own_sql = client.post(
        "/api/v1/sql",
        json={"sql": f'SELECT count(*) AS n FROM "{slug}"'},  # noqa: S608
        headers=editor,
    )
    assert own_sql.json()["data"] == [{"n": 3}]
    assert client.put(url, json={"min_cell_size": None}, headers=steward).status_code == 200
    grouped = client.get(records, params={"group_by": "code_insee"}).json()["data"]
    assert len(grouped) == 2
