"""A new source version: the indicator is marked stale at publication, recomputed with a
new lineage record, its history kept, and a threshold crossing raises an alert."""

from __future__ import annotations

import uuid

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import select

from beffroi.access import Actor
from beffroi.catalog.db import transaction
from beffroi.catalog.models import Dataset, Indicator, IndicatorAlert
from beffroi.catalog.versions import publish_version, record_version
from beffroi.indicators import compute as comp
from beffroi.indicators import services
from beffroi.store import store_for
from tests.unit.indicators.conftest import Instance

ADMIN = Actor.system(name="test")
CODE = "consommation-eau-par-habitant"
SLUG = "consommation-eau-potable-par-commune"
LORIENT = "56121"


def publish_doubled_lorient(instance: Instance) -> int:
    """A new version where Lorient's December 2025 volume is doubled; its number."""
    store = store_for(instance.settings)
    with transaction(instance.factory) as session:
        dataset = session.scalar(select(Dataset).where(Dataset.slug == SLUG))
        assert dataset is not None
        assert dataset.published_version is not None
        table = store.read(dataset.store_key, dataset.published_version.store_version)
        table = table.drop_columns([n for n in table.column_names if n.startswith("__")])
        hit = pc.and_(
            pc.equal(table["code_insee"], LORIENT),
            pc.equal(table["mois"], pa.scalar(pa.array(["2025-12-01"]).cast(pa.date32())[0])),
        )
        doubled = pc.if_else(hit, pc.multiply(table["volume_m3"], 2.0), table["volume_m3"])
        table = table.set_column(table.column_names.index("volume_m3"), "volume_m3", doubled)
        upload = str(uuid.uuid4())
        stored = store.write(dataset.store_key, table.to_batches(), table.schema, upload_id=upload)
        version = record_version(
            session,
            ADMIN,
            dataset,
            upload_id=upload,
            store_version=stored.version,
            mode="replace",
            row_count=stored.rows,
            columns=[],
            profile=[],
            dialect={},
            source_name="v2.parquet",
            source_bytes=0,
        )
        publish_version(session, ADMIN, SLUG, version.number)
        indicator = session.scalar(select(Indicator).where(Indicator.code == CODE))
        assert indicator is not None
        assert indicator.stale_since is not None, "publication marks its indicators stale"
        other = session.scalar(
            select(Indicator).where(Indicator.code == "places-stationnement-velo")
        )
        assert other is not None
        assert other.stale_since is None
        return version.number


def test_new_version_recomputes_with_new_lineage_and_alert(instance: Instance) -> None:
    with instance.factory() as session:
        before = services.indicator_values(session, ADMIN, CODE, commune=LORIENT, period="2025-12")
        [old] = before.rows
        assert before.computation is not None
        first_run = before.computation.id
        assert [s["version"] for s in before.computation.sources] == [1]

    number = publish_doubled_lorient(instance)

    with transaction(instance.factory) as session:
        runs = comp.refresh_stale(session, instance.settings)
        assert [r.status for r in runs] == ["succeeded"]
        assert comp.refresh_stale(session, instance.settings) == []  # nothing stale any more
    with instance.factory() as session:
        after = services.indicator_values(session, ADMIN, CODE, commune=LORIENT, period="2025-12")
        [new] = after.rows
        assert after.computation is not None
        assert after.computation.id != first_run
        assert [s["version"] for s in after.computation.sources] == [number]
        assert after.computation.trigger == "publication d'une source"
        assert new.value is not None
        assert old.value is not None
        assert abs(new.value - 2 * old.value) < 1e-9
        # same definition, same SQL: same hash; history keeps the first computation
        assert after.computation.sql_hash == before.computation.sql_hash
        history = services.history(session, ADMIN, CODE)
        assert [h.id for h in history][-1] == first_run
        past = services.indicator_values(
            session, ADMIN, CODE, commune=LORIENT, period="2025-12", computation=first_run
        )
        assert [r.value for r in past.rows] == [old.value]
        alerts = session.scalars(
            select(IndicatorAlert).where(IndicatorAlert.commune == LORIENT)
        ).all()
        assert [(a.period, a.previous) for a in alerts] == [("2025-12", old.value)]
        assert alerts[0].value == new.value


def test_a_failing_source_is_recorded_not_raised(instance: Instance) -> None:
    with transaction(instance.factory) as session:
        indicator = session.scalar(
            select(Indicator).where(Indicator.code == "places-stationnement-velo")
        )
        assert indicator is not None
        indicator.definition = {**indicator.definition, "measure": "capacite_totale"}
        run = comp.compute(session, instance.settings, indicator, trigger="test")
        assert run.status == "failed"
        assert "capacite_totale" in run.error["detail"]
        assert "capacite" in run.error["hint"]
        values = services.indicator_values(session, ADMIN, indicator.code)
        assert values.computation is not None
        assert values.computation.status == "succeeded"  # the previous values still serve
        assert values.last_failure is not None
        session.rollback()
