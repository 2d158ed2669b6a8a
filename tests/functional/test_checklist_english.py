"""The data.gouv.fr checklist of the metadata form follows the page's language."""

from __future__ import annotations

from fastapi.testclient import TestClient

from beffroi.catalog.db import transaction
from beffroi.catalog.models import Role
from tests.factories import DEFAULT_PASSWORD, cheap_password_hashing, make_dataset, make_user
from tests.functional.conftest import login

OWNER = "direction-eau-assainissement"
SLUG = "compteurs-checklist-en"


def test_the_metadata_form_shows_the_checklist_in_english(client: TestClient) -> None:
    factory = client.app.state.session_factory
    with cheap_password_hashing(), transaction(factory) as session:
        make_user(session, username="editeur-checklist", memberships={OWNER: Role.EDITOR})
        make_dataset(session, slug=SLUG, publisher=OWNER, description="")
    assert login(client, "editeur-checklist", DEFAULT_PASSWORD).status_code == 303
    english = client.get(f"/jeux-de-donnees/{SLUG}/modifier?lang=en")
    assert english.status_code == 200, english.text
    assert "No description" in english.text
    assert "describe the content, source, method and limits of the dataset" in english.text
    assert "Temporal coverage not given" in english.text
    assert "Description absente" not in english.text
    french = client.get(f"/jeux-de-donnees/{SLUG}/modifier?lang=fr")
    assert "Description absente" in french.text
    assert "No description" not in french.text
