"""Metadata form, review of metadata changes and the steward's review queue (pages, API, CLI)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import unescape
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select

from beffroi.access import Actor
from beffroi.catalog.db import transaction
from beffroi.catalog.models import AuditEvent, Dataset, MetadataReview, Role
from beffroi.cli import cli
from beffroi.ingest.pipeline import ingest_file
from beffroi.store import store_for
from tests.factories import DEFAULT_PASSWORD, cheap_password_hashing, make_dataset, make_user
from tests.functional.conftest import DemoInstance, bearer, csrf_from, login

OWNER = "direction-eau-assainissement"
SLUG = "releves-compteurs"
HTML = {"Accept": "text/html"}
LONG = (
    "Relevés des compteurs d'eau des abonnés du service public, par commune et par mois, "
    "issus de la télérelève ; les compteurs non relevés sont estimés."
)


@dataclass
class People:
    editor: str = "editeur-eau"
    steward: str = "referent-eau"
    other_steward: str = "referent-autre"
    viewer: str = "lecteur-releves"


@pytest.fixture
def people(client: TestClient) -> People:
    factory = client.app.state.session_factory
    with cheap_password_hashing(), transaction(factory) as session:
        make_user(session, username="editeur-eau", memberships={OWNER: Role.EDITOR})
        make_user(session, username="referent-eau", memberships={OWNER: Role.STEWARD})
        make_user(session, username="referent-autre", memberships={"service-sig": Role.STEWARD})
        make_user(session, username="lecteur-releves", memberships={OWNER: Role.VIEWER})
        make_dataset(session, slug=SLUG, publisher=OWNER, title="Relevés des compteurs")
    return People()


def require_review(client: TestClient, on: bool = True) -> None:
    answer = client.put(
        f"/api/v1/reviews/organizations/{OWNER}",
        json={"review_required": on},
        headers=bearer(client, "admin"),
    )
    assert answer.status_code == 200, answer.text


def sign_in(client: TestClient, username: str) -> None:
    client.cookies.clear()
    answer = login(client, username, DEFAULT_PASSWORD)
    assert answer.status_code == 303, answer.text


def form_values(client: TestClient, **changes: str | list[str]) -> dict[str, object]:
    """The metadata form as the page fills it, with some fields changed."""
    page = client.get(f"/jeux-de-donnees/{SLUG}/modifier", headers=HTML)
    assert page.status_code == 200, page.text
    html = page.text
    values: dict[str, object] = {"csrf_token": csrf_from(html)}
    for name in (
        "title",
        "contact_name",
        "contact_email",
        "schema_ref",
        "temporal_start",
        "temporal_end",
    ):
        found = re.search(rf'name="{name}"[^>]*value="([^"]*)"', html)
        values[name] = unescape(found.group(1)) if found else ""
    for name in ("description", "keywords", "spatial"):
        found = re.search(rf'name="{name}"[^>]*>([^<]*)</textarea>', html)
        values[name] = unescape(found.group(1)) if found else ""
    for name in ("license", "frequency", "spatial_granularity", "access_level"):
        block = re.search(rf'name="{name}"[^>]*>(.*?)</select>', html, re.S)
        assert block
        chosen = re.search(r'<option value="([^"]*)" selected', block.group(1))
        values[name] = chosen.group(1) if chosen else ""
    themes = re.search(r'name="themes"[^>]*>(.*?)</select>', html, re.S)
    assert themes
    values["themes"] = re.findall(r'<option value="([^"]*)" selected', themes.group(1))
    values.update(changes)
    return values


def dataset_row(client: TestClient) -> Dataset:
    with client.app.state.session_factory() as session:
        found = session.scalar(select(Dataset).where(Dataset.slug == SLUG))
        assert found is not None
        session.expunge(found)
        return found


def test_the_form_shows_the_checklist_and_applies_a_change(
    client: TestClient, people: People
) -> None:
    sign_in(client, people.editor)
    page = client.get(f"/jeux-de-donnees/{SLUG}/modifier", headers=HTML)
    assert page.status_code == 200
    assert "Qualité des métadonnées (data.gouv.fr)" in page.text
    assert "Description courte" in page.text or "Description absente" in page.text
    assert 'href="#md-frequency"' in page.text  # the checklist points at the field to fix
    data = form_values(
        client,
        description=LONG,
        keywords="eau, compteurs\ntélérelève",
        themes=["ENVI", "GOVE"],
        frequency="MONTHLY",
        spatial="commune:56121\nepci:200042174",
        spatial_granularity="fr:commune",
        temporal_start="2024-01-01",
        temporal_end="2024-12-31",
        contact_email="eau@lorient-agglo.example.org",
    )
    saved = client.post(
        f"/jeux-de-donnees/{SLUG}/modifier", data=data, headers=HTML, follow_redirects=False
    )
    assert saved.status_code == 303, saved.text
    assert saved.headers["location"].endswith("?etat=appliquee")
    row = dataset_row(client)
    assert row.description == LONG
    assert row.keywords == ["eau", "compteurs", "télérelève"]
    assert row.themes == ["ENVI", "GOVE"]
    assert row.spatial == ["commune:56121", "epci:200042174"]
    assert row.frequency == "MONTHLY"
    assert str(row.temporal_end) == "2024-12-31"
    assert "Modifications enregistrées" in client.get(saved.headers["location"]).text
    # Nothing changed the second time.
    again = client.post(
        f"/jeux-de-donnees/{SLUG}/modifier",
        data=form_values(client),
        headers=HTML,
        follow_redirects=False,
    )
    assert again.headers["location"].endswith("?etat=aucune")
    # The dataset page shows the checklist to the editor, not to a visitor.
    assert "Qualité des métadonnées" in client.get(f"/jeux-de-donnees/{SLUG}").text
    client.cookies.clear()
    assert "Qualité des métadonnées" not in client.get(f"/jeux-de-donnees/{SLUG}").text


def test_errors_are_shown_next_to_their_fields(client: TestClient, people: People) -> None:
    sign_in(client, people.editor)
    data = form_values(client, title="x", contact_email="pas-une-adresse", spatial="commune:0")
    answer = client.post(f"/jeux-de-donnees/{SLUG}/modifier", data=data, headers=HTML)
    assert answer.status_code == 422
    html = answer.text
    assert 'role="alert"' in html
    assert "Le formulaire contient des erreurs (3)" in html
    for name in ("title", "contact_email", "spatial"):
        assert f'id="md-{name}-erreur"' in html
        assert f'href="#md-{name}"' in html
    assert re.search(r'id="md-title"[^>]*aria-invalid="true"', html)
    assert 'value="pas-une-adresse"' in html  # what was typed is kept
    period = form_values(client, temporal_start="2025-01-01", temporal_end="2024-01-01")
    answer = client.post(f"/jeux-de-donnees/{SLUG}/modifier", data=period, headers=HTML)
    assert answer.status_code == 422
    assert 'id="md-temporal_end-erreur"' in answer.text
    assert "finit avant de commencer" in answer.text
    assert dataset_row(client).title == "Relevés des compteurs"  # nothing saved


def test_only_editors_of_the_owner_use_the_form(client: TestClient, people: People) -> None:
    url = f"/jeux-de-donnees/{SLUG}/modifier"
    anonymous = client.get(url, headers=HTML, follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/connexion")
    sign_in(client, people.viewer)
    assert client.get(url, headers=HTML).status_code == 403
    sign_in(client, people.other_steward)
    assert client.get(url, headers=HTML).status_code == 403
    page = client.get("/", headers=HTML)
    posted = client.post(
        url, data={"csrf_token": csrf_from(page.text), "title": "Piraté"}, headers=HTML
    )
    assert posted.status_code == 403
    sign_in(client, people.editor)
    no_csrf = client.post(url, data={"title": "Sans jeton"}, headers=HTML)
    assert no_csrf.status_code == 403
    assert dataset_row(client).title == "Relevés des compteurs"


def test_an_editor_proposes_and_a_steward_approves_on_the_queue(
    client: TestClient, people: People
) -> None:
    require_review(client)
    sign_in(client, people.editor)
    data = form_values(client, title="Relevés des compteurs d'eau", description=LONG)
    page = client.get(f"/jeux-de-donnees/{SLUG}/modifier", headers=HTML)
    assert "Proposer les modifications" in page.text
    proposed = client.post(
        f"/jeux-de-donnees/{SLUG}/modifier", data=data, headers=HTML, follow_redirects=False
    )
    assert proposed.headers["location"].endswith("?etat=proposee")
    assert dataset_row(client).title == "Relevés des compteurs"  # not applied yet
    assert client.get("/relecture", headers=HTML).status_code == 404  # editors have no queue
    assert 'href="/relecture"' not in client.get("/", headers=HTML).text

    sign_in(client, people.steward)
    home = client.get("/", headers=HTML).text
    assert re.search(r'href="/relecture"[^>]*>Relecture <span class="count-badge">1<', home)
    queue = client.get("/relecture", headers=HTML)
    assert queue.status_code == 200
    html = queue.text
    assert "Relevés des compteurs d&#39;eau" in html  # after
    assert "editeur-eau" in html
    action = re.search(r'action="(/relecture/metadonnees/\d+)"', html)
    assert action
    # A rejection needs a comment: the error is shown next to the field.
    refused = client.post(
        action.group(1),
        data={"csrf_token": csrf_from(html), "decision": "refuser", "comment": " "},
        headers=HTML,
    )
    assert refused.status_code == 422
    assert "Un refus doit être motivé" in refused.text
    assert re.search(
        r'<textarea id="commentaire-metadata-\d+"[^>]*aria-invalid="true"', refused.text
    )
    approved = client.post(
        action.group(1),
        data={"csrf_token": csrf_from(html), "decision": "approuver", "comment": "Merci"},
        headers=HTML,
        follow_redirects=False,
    )
    assert approved.status_code == 303
    assert dataset_row(client).title == "Relevés des compteurs d'eau"
    after = client.get(approved.headers["location"], headers=HTML).text
    assert "Demande approuvée" in after
    assert "Aucune modification en attente." in after
    assert "Merci" in after  # the history of decisions
    with client.app.state.session_factory() as session:
        actions = set(session.scalars(select(AuditEvent.action)))
    assert {"metadata_review.propose", "metadata_review.approve", "dataset.update"} <= actions

    # A steward's own change applies directly, even though review is required.
    direct = client.post(
        f"/jeux-de-donnees/{SLUG}/modifier",
        data=form_values(client, contact_name="Service de l'eau"),
        headers=HTML,
        follow_redirects=False,
    )
    assert direct.headers["location"].endswith("?etat=appliquee")
    assert dataset_row(client).contact_name == "Service de l'eau"


def test_non_stewards_get_404_on_the_queue(client: TestClient, people: People) -> None:
    assert client.get("/relecture", headers=HTML).status_code == 404
    sign_in(client, people.viewer)
    assert client.get("/relecture", headers=HTML).status_code == 404
    page = client.get("/", headers=HTML)
    posted = client.post(
        "/relecture/metadonnees/1",
        data={"csrf_token": csrf_from(page.text), "decision": "approuver"},
        headers=HTML,
    )
    assert posted.status_code == 404


def test_another_organisations_steward_neither_sees_nor_decides(
    client: TestClient, people: People
) -> None:
    require_review(client)
    editor = bearer(client, people.editor)
    proposed = client.post(
        "/api/v1/metadata-reviews",
        json={"dataset": SLUG, "changes": {"description": LONG}},
        headers=editor,
    )
    assert proposed.status_code == 202, proposed.text
    review = proposed.json()["review"]
    assert review["changes"] == {"description": LONG}
    assert review["before"] == {"description": ""}
    other = bearer(client, people.other_steward)
    assert client.get("/api/v1/metadata-reviews", headers=other).json() == []
    approve = f"/api/v1/metadata-reviews/{review['id']}/approve"
    assert client.post(approve, headers=other).status_code == 404
    assert client.post(approve, headers=editor).status_code == 403  # sees its own, cannot decide
    sign_in(client, people.other_steward)
    queue = client.get("/relecture", headers=HTML)
    assert queue.status_code == 200
    assert SLUG not in queue.text
    steward = bearer(client, people.steward)
    listed = client.get("/api/v1/metadata-reviews", headers=steward).json()
    assert [r["id"] for r in listed] == [review["id"]]
    done = client.post(approve, json={"comment": "ok"}, headers=steward)
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "approved"
    assert client.post(approve, headers=steward).status_code == 409
    assert dataset_row(client).description == LONG


def test_a_stale_proposal_is_refused_at_approval(client: TestClient, people: People) -> None:
    require_review(client)
    editor, steward = bearer(client, people.editor), bearer(client, people.steward)
    first = client.post(
        "/api/v1/metadata-reviews",
        json={"dataset": SLUG, "changes": {"title": "Premier titre"}},
        headers=editor,
    ).json()["review"]
    direct = client.post(
        "/api/v1/metadata-reviews",
        json={"dataset": SLUG, "changes": {"title": "Titre du référent"}},
        headers=steward,
    )
    assert direct.status_code == 200
    assert direct.json() == {"applied": True, "fields": ["title"], "review": None}
    stale = client.post(f"/api/v1/metadata-reviews/{first['id']}/approve", headers=steward)
    assert stale.status_code == 409
    assert "title" in stale.json()["detail"]
    assert dataset_row(client).title == "Titre du référent"


def test_the_queue_shows_version_requests_with_their_counts(
    client: TestClient, demo_instance: DemoInstance, people: People, tmp_path: Path
) -> None:
    factory = client.app.state.session_factory
    source = tmp_path / "releves.csv"
    source.write_text("code_insee,volume_m3\n56121,120\n56098,80\n", encoding="utf-8")
    store = store_for(demo_instance.settings)
    ingest_file(factory, store, Actor.system(name="test"), SLUG, source, publish=True)
    source.write_text("code_insee,volume_m3\n56121,120\n56098,80\n56069,7\n", encoding="utf-8")
    ingest_file(factory, store, Actor.system(name="test"), SLUG, source)
    require_review(client)
    asked = client.post(
        f"/api/v1/datasets/{SLUG}/versions/2/publish", headers=bearer(client, people.editor)
    )
    assert asked.status_code == 202, asked.text
    sign_in(client, people.steward)
    html = client.get("/relecture", headers=HTML).text
    assert "version 2" in html
    assert "3 (en ligne : 2)" in html
    assert f"/api/v1/datasets/{SLUG}/diff?from=1&amp;to=2" in html
    action = re.search(r'action="(/relecture/versions/\d+)"', html)
    assert action
    done = client.post(
        action.group(1),
        data={"csrf_token": csrf_from(html), "decision": "approuver"},
        headers=HTML,
        follow_redirects=False,
    )
    assert done.status_code == 303
    records = client.get(f"/api/v1/datasets/{SLUG}/records").json()
    assert records["meta"]["total"] == 3
    english = client.get("/relecture?lang=en", headers=HTML).text
    assert "Decisions taken" in english
    assert "Review" in english


def test_the_cli_lists_both_kinds(
    client: TestClient, demo_instance: DemoInstance, people: People
) -> None:
    require_review(client)
    client.post(
        "/api/v1/metadata-reviews",
        json={"dataset": SLUG, "changes": {"frequency": "ANNUAL"}},
        headers=bearer(client, people.editor),
    )
    with transaction(client.app.state.session_factory) as session:
        pending = session.scalars(select(MetadataReview)).all()
        assert len(pending) == 1
        review_id = pending[0].id
    runner = CliRunner()
    base = ["--data-dir", str(demo_instance.settings.data_dir)]
    listed = runner.invoke(cli, [*base, "review", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert '"kind": "metadata"' in listed.output
    assert '"fields": "frequency"' in listed.output
    approved = runner.invoke(cli, [*base, "review", "approve", str(review_id), "--metadata"])
    assert approved.exit_code == 0, approved.output
    assert "appliquée" in approved.output
    assert dataset_row(client).frequency == "ANNUAL"


def test_the_api_patch_of_an_editor_waits_for_review(client: TestClient, people: People) -> None:
    editor = bearer(client, people.editor)
    applied = client.patch(
        f"/api/v1/datasets/{SLUG}", json={"title": "Relevés (v2)"}, headers=editor
    )
    assert applied.status_code == 200, applied.text  # no review required yet
    assert dataset_row(client).title == "Relevés (v2)"

    require_review(client)
    proposed = client.patch(
        f"/api/v1/datasets/{SLUG}", json={"title": "Relevés (v3)"}, headers=editor
    )
    assert proposed.status_code == 202, proposed.text
    body = proposed.json()
    assert body["applied"] is False
    assert body["fields"] == ["title"]
    assert body["review"]["status"] == "pending"
    assert dataset_row(client).title == "Relevés (v2)"  # not applied before a steward decides
    renamed = client.patch(f"/api/v1/datasets/{SLUG}", json={"slug": "releves-v3"}, headers=editor)
    assert renamed.status_code == 403, renamed.text

    steward = bearer(client, people.steward)
    approved = client.post(
        f"/api/v1/metadata-reviews/{body['review']['id']}/approve",
        json={"comment": "ok"},
        headers=steward,
    )
    assert approved.status_code == 200, approved.text
    assert dataset_row(client).title == "Relevés (v3)"
    direct = client.patch(f"/api/v1/datasets/{SLUG}", json={"title": "Relevés"}, headers=steward)
    assert direct.status_code == 200
    assert direct.json()["title"] == "Relevés"
