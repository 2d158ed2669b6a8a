"""``as_of``: the records (and exports) of the version that was published at a moment, from
the publication history (also after a rollback), and its errors."""

from __future__ import annotations

import csv
import datetime as dt
import io
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from beffroi.access import Actor
from beffroi.catalog.db import transaction
from beffroi.catalog.models import AuditEvent
from beffroi.catalog.versions import publish_version
from tests.functional.test_records import PUBLIC, SUBVENTIONS, URL, VALID, load


def publication_times(client: TestClient) -> list[dt.datetime]:
    with client.app.state.session_factory() as session:
        found = session.scalars(
            select(AuditEvent.at)
            .where(AuditEvent.action == "version.publish", AuditEvent.object_id == PUBLIC)
            .order_by(AuditEvent.id)
        )
        return list(found)


@pytest.fixture
def history(client: TestClient) -> tuple[TestClient, list[dt.datetime]]:
    load(client, PUBLIC, SUBVENTIONS)  # version 1: 95 rows
    load(client, PUBLIC, VALID)  # version 2: 29 rows
    with transaction(client.app.state.session_factory) as session:
        publish_version(session, Actor.system(name="test"), PUBLIC, 1)  # rollback
    times = publication_times(client)
    assert len(times) == 3
    return client, times


def total(client: TestClient, **params: str) -> tuple[int, int]:
    response = client.get(URL, params={"limit": "1", **params})
    assert response.status_code == 200, response.text
    body = response.json()
    return body["version"], body["meta"]["total"]


def test_as_of_follows_the_publication_history(
    history: tuple[TestClient, list[dt.datetime]],
) -> None:
    client, (first, second, rollback) = history
    tick = dt.timedelta(microseconds=1)
    assert total(client, as_of=first.isoformat()) == (1, 95)
    assert total(client, as_of=(second - tick).isoformat()) == (1, 95)
    assert total(client, as_of=second.isoformat()) == (2, 29)
    assert total(client, as_of=(rollback - tick).isoformat()) == (2, 29)
    assert total(client, as_of=rollback.isoformat()) == (1, 95)
    # A whole day: its end, in the instance's time zone (Europe/Paris).
    today = rollback.astimezone(ZoneInfo("Europe/Paris")).date().isoformat()
    assert total(client, as_of=today) == (1, 95)
    # A local time without offset is Paris time.
    local = (second + tick).astimezone(ZoneInfo("Europe/Paris")).replace(tzinfo=None)
    assert total(client, as_of=local.isoformat()) == (2, 29)
    # Exports read the same version.
    response = client.get(
        f"/api/v1/datasets/{PUBLIC}/export.csv", params={"as_of": second.isoformat()}
    )
    assert response.status_code == 200, response.text
    assert len(list(csv.DictReader(io.StringIO(response.text)))) == 29


def test_as_of_errors(history: tuple[TestClient, list[dt.datetime]]) -> None:
    client, (first, _second, _rollback) = history
    before = client.get(URL, params={"as_of": (first - dt.timedelta(seconds=1)).isoformat()})
    assert before.status_code == 404
    assert "pas encore publié" in before.json()["detail"]
    assert "première publication" in before.json()["hint"]
    yesterday = (first.astimezone(ZoneInfo("Europe/Paris")) - dt.timedelta(days=1)).date()
    assert client.get(URL, params={"as_of": yesterday.isoformat()}).status_code == 404
    english = client.get(URL, params={"as_of": "2000-01-01", "lang": "en"})
    assert english.status_code == 404
    both = client.get(URL, params={"as_of": first.isoformat(), "version": "1"})
    assert both.status_code == 422
    assert both.json()["errors"][0]["field"] == "as_of"
    for bad in ("yesterday", "2026-13-01", "15/01/2026"):
        response = client.get(URL, params={"as_of": bad})
        assert response.status_code == 422, bad
        assert response.json()["errors"][0]["field"] == "as_of"
    hidden = client.get(
        "/api/v1/datasets/consommation-eau-potable-par-commune/records",
        params={"as_of": "2030-01-01"},
    )
    assert hidden.status_code == 404
    assert "pas encore publié" not in hidden.json()["detail"]  # unreadable: like missing
