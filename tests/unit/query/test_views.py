"""Crossings (views) on real files: merged-commune join, spatial join, recomputation with
lineage, access narrowing, cycle refusal — through the real pipeline, DuckDB and store."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from beffroi.access import Actor
from beffroi.catalog.db import transaction
from beffroi.catalog.models import AccessLevel, ColumnFlag, CrossingView, Dataset, Job
from beffroi.catalog.schemas import DatasetUpdate
from beffroi.catalog.services import update_dataset
from beffroi.crossings import services
from beffroi.crossings.definitions import JoinDefinition, compile_join, parse_definition
from beffroi.crossings.services import ViewCreate
from beffroi.errors import InvalidInputError, PermissionDeniedError
from beffroi.ingest.model import ReadOptions
from beffroi.ingest.pipeline import ingest_file
from beffroi.query import service as query_service
from beffroi.store import store_for
from tests.factories import make_dataset, make_user
from tests.unit.query.conftest import IRVE, SUBVENTIONS, SUBVENTIONS_VALID, Instance

OPERATOR = Actor.system(name="test")

MERGED = {
    "kind": "join",
    "left": "irve",
    "right": "ref.communes",
    "how": "left",
    "on": [
        {
            "left": "code_insee",
            "right": "code_insee",
            "normalize": {"function": "insee_current", "year": 2019},
        }
    ],
    "columns": [
        {"name": "id_pdc"},
        {"name": "ad_station", "as": "adresse"},
        {"name": "code_insee", "as": "code_2019"},
        {"side": "right", "name": "code_insee", "as": "commune"},
        {"side": "right", "name": "name", "as": "nom"},
    ],
}


def create(
    instance: Instance,
    slug: str,
    definition: dict[str, Any],
    *,
    actor: Actor = OPERATOR,
    owner: str = "service-finances",
    run: bool = True,
    **fields: Any,
) -> dict[str, Any]:
    """Create a view and (by default) run its queued job; the view's API payload."""
    with transaction(instance.factory) as session:
        services.create_view(
            session,
            actor,
            instance.settings,
            ViewCreate(slug=slug, owner=owner, definition=definition, **fields),
        )
    if run:
        runs = services.refresh_pending(instance.factory, instance.settings)
        assert [status for _j, _v, status in runs] == ["succeeded"] * len(runs), jobs(instance)
    with instance.session() as session:
        return services.view_payload(session, actor, services.get_view(session, actor, slug))


def jobs(instance: Instance) -> list[dict[str, Any]]:
    with instance.session() as session:
        return [
            {"view": j.params.get("view"), "status": j.status, "error": j.error}
            for j in session.scalars(select(Job).where(Job.kind == "view.refresh"))
        ]


def sql(instance: Instance, query: str, actor: Actor = OPERATOR) -> list[dict[str, Any]]:
    with instance.session() as session:
        return query_service.run_sql(session, actor, instance.settings, query).rows


def test_merged_commune_join_finds_todays_commune(instance: Instance) -> None:
    payload = create(instance, "irve-communes", MERGED)
    assert payload["kind"] == "join"
    assert payload["sources"] == ["irve"]
    assert payload["access_level"] == "public"  # the source's level
    assert payload["version"] == 1
    assert 'insee_current(l."code_insee", 2019) = r."code_insee"' in payload["sql"]
    assert payload["rows"] == sql(instance, "SELECT count(*) AS n FROM irve")[0]["n"]
    # La Chapelle-Caro (56037) merged into Val d'Oust (56197) in 2016: the 2019 file's code
    # finds today's commune; Davézieux, typed 7078, is found as 07078.
    chapelle = sql(
        instance,
        'SELECT DISTINCT code_2019, commune, nom FROM "irve-communes" '
        "WHERE adresse LIKE '%Chapelle-Caro%'",
    )
    assert chapelle == [{"code_2019": "56037", "commune": "56197", "nom": "Val d'Oust"}]
    unmatched = sql(instance, 'SELECT count(*) AS n FROM "irve-communes" WHERE commune IS NULL')
    plain = sql(
        instance,
        "SELECT count(*) AS n FROM irve i LEFT JOIN ref.communes c "
        "ON c.code_insee = i.code_insee WHERE c.code_insee IS NULL",
    )
    assert unmatched[0]["n"] < plain[0]["n"]
    with instance.session() as session:
        found = services.lineage(session, OPERATOR, "irve-communes")
    assert found["is_view"] is True
    assert found["upstream"] == [
        {"dataset": "irve", "version": 1, "published": True, "is_view": False}
    ]
    with instance.session() as session:
        below = services.lineage(session, OPERATOR, "irve")
    assert {"dataset": "irve-communes", "version": 1, "from_version": 1, "stale": False} in below[
        "downstream"
    ]


