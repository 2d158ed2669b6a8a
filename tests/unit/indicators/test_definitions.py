"""Validation of definitions: clear errors naming the field, the column or the table."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from beffroi.access import Actor
from beffroi.catalog.models import User
from beffroi.catalog.schemas import parse
from beffroi.errors import InvalidInputError, PermissionDeniedError
from beffroi.indicators import services
from beffroi.indicators.definitions import (
    DeclarativeDefinition,
    IndicatorCreate,
    declarative_sql,
    referenced_tables,
)
from tests.factories import actor_for
from tests.unit.indicators.conftest import Instance

ADMIN = Actor.system(name="test")


def fields(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "code": "velos-test",
        "title": "Places vélo (test)",
        "unit": "places",
        "definition": {
            "kind": "declarative",
            "dataset": "stationnement-cyclable",
            "aggregate": "sum",
            "measure": "capacite",
            "commune": "code_com",
        },
        "period": "none",
        "owner": "direction-mobilites",
        "theme": "TRAN",
    }
    base.update(overrides)
    return base


def create(instance: Instance, db: Session, actor: Actor = ADMIN, **overrides: Any) -> Any:
    return services.create_indicator(
        db, actor, instance.settings, parse(IndicatorCreate, fields(**overrides))
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"code": "Pas Un Code"}, "code d'indicateur"),
        ({"theme": "VELO"}, "thème connu"),
        ({"period": "year"}, "colonne de date"),
        ({"period": "week"}, "period"),
        (
            {
                "definition": {
                    "kind": "declarative",
                    "dataset": "stationnement-cyclable",
                    "aggregate": "sum",
                }
            },
            "indiquez measure",
        ),
        (
            {
                "definition": {
                    "kind": "declarative",
                    "dataset": "stationnement-cyclable",
                    "filters": [{"column": "mobilier", "op": "in", "value": "abri"}],
                }
            },
            "liste non vide",
        ),
        (
            {"cumulative": True, "definition": {**fields()["definition"], "aggregate": "avg"}},
            "cumul",
        ),
    ],
)
def test_shape_errors_name_the_field(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse(IndicatorCreate, fields(**overrides))
    assert message in caught.value.message
    assert caught.value.hint


def test_unknown_column_lists_the_available_ones(instance: Instance, db: Session) -> None:
    definition = {**fields()["definition"], "measure": "places"}
    with pytest.raises(InvalidInputError) as caught:
        create(instance, db, definition=definition)
    assert "« places »" in caught.value.message
    assert caught.value.hint is not None
    assert "capacite" in caught.value.hint
    assert caught.value.message_en


def test_sql_without_value_column(instance: Instance, db: Session) -> None:
    sql = (
        'SELECT code_com AS commune, sum(capacite) AS total FROM "stationnement-cyclable" '
        "GROUP BY 1"
    )
    with pytest.raises(InvalidInputError) as caught:
        create(instance, db, definition={"kind": "sql", "sql": sql})
    assert "value" in caught.value.message
    assert "total" in caught.value.message


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT count(*) AS value FROM read_csv('/etc/passwd')",
        "SELECT 1 AS value; DROP TABLE x",
        'SELECT count(*) AS value FROM "budget-primitif-agglomeration", information_schema.tables',
    ],
)
def test_sql_goes_through_the_query_guard(instance: Instance, db: Session, sql: str) -> None:
    with pytest.raises(InvalidInputError):
        create(instance, db, definition={"kind": "sql", "sql": sql}, breakdown="epci")


def test_unknown_or_unreadable_source(instance: Instance, db: Session) -> None:
    definition = {**fields()["definition"], "dataset": "pas-de-tel-jeu"}
    with pytest.raises(InvalidInputError) as caught:
        create(instance, db, definition=definition)
    assert "pas-de-tel-jeu" in caught.value.message


def test_public_aggregate_of_a_closed_source_needs_its_steward(
    instance: Instance, db: Session
) -> None:
    user = db.scalar(select(User).where(User.username == "partenaire-eau"))
    assert user is not None
    editor = actor_for(db, user)
    partner = "eau-du-morbihan-delegataire"
    water = {
        "kind": "declarative",
        "dataset": "consommation-eau-potable-par-commune",
        "aggregate": "sum",
        "measure": "volume_m3",
        "commune": "code_insee",
    }
    with pytest.raises(PermissionDeniedError) as caught:
        create(instance, db, editor, definition=water, owner=partner, code="eau-publique")
    assert "organization" in caught.value.message
    made = create(
        instance,
        db,
        editor,
        definition=water,
        owner=partner,
        code="eau-interne",
        access_level="organization",
    )
    assert made.sources == ["consommation-eau-potable-par-commune"]


def test_created_indicator_is_computed_at_once(instance: Instance, db: Session) -> None:
    made = create(instance, db)
    values = services.indicator_values(db, ADMIN, made.code, commune="epci")
    [total] = values.rows
    assert total.value is not None
    assert total.value > 0


def test_declarative_sql_quotes_every_name_and_value() -> None:
    definition = DeclarativeDefinition.model_validate(
        {
            "dataset": "a-b",
            "aggregate": "sum",
            "measure": 'x"y',
            "commune": "c",
            "filters": [{"column": "t", "op": "eq", "value": "l'eau"}],
        }
    )
    sql = declarative_sql(definition, "none", by_commune=True, members=["56121"])
    assert 'FROM "a-b"' in sql
    assert 'sum("x""y")' in sql
    assert "'l''eau'" in sql
    assert referenced_tables('WITH t AS (SELECT 1) SELECT * FROM t, "x-y", ref.communes') == {"x-y"}
