"""The upload wizard, end to end over HTTP: a cp1252 ';' file, a type fixed, the report, the job."""

from __future__ import annotations

import csv
import html
import re
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from beffroi.access import Actor
from beffroi.catalog.db import transaction
from beffroi.validate.conformance import set_policy
from beffroi.validate.schema import load_schema
from tests.conftest import SHARED_DATA
from tests.functional.conftest import csrf_from, login

HTML = {"Accept": "text/html"}
HOTEL = SHARED_DATA / "messy" / "hotel-occupancy-latin1-decimal-comma.csv"
SLUG = "bornes-recharge-vehicules-electriques"  # published by direction-mobilites
START = f"/jeux-de-donnees/{SLUG}/deposer"
EDITOR = "editeur-mobilites"


def hotel_rows() -> list[dict[str, str]]:
    with HOTEL.open(encoding="cp1252", newline="") as handle:
        return list(csv.DictReader(handle, delimiter=";"))


def send_file(client: TestClient, path: Path = HOTEL) -> str:
    """Steps 1 and 2: the form, then the file; returns the preview page's URL."""
    form = client.get(START, headers=HTML)
    assert form.status_code == 200, form.text
    with path.open("rb") as handle:
        response = client.post(
            START,
            data={"csrf_token": csrf_from(form.text)},
            files={"file": (path.name, handle, "text/csv")},
            headers=HTML,
            follow_redirects=False,
        )
    assert response.status_code == 303, response.text
    location: str = response.headers["location"]
    assert location.startswith(f"{START}/")
    return location