def test_spatial_join_places_points_in_communes(instance: Instance) -> None:
    definition = {
        "kind": "join",
        "left": "irve",
        "right": "ref.communes",
        "how": "left",
        "spatial": {"longitude": "Xlongitude", "latitude": "Ylatitude"},
        "columns": [
            {"name": "id_pdc"},
            {"name": "code_insee", "as": "code_fichier"},
            {"side": "right", "name": "code_insee", "as": "commune"},
        ],
    }
    payload = create(instance, "irve-spatial", definition)
    assert "_crossing.commune_edges" in payload["sql"]
    total = sql(instance, "SELECT count(*) AS n FROM irve")[0]["n"]
    assert payload["rows"] == total  # a left join keeps every point, once
    # The La Ciotat charging point (5.608585, 43.190533) lies in La Ciotat (13028).
    [ciotat] = sql(
        instance,
        "SELECT DISTINCT commune FROM \"irve-spatial\" WHERE id_pdc = 'FR*M13*E13028*001*2'",
    )
    assert ciotat == {"commune": "13028"}
    # Most points fall in the commune their (2019, merged-followed) code names.
    [agree] = sql(
        instance,
        "SELECT avg(CASE WHEN commune = insee_current(code_fichier, 2019) THEN 1 ELSE 0 END) "
        'AS share FROM "irve-spatial" WHERE commune IS NOT NULL',
    )
    assert agree["share"] > 0.9


def test_aggregate_view_and_recomputation_on_a_new_source_version(instance: Instance) -> None:
    with transaction(instance.factory) as session:
        make_dataset(session, slug="subv", publisher="service-finances")
    store = store_for(instance.settings)
    ingest_file(instance.factory, store, OPERATOR, "subv", SUBVENTIONS, publish=True)
    definition = {
        "kind": "join",
        "left": "subv",
        "right": "ref.communes",
        "on": [
            {
                "left": "idAttribuant",
                "right": "siren",
                "normalize": {"function": "siren_of_siret"},
            }
        ],
        "columns": [{"side": "right", "name": "name", "as": "commune"}],
        "group_by": ["commune"],
        "aggregates": [
            {"function": "count", "as": "subventions"},
            {"function": "sum", "name": "montant", "as": "total"},
        ],
    }
    create(instance, "subv-par-commune", definition)
    # A second view reads the first: recomputed after it (chained, in dependency order).
    create(
        instance,
        "subv-total",
        {"kind": "sql", "sql": 'SELECT sum(subventions) AS n FROM "subv-par-commune"'},
    )
    first = sql(instance, 'SELECT commune, subventions FROM "subv-par-commune"')
    assert first == [{"commune": "Castelmaurou", "subventions": 95}]
    ingest_file(instance.factory, store, OPERATOR, "subv", SUBVENTIONS_VALID, publish=True)
    queued = [j for j in jobs(instance) if j["status"] == "queued"]
    assert sorted(j["view"] for j in queued) == ["subv-par-commune", "subv-total"]
    with instance.session() as session:
        stale = services.view_payload(
            session, OPERATOR, services.get_view(session, OPERATOR, "subv-par-commune")
        )
    assert stale["stale"] is True
    runs = services.refresh_pending(instance.factory, instance.settings)
    assert [(view, status) for _j, view, status in runs] == [
        ("subv-par-commune", "succeeded"),
        ("subv-total", "succeeded"),
    ]
    expected = sql(
        instance,
        "SELECT count(*) AS n FROM subv s JOIN ref.communes c "
        "ON c.siren = siren_of_siret(s.idAttribuant)",
    )[0]["n"]
    assert sql(instance, 'SELECT n FROM "subv-total"') == [{"n": expected}]
    with instance.session() as session:
        upstream = services.lineage(session, OPERATOR, "subv-par-commune")
        older = services.lineage(session, OPERATOR, "subv-par-commune", version=1)
        total = services.lineage(session, OPERATOR, "subv-total")
    assert upstream["version"] == 2
    assert upstream["upstream"] == [
        {"dataset": "subv", "version": 2, "published": True, "is_view": False}
    ]
    assert older["upstream"] == [
        {"dataset": "subv", "version": 1, "published": False, "is_view": False}
    ]
    assert total["upstream"] == [
        {"dataset": "subv-par-commune", "version": 2, "published": True, "is_view": True}
    ]
    assert upstream["downstream"] == [
        {"dataset": "subv-total", "version": 2, "from_version": 2, "stale": False}
    ]


