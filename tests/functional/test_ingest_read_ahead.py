"""Reading ahead of the catalogue (``ReadAhead``): same versions, errors in the same order."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pyarrow as pa
import pytest
from click.testing import CliRunner

from beffroi.access import Actor
from beffroi.catalog.db import transaction
from beffroi.cli import cli
from beffroi.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from beffroi.ingest.model import ReadOptions
from beffroi.ingest.pipeline import ReadAhead, ingest_file
from beffroi.web.app import create_app
from tests.functional.conftest import DemoInstance
from tests.functional.test_ingest import DATASET, SUBVENTIONS, SUBVENTIONS_ROWS

READING_THREADS = {"beffroi-read-ahead", "beffroi-read", "beffroi-type", "beffroi-profile"}


def _reading_threads() -> list[str]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        alive = [t.name for t in threading.enumerate() if t.name in READING_THREADS]
        if not alive:
            return []
        time.sleep(0.05)
    return alive


def _reading_threads_waiting() -> bool:
    names = {t.name for t in threading.enumerate()}
    return {"beffroi-read", "beffroi-type", "beffroi-profile"} <= names


def test_read_ahead_gives_the_same_version(demo_instance: DemoInstance) -> None:
    from beffroi.store import store_for

    app = create_app(demo_instance.settings)
    factory = app.state.session_factory
    store = store_for(demo_instance.settings)
    operator = Actor.system(name="test")
    plain = ingest_file(factory, store, operator, DATASET, SUBVENTIONS)
    ahead = ReadAhead(SUBVENTIONS, ReadOptions())
    early = ingest_file(factory, store, operator, DATASET, SUBVENTIONS, read_ahead=ahead)
    assert early.rows == plain.rows == SUBVENTIONS_ROWS
    assert early.columns == plain.columns
    assert early.dialect == plain.dialect
    with transaction(factory) as session:
        from beffroi.catalog.services import get_dataset

        key = get_dataset(session, operator, DATASET).store_key
    assert store.read(key, early.version - 1).equals(store.read(key, plain.version - 1))
    assert _reading_threads() == []
    app.state.engine.dispose()


def test_access_errors_come_before_read_errors(demo_instance: DemoInstance, tmp_path: Path) -> None:
    from beffroi.access.accounts import get_user
    from beffroi.store import store_for

    app = create_app(demo_instance.settings)
    factory = app.state.session_factory
    store = store_for(demo_instance.settings)
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("a;b\n" + "1;2\n" * 50 + "1;2;3;4;5\n" * 30, encoding="utf-8")
    with transaction(factory) as session:
        viewer = Actor.for_user(get_user(session, "lecteur-eau"), surface="cli")
    with pytest.raises(PermissionDeniedError):
        ingest_file(factory, store, viewer, DATASET, ragged, read_ahead=ReadAhead(ragged))
    # A file of many small batches: the reading threads wait on full queues when refused.
    long = tmp_path / "long.csv"
    long.write_text("a;b\n" + "1;2\n" * 60_000, encoding="utf-8")
    small = ReadOptions(batch_rows=500)
    ahead = ReadAhead(long, small)
    while long.stat().st_size and not _reading_threads_waiting():
        time.sleep(0.05)
    with pytest.raises(PermissionDeniedError):
        ingest_file(factory, store, viewer, DATASET, long, options=small, read_ahead=ahead)
    assert _reading_threads() == []
    operator = Actor.system(name="test")
    with pytest.raises(NotFoundError):
        ingest_file(factory, store, operator, "absent", ragged, read_ahead=ReadAhead(ragged))
    # The operator may: now the file's own error shows, as without a read-ahead.
    with pytest.raises(InvalidInputError) as without:
        ingest_file(factory, store, operator, DATASET, ragged)
    with pytest.raises(InvalidInputError) as with_ahead:
        ingest_file(factory, store, operator, DATASET, ragged, read_ahead=ReadAhead(ragged))
    assert str(with_ahead.value) == str(without.value)
    assert _reading_threads() == []
    app.state.engine.dispose()


def test_cli_ingest_reads_ahead_and_stops_its_threads_on_error(
    demo_instance: DemoInstance, tmp_path: Path
) -> None:
    runner = CliRunner()
    base = ["--data-dir", str(demo_instance.settings.data_dir), "ingest"]
    good = runner.invoke(cli, [*base, str(SUBVENTIONS), "--dataset", DATASET, "--publish"])
    assert good.exit_code == 0, good.output
    assert f"{SUBVENTIONS_ROWS} lignes" in good.output
    refused = runner.invoke(cli, [*base, str(SUBVENTIONS), "--dataset", "absent"])
    assert refused.exit_code == 1
    assert "Traceback" not in refused.output
    assert _reading_threads() == []


def test_ingestion_uses_jemalloc_unless_told_otherwise(demo_instance: DemoInstance) -> None:
    ahead = ReadAhead(SUBVENTIONS)
    ahead.take()
    ahead.close()
    try:
        expected = pa.jemalloc_memory_pool().backend_name
    except NotImplementedError:  # pyarrow without jemalloc: the default stays
        expected = pa.default_memory_pool().backend_name
    assert pa.default_memory_pool().backend_name == expected