def types_form(text: str) -> dict[str, str]:
    """The current values of the wizard's form (selects' selected options)."""
    values = {"csrf_token": csrf_from(text)}
    for name, body in re.findall(r'<select id="[^"]+" name="([^"]+)">(.*?)</select>', text, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected>', body)
        values[name] = html.unescape(chosen.group(1)) if chosen else ""
    return values


def column_types(text: str) -> dict[str, str]:
    names = re.findall(r'<th scope="row" id="col-(\d+)">([^<]+)</th>', text)
    form = types_form(text)
    return {html.unescape(name): form[f"type-{index}"] for index, name in names}


@pytest.fixture
def editor(client: TestClient, demo_instance: Any) -> TestClient:
    login(client, EDITOR, demo_instance.password(EDITOR))
    return client


def test_preview_shows_detected_encoding_delimiter_and_types(editor: TestClient) -> None:
    page = editor.get(send_file(editor), headers=HTML)
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert "hotel-occupancy-latin1-decimal-comma.csv" in text
    assert "<dd>cp1252</dd>" in text
    assert "<dd><code>;</code></dd>" in text
    types = column_types(page.text)
    assert types["Année"] == "integer"  # the header itself was cp1252
    assert types["Occupancy rate"] == "number"
    assert types["Date"] == "date"
    assert types["Classement"] == "string"
    assert "0.611553068" in text  # decimal comma read as a number in the first rows
    assert f"{len(hotel_rows())}" in text.replace("\u202f", "")


def test_a_wrong_type_shows_in_the_report_then_fixing_it_passes(editor: TestClient) -> None:
    url = send_file(editor)
    text = editor.get(url, headers=HTML).text
    form = types_form(text)
    index = list(column_types(text)).index("Source")
    form[f"type-{index}"] = "integer"  # 'Mkg' is no integer
    checked = editor.post(f"{url}/verifier", data={**form, "action": "verifier"}, headers=HTML)
    assert checked.status_code == 200, checked.text
    report = html.unescape(checked.text)
    assert "Fichier non conforme" in report
    rows = len(hotel_rows())
    assert f"{rows} erreur(s) sur {rows} ligne(s)" in report.replace("\u202f", "")
    assert "Source" in report.split('id="rapport"', 1)[1]
    assert column_types(checked.text)["Source"] == "integer"  # the correction is kept
    form = types_form(checked.text)
    form[f"type-{index}"] = "string"
    fixed = editor.post(f"{url}/verifier", data={**form, "action": "verifier"}, headers=HTML)
    assert "Fichier conforme" in html.unescape(fixed.text)


def test_submit_publishes_through_the_jobs_runner(editor: TestClient) -> None:
    url = send_file(editor)
    page = editor.get(url, headers=HTML).text
    response = editor.post(
        f"{url}/envoyer",
        data={"csrf_token": csrf_from(page), "publish": "oui"},
        headers=HTML,
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    status_url = response.headers["location"]
    assert "/deposer/suivi/" in status_url
    deadline = time.monotonic() + 30
    while True:
        text = html.unescape(editor.get(status_url, headers=HTML).text)
        if "chargée" in text or 'role="alert"' in text or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    rows = len(hotel_rows())
    assert f"{rows} ligne(s), publiée" in text.replace("\u202f", "")
    assert "/rapport" not in text  # no schema bound: no recorded validation to link to
    records = editor.get(f"/api/v1/datasets/{SLUG}/records", params={"limit": 1}).json()
    assert records["meta"]["total"] == rows
    assert editor.get(url, headers=HTML).status_code == 404  # the wizard folder is gone


def test_corrected_types_are_applied_when_loading(editor: TestClient) -> None:
    url = send_file(editor)
    page = editor.get(url, headers=HTML).text
    detected = column_types(page)
    column = next(name for name, kind in detected.items() if kind == "number")
    form = types_form(page)
    form[f"type-{list(detected).index(column)}"] = "string"  # kept as text on purpose
    checked = editor.post(f"{url}/verifier", data={**form, "action": "verifier"}, headers=HTML)
    assert column_types(checked.text)[column] == "string"
    response = editor.post(
        f"{url}/envoyer",
        data={"csrf_token": csrf_from(checked.text), "publish": "oui"},
        headers=HTML,
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        versions = editor.get(f"/api/v1/datasets/{SLUG}/versions").json()
        if versions:
            break
        time.sleep(0.2)
    types = {c["name"]: c["type"] for c in versions[0]["columns"]}
    assert types[column] == "string"
    others = [name for name, kind in detected.items() if kind == "number" and name != column]
    assert all(types[name] == "double" for name in others)


def test_left_staged_is_not_published(editor: TestClient) -> None:
    url = send_file(editor)
    page = editor.get(url, headers=HTML).text
    response = editor.post(
        f"{url}/envoyer", data={"csrf_token": csrf_from(page), "publish": "non"}, headers=HTML
    )
    assert response.status_code == 200
    deadline = time.monotonic() + 30
    text = html.unescape(response.text)
    while "chargée" not in text and time.monotonic() < deadline:
        time.sleep(0.2)
        text = html.unescape(editor.get(str(response.url), headers=HTML).text)
    assert "en attente de publication" in text
    assert editor.get(f"/api/v1/datasets/{SLUG}/records").status_code == 404


def test_access_and_csrf(client: TestClient, demo_instance: Any) -> None:
    anonymous = client.get(START, headers=HTML, follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/connexion?next=")
    login(client, "lecteur-eau", demo_instance.password("lecteur-eau"))
    assert client.get(START, headers=HTML).status_code == 403
    client.cookies.clear()
    login(client, EDITOR, demo_instance.password(EDITOR))
    with HOTEL.open("rb") as handle:
        refused = client.post(START, files={"file": ("a.csv", handle)}, headers=HTML)
    assert refused.status_code == 403  # no CSRF token
    url = send_file(client)
    client.cookies.clear()
    login(client, "admin", demo_instance.password("admin"))
    assert client.get(url, headers=HTML).status_code == 404  # another user's upload


def test_unreadable_file_is_explained(editor: TestClient, tmp_path: Path) -> None:
    binary = tmp_path / "photo.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20)
    text = html.unescape(editor.get(send_file(editor, binary), headers=HTML).text)
    assert "Le fichier ne peut pas être lu" in text
    assert "Traceback" not in text


SUBVENTIONS = SHARED_DATA / "schemas" / "scdl-subventions"


def test_the_last_step_links_to_the_versions_validation_report(editor: TestClient) -> None:
    """A dataset bound to a schema: the loaded version's report and invalid rows are linked."""
    with transaction(editor.app.state.session_factory) as session:
        schema = load_schema(SUBVENTIONS / "schema.json")
        set_policy(session, Actor.system(), SLUG, "scdl/subventions", "flag", schema)
    url = send_file(editor, SUBVENTIONS / "examples" / "exemple_invalide_erreurs_cellules.csv")
    page = editor.get(url, headers=HTML).text
    response = editor.post(
        f"{url}/envoyer",
        data={"csrf_token": csrf_from(page), "publish": "oui"},
        headers=HTML,
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    status_url = response.headers["location"]
    deadline = time.monotonic() + 30
    while True:
        text = html.unescape(editor.get(status_url, headers=HTML).text)
        if "chargée" in text or 'role="alert"' in text or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    found = re.search(r"Version (\d+) chargée", text)
    assert found, text
    report = f"/jeux-de-donnees/{SLUG}/versions/{found.group(1)}/rapport"
    assert "non conforme" in text
    assert f'href="{report}"' in text
    assert f'href="{report}.csv"' in text
    shown = editor.get(report, headers=HTML)
    assert shown.status_code == 200
    assert "Fichier non conforme" in html.unescape(shown.text)
    rows = editor.get(f"{report}.csv")
    assert rows.status_code == 200
    assert rows.headers["content-type"].startswith("text/csv")
    english = html.unescape(editor.get(f"{status_url}?lang=en", headers=HTML).text)
    assert "invalid rows (CSV)" in english
    assert "validation report of version" in english