def test_a_view_is_never_more_open_than_its_sources(instance: Instance) -> None:
    definition = {"kind": "sql", "sql": "SELECT count(*) AS n FROM secret"}
    with (
        transaction(instance.factory) as session,
        pytest.raises(InvalidInputError, match="plus ouvert") as refused,
    ):
        services.create_view(
            session,
            OPERATOR,
            instance.settings,
            ViewCreate(
                slug="secret-public",
                owner="service-finances",
                access_level=AccessLevel.PUBLIC,
                definition=definition,
            ),
        )
    assert refused.value.message_en is not None
    payload = create(instance, "secret-count", definition)
    assert payload["access_level"] == "organization"
    anonymous = Actor.anonymous()
    with instance.session() as session:
        listed = [v.dataset.slug for v in services.list_views(session, anonymous)]
    assert "secret-count" not in listed


def test_published_aggregate_needs_a_steward_and_records_who(instance: Instance) -> None:
    with transaction(instance.factory) as session:
        editor = make_user(
            session, username="editrice-vues", memberships={"service-finances": "editor"}
        )
        steward = make_user(
            session, username="referent-vues", memberships={"service-finances": "steward"}
        )
        editor_actor = Actor.for_user(editor, surface="api")
        steward_actor = Actor.for_user(steward, surface="api")
    definition = {"kind": "sql", "sql": "SELECT count(*) AS n FROM secret"}
    with (
        transaction(instance.factory) as session,
        pytest.raises(PermissionDeniedError, match="référent"),
    ):
        services.create_view(
            session,
            editor_actor,
            instance.settings,
            ViewCreate(
                slug="secret-agg",
                owner="service-finances",
                access_level=AccessLevel.PUBLIC,
                published_aggregate=True,
                definition=definition,
            ),
        )
    payload = create(
        instance,
        "secret-agg",
        definition,
        actor=steward_actor,
        access_level=AccessLevel.PUBLIC,
        published_aggregate=True,
    )
    assert payload["access_level"] == "public"
    assert payload["aggregate_by"] == "user:referent-vues"
    # Anonymous readers see the aggregate, not its (organisation-only) source.
    anonymous = Actor.anonymous()
    assert sql(instance, 'SELECT n FROM "secret-agg"', anonymous) == [{"n": 29}]
    with instance.session() as session:
        shown = services.view_payload(
            session, anonymous, services.get_view(session, anonymous, "secret-agg")
        )
        found = services.lineage(session, anonymous, "secret-agg")
    assert shown["sources"] == []
    assert shown["hidden_sources"] == 1
    assert shown["sql"] is None
    assert found["upstream"] == []


def test_cycles_are_refused(instance: Instance) -> None:
    with transaction(instance.factory) as session:
        make_dataset(session, slug="boucle", publisher="service-finances")
    ingest_file(
        instance.factory,
        store_for(instance.settings),
        OPERATOR,
        "boucle",
        SUBVENTIONS,
        publish=True,
    )
    create(instance, "boucle-vue", {"kind": "sql", "sql": "SELECT * FROM boucle LIMIT 3"})
    with (
        transaction(instance.factory) as session,
        pytest.raises(InvalidInputError, match="circulaire") as refused,
    ):
        services.create_view(
            session,
            OPERATOR,
            instance.settings,
            ViewCreate(
                slug="boucle",
                owner="service-finances",
                definition={"kind": "sql", "sql": 'SELECT * FROM "boucle-vue"'},
            ),
        )
    assert refused.value.message_en is not None
    with instance.session() as session:
        assert (
            session.scalar(select(CrossingView).join(Dataset).where(Dataset.slug == "boucle"))
            is None
        )


@pytest.mark.parametrize(
    ("definition", "message"),
    [
        ({"kind": "sql", "sql": "SELECT * FROM read_csv('/etc/passwd')"}, "read_csv"),
        ({"kind": "sql", "sql": "SELECT * FROM irve; SELECT 1"}, "instructions"),
        ({"kind": "sql", "sql": "SELECT * FROM nulle_part"}, "nulle_part"),
        ({**MERGED, "columns": [{"name": "absente"}]}, "absente"),
        ({**MERGED, "right": "ref.inconnue"}, "ref.inconnue"),
        ({**MERGED, "on": []}, "paires de clés"),
        ({"kind": "cube"}, "kind"),
    ],
)
def test_definitions_are_checked_with_clear_errors(
    instance: Instance, definition: dict[str, Any], message: str
) -> None:
    with transaction(instance.factory) as session, pytest.raises(InvalidInputError) as refused:
        services.create_view(
            session,
            OPERATOR,
            instance.settings,
            ViewCreate(slug="mauvaise", owner="service-finances", definition=definition),
        )
    assert message in refused.value.message + str(refused.value.details)


def test_personal_columns_never_reach_a_view(instance: Instance) -> None:
    with transaction(instance.factory) as session:
        dataset = make_dataset(session, slug="bornes-perso", publisher="service-finances")
        dataset_id = dataset.id
    ingest_file(
        instance.factory,
        store_for(instance.settings),
        OPERATOR,
        "bornes-perso",
        IRVE,
        publish=True,
        options=ReadOptions(delimiter=";"),
    )
    with transaction(instance.factory) as session:
        session.add(
            ColumnFlag(
                dataset_id=dataset_id,
                column_name="n_amenageur",
                category="person_name",
                confidence=1.0,
                status="confirmed",
            )
        )
    with (
        transaction(instance.factory) as session,
        pytest.raises(InvalidInputError, match="personnelle"),
    ):
        services.create_view(
            session,
            OPERATOR,
            instance.settings,
            ViewCreate(
                slug="bornes-perso-vue",
                owner="service-finances",
                definition={**MERGED, "left": "bornes-perso", "columns": [{"name": "n_amenageur"}]},
            ),
        )
    payload = create(
        instance,
        "bornes-perso-tout",
        {"kind": "sql", "sql": 'SELECT * FROM "bornes-perso"'},
    )
    assert payload["rows"] > 0
    names = [r["column_name"] for r in sql(instance, 'DESCRIBE "bornes-perso-tout"')]
    assert "n_amenageur" not in names
    assert "n_operateur" in names


def test_definition_model_round_trips() -> None:
    parsed = parse_definition(MERGED)
    again = parse_definition(parsed.model_dump(mode="json", by_alias=True, exclude_none=True))
    assert again == parsed


def test_a_renamed_source_is_still_read(instance: Instance) -> None:
    with transaction(instance.factory) as session:
        make_dataset(session, slug="ancien-nom", publisher="service-finances")
    store = store_for(instance.settings)
    ingest_file(instance.factory, store, OPERATOR, "ancien-nom", SUBVENTIONS, publish=True)
    create(
        instance,
        "ancien-nom-compte",
        {"kind": "sql", "sql": 'SELECT count(*) AS n FROM "ancien-nom"'},
    )
    with transaction(instance.factory) as session:
        update_dataset(session, OPERATOR, "ancien-nom", DatasetUpdate(slug="nouveau-nom"))
    ingest_file(instance.factory, store, OPERATOR, "nouveau-nom", SUBVENTIONS_VALID, publish=True)
    runs = services.refresh_pending(instance.factory, instance.settings)
    assert [(view, status) for _j, view, status in runs] == [("ancien-nom-compte", "succeeded")]
    assert sql(instance, 'SELECT n FROM "ancien-nom-compte"') == [{"n": 29}]
    with instance.session() as session:
        found = services.lineage(session, OPERATOR, "ancien-nom-compte")
    assert found["upstream"] == [
        {"dataset": "nouveau-nom", "version": 2, "published": True, "is_view": False}
    ]


def test_a_spatial_join_over_a_view_of_wkt_points(instance: Instance) -> None:
    create(
        instance,
        "bornes-wkt",
        {
            "kind": "sql",
            "sql": "SELECT id_pdc, 'POINT (' || Xlongitude || ' ' || Ylatitude || ')' AS geom "
            "FROM irve WHERE code_insee LIKE '13%'",
        },
    )
    payload = create(
        instance,
        "bornes-wkt-communes",
        {
            "kind": "join",
            "left": "bornes-wkt",
            "right": "ref.communes",
            "spatial": {"point": "geom"},
            "columns": [{"side": "right", "name": "code_insee", "as": "commune"}],
            "group_by": ["commune"],
            "aggregates": [{"function": "count", "as": "bornes"}],
        },
    )
    assert payload["sources"] == ["bornes-wkt"]
    rows = {r["commune"]: r["bornes"] for r in sql(instance, 'SELECT * FROM "bornes-wkt-communes"')}
    assert rows["13028"] >= 1  # La Ciotat
    placed = sum(rows.values())
    total = sql(instance, 'SELECT count(*) AS n FROM "bornes-wkt"')[0]["n"]
    assert 0.9 * total <= placed <= total  # an inner join: points outside every outline drop
    with instance.session() as session:
        found = services.lineage(session, OPERATOR, "bornes-wkt-communes")
    assert found["upstream"] == [
        {"dataset": "bornes-wkt", "version": 1, "published": True, "is_view": True}
    ]


@pytest.mark.parametrize(
    ("normaliser", "expected"),
    [
        ({"function": "insee_normalize"}, 'insee_normalize(l."k")'),
        ({"function": "insee_current", "year": 2016}, 'insee_current(l."k", 2016)'),
        ({"function": "siren_of_siret"}, 'siren_of_siret(l."k")'),
        ({"function": "postal_to_insee"}, 'postal_to_insee(l."k")'),
        ({"function": "lower"}, 'lower(CAST(l."k" AS VARCHAR))'),
        ({"function": "trim"}, 'trim(CAST(l."k" AS VARCHAR))'),
        ({"function": "lower_trim"}, 'lower(trim(CAST(l."k" AS VARCHAR)))'),
    ],
)
def test_key_normalisers_compile(normaliser: dict[str, Any], expected: str) -> None:

    definition = parse_definition(
        {
            "kind": "join",
            "left": "a",
            "right": "b",
            "on": [{"left": "k", "right": "k", "normalize": normaliser}],
            "columns": [{"name": "k"}],
        }
    )
    assert isinstance(definition, JoinDefinition)
    assert f'{expected} = r."k"' in compile_join(definition)


def test_insee_current_needs_its_year() -> None:
    with pytest.raises(InvalidInputError, match="year"):
        parse_definition(
            {
                **MERGED,
                "on": [{"left": "a", "right": "b", "normalize": {"function": "insee_current"}}],
            }
        )


def test_a_source_closed_later_closes_the_view(instance: Instance) -> None:
    from beffroi.catalog.models import AuditEvent

    with transaction(instance.factory) as session:
        make_dataset(session, slug="bientot-fermee", publisher="service-finances")
    store = store_for(instance.settings)
    ingest_file(instance.factory, store, OPERATOR, "bientot-fermee", SUBVENTIONS, publish=True)
    payload = create(
        instance,
        "bientot-fermee-compte",
        {"kind": "sql", "sql": 'SELECT count(*) AS n FROM "bientot-fermee"'},
    )
    assert payload["access_level"] == "public"
    with transaction(instance.factory) as session:
        update_dataset(
            session,
            OPERATOR,
            "bientot-fermee",
            DatasetUpdate(access_level=AccessLevel.ORGANIZATION),
        )
    ingest_file(
        instance.factory, store, OPERATOR, "bientot-fermee", SUBVENTIONS_VALID, publish=True
    )
    runs = services.refresh_pending(instance.factory, instance.settings)
    assert [(view, status) for _j, view, status in runs] == [("bientot-fermee-compte", "succeeded")]
    with instance.session() as session:
        dataset = session.scalar(select(Dataset).where(Dataset.slug == "bientot-fermee-compte"))
        assert dataset is not None
        assert dataset.access_level == "organization"
        narrowed = session.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "view.narrow", AuditEvent.object_id == dataset.slug
            )
        )
    assert narrowed is not None
    assert narrowed.details == {"from": "public", "to": "organization"}
    with pytest.raises(InvalidInputError, match="non autorisée"):
        sql(instance, 'SELECT count(*) AS n FROM "bientot-fermee-compte"', Actor.anonymous())


def test_a_short_slug_without_a_title_is_a_clear_error(instance: Instance) -> None:
    with (
        transaction(instance.factory) as session,
        pytest.raises(InvalidInputError, match="title"),
    ):
        services.create_view(
            session,
            OPERATOR,
            instance.settings,
            ViewCreate(
                slug="ab",
                owner="service-finances",
                definition={"kind": "sql", "sql": "SELECT count(*) AS n FROM irve"},
            ),
        )
