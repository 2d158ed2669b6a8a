"""The local Delta Lake version store: modes, history, diff, errors, locks, cleanup, memory."""

from __future__ import annotations

import datetime as dt
import json
import random
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from deltalake import DeltaTable, write_deltalake

from beffroi.errors import ConfigurationError, InvalidFileError, InvalidInputError, NotFoundError
from beffroi.store import duck
from beffroi.store.interfaces import VersionStore
from beffroi.store.local import ROW_COLUMN, LocalDeltaStore

KEY = "ds-1"


@pytest.fixture
def store(tmp_path: Path) -> LocalDeltaStore:
    return LocalDeltaStore(tmp_path / "tables")


def put(
    store: LocalDeltaStore, table: pa.Table, upload_id: str, key: str = KEY, **kwargs: object
) -> int:
    """Write a table in small batches; the new version number."""
    stored = store.write(
        key,
        table.to_batches(max_chunksize=2),
        table.schema,
        upload_id=upload_id,
        **kwargs,  # type: ignore[arg-type]
    )
    return stored.version


def sorted_rows(table: pa.Table, by: str = "id") -> list[dict[str, object]]:
    return table.sort_by(by).to_pylist()


def same(got: pa.Table, expected: pa.Table) -> bool:
    """Same schema, same rows in the same order (the store keeps the upload order)."""
    return bool(got.schema.equals(expected.schema)) and bool(got.equals(expected))


def data_files(store: LocalDeltaStore, key: str = KEY) -> set[str]:
    return {p.name for p in store.table_path(key).iterdir() if p.is_file()}


def referenced(store: LocalDeltaStore, key: str = KEY) -> set[str]:
    """Every file any commit of the table adds."""
    found: set[str] = set()
    for log in (store.table_path(key) / "_delta_log").glob("*.json"):
        for line in log.read_text().splitlines():
            action = json.loads(line)
            if "add" in action:
                found.add(action["add"]["path"])
    return found


BASE = pa.table({"id": [1, 2, 3, 4], "name": ["un", "deux", "trois", "quatre"]})


def test_the_store_satisfies_the_protocol(store: LocalDeltaStore) -> None:
    checked: VersionStore = store
    assert checked.table_uri(KEY) == str(store.root / KEY)


def test_write_read_and_list_versions(store: LocalDeltaStore) -> None:
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
    stored = store.write(KEY, BASE.to_batches(), BASE.schema, upload_id="u-0")
    assert (stored.version, stored.upload_id, stored.rows, stored.mode) == (0, "u-0", 4, "replace")
    assert before <= stored.committed_at <= dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)
    assert same(store.read(KEY, 0), BASE)
    assert store.versions(KEY) == [stored]
    assert store.versions("ds-never-written") == []


def test_time_travel_reads_every_version(store: LocalDeltaStore) -> None:
    put(store, BASE, "u-0")
    second = pa.table({"id": [9], "name": ["neuf"]})
    assert put(store, second, "u-1") == 1
    assert same(store.read(KEY, 0), BASE)
    assert same(store.read(KEY, 1), second)
    assert [v.rows for v in store.versions(KEY)] == [4, 1]


def test_append_adds_rows_in_a_new_version(store: LocalDeltaStore) -> None:
    put(store, BASE, "u-0")
    more = pa.table({"id": [5, 6], "name": ["cinq", "six"]})
    assert put(store, more, "u-1", mode="append") == 1
    assert sorted_rows(store.read(KEY, 1)) == sorted_rows(pa.concat_tables([BASE, more]))
    assert [(v.mode, v.rows) for v in store.versions(KEY)] == [("replace", 4), ("append", 6)]
    assert same(store.read(KEY, 0), BASE)


def test_append_to_a_missing_table_creates_it(store: LocalDeltaStore) -> None:
    assert put(store, BASE, "u-0", mode="append") == 0
    assert store.versions(KEY)[0].rows == 4


def test_upsert_updates_by_key_and_inserts_the_rest(store: LocalDeltaStore) -> None:
    put(store, BASE, "u-0")
    changes = pa.table({"id": [2, 4, 7], "name": ["DEUX", "quatre", "sept"]})
    assert put(store, changes, "u-1", mode="upsert", primary_key=["id"]) == 1
    assert sorted_rows(store.read(KEY, 1)) == [
        {"id": 1, "name": "un"},
        {"id": 2, "name": "DEUX"},
        {"id": 3, "name": "trois"},
        {"id": 4, "name": "quatre"},
        {"id": 7, "name": "sept"},
    ]
    assert [(v.mode, v.rows) for v in store.versions(KEY)] == [("replace", 4), ("upsert", 5)]


def test_upsert_with_a_composite_key(store: LocalDeltaStore) -> None:
    table = pa.table(
        {"insee": ["01053", "01053", "2A004"], "year": [2023, 2024, 2024], "n": [1, 2, 3]}
    )
    put(store, table, "u-0")
    change = pa.table({"insee": ["01053", "01053"], "year": [2024, 2025], "n": [20, 30]})
    put(store, change, "u-1", mode="upsert", primary_key=["insee", "year"])
    got = {(r["insee"], r["year"]): r["n"] for r in store.read(KEY, 1).to_pylist()}
    assert got == {("01053", 2023): 1, ("01053", 2024): 20, ("2A004", 2024): 3, ("01053", 2025): 30}


def test_upsert_needs_a_primary_key(store: LocalDeltaStore) -> None:
    with pytest.raises(InvalidInputError, match="clé primaire") as caught:
        put(store, BASE, "u-0", mode="upsert")
    assert caught.value.hint
    with pytest.raises(InvalidInputError, match="absente"):
        put(store, BASE, "u-0", mode="upsert", primary_key=["nope"])
    assert not store.table_path(KEY).exists()


@pytest.mark.parametrize(
    "upload",
    [
        pa.table({"id": [2, 2], "name": ["a", "b"]}),  # duplicates matching a stored row
        pa.table({"id": [8, 8], "name": ["a", "b"]}),  # duplicates of a new key
        pa.table({"id": pa.array([None, 9], pa.int64()), "name": ["a", "b"]}),  # null key
    ],
    ids=["duplicate-existing", "duplicate-new", "null-key"],
)
def test_upsert_rejects_an_unusable_key(store: LocalDeltaStore, upload: pa.Table) -> None:
    put(store, BASE, "u-0")
    files = data_files(store)
    with pytest.raises(InvalidInputError, match=r"[Cc]lé primaire"):
        put(store, upload, "u-1", mode="upsert", primary_key=["id"])
    assert [v.version for v in store.versions(KEY)] == [0]
    assert data_files(store) == files  # the failed attempt left nothing behind


def test_replace_may_change_the_schema(store: LocalDeltaStore) -> None:
    put(store, BASE, "u-0")
    other = pa.table({"code": ["01053", "01000"], "amount": [1.5, 2.25], "ok": [True, False]})
    put(store, other, "u-1")
    assert same(store.read(KEY, 1), other)
    assert same(store.read(KEY, 0), BASE)  # the old version keeps its schema


@pytest.mark.parametrize(
    "upload",
    [
        pa.table({"id": [5], "label": ["x"]}),  # a column renamed
        pa.table({"id": [5]}),  # a column missing
        pa.table({"id": ["5"], "name": ["cinq"]}),  # a type changed (would drop leading zeros)
    ],
    ids=["renamed", "missing", "retyped"],
)
def test_append_keeps_the_columns(store: LocalDeltaStore, upload: pa.Table) -> None:
    put(store, BASE, "u-0")
    files = data_files(store)
    with pytest.raises(InvalidInputError, match="diffèrent") as caught:
        put(store, upload, "u-1", mode="append")
    assert "replace" in (caught.value.hint or "")
    assert len(store.versions(KEY)) == 1
    assert data_files(store) == files


def test_append_accepts_another_integer_width(store: LocalDeltaStore) -> None:
    put(store, BASE, "u-0")
    narrow = pa.table({"id": pa.array([5], pa.int32()), "name": pa.array(["x"], pa.large_string())})
    put(store, narrow, "u-1", mode="append")
    assert store.read(KEY, 1).num_rows == 5


def test_an_error_while_streaming_is_reraised_and_nothing_is_stored(
    store: LocalDeltaStore,
) -> None:
    put(store, BASE, "u-0")
    files = data_files(store)
    big = pa.table({"id": list(range(50_000)), "name": ["x"] * 50_000})

    def failing() -> Iterator[pa.RecordBatch]:
        yield from big.to_batches(max_chunksize=10_000)
        raise InvalidFileError("Ligne 50 002 illisible", hint="essayez --encoding cp1252")

    for mode in ("replace", "append", "upsert"):
        with pytest.raises(InvalidFileError, match="50 002") as caught:
            store.write(KEY, failing(), big.schema, upload_id="u-x", mode=mode, primary_key=["id"])
        assert caught.value.hint == "essayez --encoding cp1252"
    assert [v.upload_id for v in store.versions(KEY)] == ["u-0"]
    assert data_files(store) == files


def test_batches_must_match_the_announced_schema(store: LocalDeltaStore) -> None:
    wrong = pa.table({"x": [1]})
    with pytest.raises(InvalidInputError, match="colonnes"):
        store.write(KEY, wrong.to_batches(), BASE.schema, upload_id="u-0")
    assert store.versions(KEY) == []
    uncastable = pa.table({"id": ["not a number"], "name": ["x"]})
    with pytest.raises(InvalidInputError, match="types"):
        store.write(KEY, uncastable.to_batches(), BASE.schema, upload_id="u-0")


def test_bad_write_arguments(store: LocalDeltaStore) -> None:
    with pytest.raises(InvalidInputError, match="Mode"):
        put(store, BASE, "u-0", mode="merge")
    with pytest.raises(InvalidInputError, match="upload"):
        put(store, BASE, "")
    with pytest.raises(InvalidInputError, match="colonne"):
        store.write(KEY, [], pa.schema([]), upload_id="u-0")


def test_an_empty_upload_is_a_version_without_rows(store: LocalDeltaStore) -> None:
    put(store, BASE, "u-0")
    stored = store.write(KEY, iter([]), BASE.schema, upload_id="u-1")
    assert stored.rows == 0
    assert store.read(KEY, 1).num_rows == 0
    assert same(store.read(KEY, 0), BASE)


def test_row_counts_from_commit_metadata_match_the_data(store: LocalDeltaStore) -> None:
    rng = random.Random(7)  # noqa: S311 - a reproducible sequence of operations
    next_id = 0
    for step in range(12):
        mode = rng.choice(["replace", "append", "upsert"]) if step else "replace"
        size = rng.randint(0, 40)
        ids = [rng.randint(0, next_id + size) for _ in range(size)]
        ids = list(dict.fromkeys(ids)) if mode == "upsert" else ids
        next_id += size
        table = pa.table(
            {"id": pa.array(ids, pa.int64()), "name": pa.array([str(i) for i in ids], pa.string())}
        )
        put(store, table, f"u-{step}", mode=mode, primary_key=["id"] if mode == "upsert" else None)
    listed = store.versions(KEY)
    assert [v.version for v in listed] == list(range(12))
    assert [v.rows for v in listed] == [store.read(KEY, v.version).num_rows for v in listed]


def test_commits_by_other_tools_are_not_listed_but_counted(store: LocalDeltaStore) -> None:
    put(store, BASE, "u-0")
    other = pa.table({"id": [5], "name": ["x"]})  # without our ordinal column
    write_deltalake(store.table_uri(KEY), other, mode="append", schema_mode="merge")
    stored = store.write(KEY, BASE.to_batches(), BASE.schema, upload_id="u-2", mode="append")
    assert stored.rows == 9
    assert [(v.version, v.rows) for v in store.versions(KEY)] == [(0, 4), (2, 9)]


def test_row_counts_of_old_versions_written_by_other_tools(store: LocalDeltaStore) -> None:
    put(store, BASE, "u-0")
    other = pa.table({"id": [5], "name": ["x"]})
    write_deltalake(store.table_uri(KEY), other, mode="append", schema_mode="merge")
    put(store, BASE, "u-2")
    path = store.table_path(KEY)
    # Version 1 has no metadata of ours: counted from its files' statistics, as of v1.
    assert [store._rows_at(path, v) for v in (0, 1, 2)] == [4, 5, 4]


# -- row order ------------------------------------------------------------------------------


def shuffled(n: int, seed: int, start: int = 0) -> pa.Table:
    """Rows in no sorted order: sorting by any column would not give them back."""
    ids = list(range(start, start + n))
    random.Random(seed).shuffle(ids)  # noqa: S311 - test data
    return pa.table({"id": pa.array(ids, pa.int64()), "name": [f"n{i}" for i in ids]})


def values(table: pa.Table, name: str = "id") -> list[Any]:
    return table.column(name).to_pylist()


def ordinals(store: LocalDeltaStore, version: int, key: str = KEY) -> list[Any]:
    """The hidden column as stored, in the order of the ids."""
    table = DeltaTable(store.table_uri(key), version=version).to_pyarrow_table()
    return values(table.sort_by("id"), ROW_COLUMN)


def test_replace_keeps_the_upload_order(store: LocalDeltaStore) -> None:
    upload = shuffled(100_000, seed=1)
    stored = store.write(KEY, upload.to_batches(max_chunksize=1000), upload.schema, upload_id="u")
    assert stored.rows == 100_000
    got = store.read(KEY, 0)
    assert got.schema.equals(upload.schema)  # the ordinal is not shown
    assert got.equals(upload)
    on_disk = DeltaTable(store.table_uri(KEY)).to_pyarrow_table()
    assert on_disk.column_names == ["id", "name", ROW_COLUMN]
    assert sorted(values(on_disk, ROW_COLUMN)) == list(range(100_000))
    # A new snapshot numbers its rows from 0 again.
    put(store, upload.slice(0, 10), "u-1")
    assert same(store.read(KEY, 1), upload.slice(0, 10))
    assert sorted(ordinals(store, 1)) == list(range(10))


def test_append_continues_the_order(store: LocalDeltaStore) -> None:
    first, second, third = shuffled(5000, 2), shuffled(3000, 3, start=5000), shuffled(7, 4, 9000)
    store.write(KEY, first.to_batches(max_chunksize=100), first.schema, upload_id="u-0")
    for i, more in enumerate((second, third), start=1):
        store.write(
            KEY, more.to_batches(max_chunksize=100), more.schema, upload_id=f"u-{i}", mode="append"
        )
    assert same(store.read(KEY, 1), pa.concat_tables([first, second]))
    assert same(store.read(KEY, 2), pa.concat_tables([first, second, third]))
    assert same(store.read(KEY, 0), first)


def test_upsert_keeps_updated_rows_in_place_and_appends_new_ones(store: LocalDeltaStore) -> None:
    base = shuffled(1000, 5)
    put(store, base, "u-0")
    # Updates of existing ids (in another order) mixed with new ids, in 2-row batches.
    updated = [700, 3, 999, 0, 512]
    new = [1500, 1001, 1200]
    ids = [updated[0], new[0], *updated[1:3], new[1], *updated[3:], new[2]]
    change = pa.table({"id": pa.array(ids, pa.int64()), "name": [f"NEW{i}" for i in ids]})
    put(store, change, "u-1", mode="upsert", primary_key=["id"])
    names = dict(zip(ids, values(change, "name"), strict=True))
    expected_ids = [*values(base), *new]
    expected = pa.table(
        {
            "id": pa.array(expected_ids, pa.int64()),
            "name": [names.get(i, f"n{i}") for i in expected_ids],
        }
    )
    assert same(store.read(KEY, 1), expected)
    # Updated rows kept their ordinal; new ones come after the largest one.
    before = dict(zip(sorted(values(base)), ordinals(store, 0), strict=True))
    after = dict(zip(sorted(expected_ids), ordinals(store, 1), strict=True))
    assert all(after[i] == before[i] for i in before)
    assert all(after[i] > 999 for i in new)
    # An append after the upsert goes after the new rows (numbering from the maximum).
    tail = shuffled(20, 6, start=2000)
    put(store, tail, "u-2", mode="append")
    assert same(store.read(KEY, 2), pa.concat_tables([expected, tail]))


def test_order_of_wide_tables_without_file_statistics(store: LocalDeltaStore) -> None:
    # delta-rs keeps statistics for the first 32 columns: the ordinal (last) has none here,
    # so the next ordinal comes from reading the column.
    def wide(start: int) -> pa.Table:
        ids = shuffled(300, start, start=start).column("id")
        return pa.table({f"c{k:02d}": pc.add(ids, k) for k in range(40)})

    first, second = wide(0), wide(1000)
    store.write(KEY, first.to_batches(max_chunksize=7), first.schema, upload_id="u-0")
    actions = pa.table(DeltaTable(store.table_uri(KEY)).get_add_actions(flatten=True))
    assert f"max.{ROW_COLUMN}" not in actions.column_names
    store.write(
        KEY, second.to_batches(max_chunksize=7), second.schema, upload_id="u-1", mode="append"
    )
    assert store.read(KEY, 1).equals(pa.concat_tables([first, second]))


def test_the_row_column_name_is_reserved(store: LocalDeltaStore) -> None:
    for name in (ROW_COLUMN, "__Beffroi_ROW"):
        upload = pa.table({"id": [1], name: [1]})
        with pytest.raises(InvalidInputError, match="réservé") as caught:
            put(store, upload, "u-0")
        assert caught.value.hint
    put(store, BASE, "u-0")
    with pytest.raises(InvalidInputError, match="réservé"):
        put(store, pa.table({"id": [5], "name": ["x"], ROW_COLUMN: [9]}), "u-1", mode="append")
    assert [v.upload_id for v in store.versions(KEY)] == ["u-0"]


def test_scan_sql_reads_a_version_in_upload_order(store: LocalDeltaStore) -> None:
    first, more = shuffled(3000, 7), shuffled(50, 8, start=5000)
    store.write(KEY, first.to_batches(max_chunksize=10), first.schema, upload_id="u-0")
    put(store, more, "u-1", mode="append")
    with duck.connect() as con:
        for version, expected in ((0, first), (1, pa.concat_tables([first, more]))):
            scan = store.scan_sql(KEY, version)
            assert scan.startswith("(SELECT * EXCLUDE (__beffroi_row) FROM delta_scan(")
            got = con.execute(f"SELECT * FROM {scan} AS t").to_arrow_table()  # noqa: S608
            assert got.column_names == ["id", "name"]
            assert values(got) == values(expected)
    with pytest.raises(NotFoundError):
        store.scan_sql(KEY, 2)


def test_tables_without_the_row_column_still_work(store: LocalDeltaStore) -> None:
    # Written before the ordinal existed, or by another tool: no order to restore.
    write_deltalake(store.table_uri(KEY), BASE)
    assert sorted_rows(store.read(KEY, 0)) == sorted_rows(BASE)
    with duck.connect() as con:
        scan = store.scan_sql(KEY, 0)
        assert con.execute(f"SELECT count(*) FROM {scan}").fetchall() == [(4,)]  # noqa: S608
    more = shuffled(30, 9, start=100)
    put(store, more, "u-1", mode="append")  # the column is added; old rows have none
    got = store.read(KEY, 1)
    assert got.schema.equals(BASE.schema)
    assert got.slice(0, 30).equals(more)  # rows without an ordinal come last
    assert sorted_rows(got.slice(30)) == sorted_rows(BASE)
    assert ordinals(store, 1)[:4] == [None] * 4
    diff = store.diff(KEY, 0, 1, primary_key=["id"])
    assert (diff.added, diff.removed, diff.changed) == (30, 0, 0)
    assert values(diff.sample_added) == values(more)[:20]
    assert (store.diff(KEY, 0, 1).added, store.diff(KEY, 0, 1).removed) == (30, 0)
    change = pa.table({"id": [2, 7777], "name": ["DEUX", "x"]})
    put(store, change, "u-2", mode="upsert", primary_key=["id"])
    assert values(store.read(KEY, 2))[:31] == [*values(more), 7777]


def test_upsert_into_a_table_without_the_row_column(store: LocalDeltaStore) -> None:
    write_deltalake(store.table_uri(KEY), BASE)
    change = pa.table({"id": [9, 2, 8], "name": ["neuf", "DEUX", "huit"]})
    put(store, change, "u-1", mode="upsert", primary_key=["id"])
    got = store.read(KEY, 1)
    # delta-rs fills a column the merge adds from the source, for updated rows too: here the
    # updated row has no place to keep and takes its place in the upload, like the new ones.
    assert values(got)[:3] == [9, 2, 8]
    assert sorted_rows(got) == [
        {"id": 1, "name": "un"},
        {"id": 2, "name": "DEUX"},
        {"id": 3, "name": "trois"},
        {"id": 4, "name": "quatre"},
        {"id": 8, "name": "huit"},
        {"id": 9, "name": "neuf"},
    ]
    assert store.versions(KEY)[-1].rows == 6


def test_diff_ignores_the_row_order(store: LocalDeltaStore) -> None:
    upload = shuffled(500, 10)
    put(store, upload, "u-0")
    put(store, upload.take(list(reversed(range(500)))), "u-1")  # same rows, other order
    assert ordinals(store, 0) != ordinals(store, 1)
    by_key = store.diff(KEY, 0, 1, primary_key=["id"])
    assert (by_key.added, by_key.removed, by_key.changed) == (0, 0, 0)
    by_hash = store.diff(KEY, 0, 1)
    assert (by_hash.added, by_hash.removed, by_hash.changed) == (0, 0, 0)
    assert by_hash.sample_added.schema.names == ["id", "name"]
    assert by_key.sample_changed.schema.names == ["id", "name"]


def test_diff_samples_come_in_upload_order(store: LocalDeltaStore) -> None:
    old = pa.table({"id": [4, 1, 3, 6, 2, 5], "name": ["d", "a", "c", "f", "b", "e"]})
    new = pa.table({"id": [30, 6, 10, 5, 20, 1], "name": ["x", "F", "y", "E", "z", "a"]})
    put(store, old, "u-0")
    put(store, new, "u-1")
    diff = store.diff(KEY, 0, 1, primary_key=["id"])
    assert (diff.added, diff.removed, diff.changed) == (3, 3, 2)
    assert diff.sample_added.column("id").to_pylist() == [30, 10, 20]
    assert diff.sample_removed.column("id").to_pylist() == [4, 3, 2]
    assert diff.sample_changed.to_pylist() == [{"id": 6, "name": "F"}, {"id": 5, "name": "E"}]
    by_hash = store.diff(KEY, 0, 1)
    assert (by_hash.added, by_hash.removed) == (5, 5)
    assert by_hash.sample_added.column("id").to_pylist() == [30, 6, 10, 5, 20]
    assert by_hash.sample_removed.column("id").to_pylist() == [4, 3, 6, 2, 5]
    assert by_hash.sample_removed.column_names == ["id", "name"]


# -- not found, bad keys, bad roots ---------------------------------------------------------


def test_reading_what_does_not_exist(store: LocalDeltaStore) -> None:
    with pytest.raises(NotFoundError, match="ds-1") as caught:
        store.read(KEY, 0)
    assert caught.value.hint
    put(store, BASE, "u-0")
    for version in (1, -1, 99):
        with pytest.raises(NotFoundError, match="introuvable") as caught:
            store.read(KEY, version)
        assert caught.value.hint == "versions existantes : 0 à 0"
    with pytest.raises(NotFoundError):
        store.diff(KEY, 0, 3)


@pytest.mark.parametrize(
    "key",
    ["../escape", "..", ".", "a/b", "/etc", "", "Ds-1", ".locks", "a.b", "x" * 129, "-x", "a\x00"],
)
def test_unsafe_keys_are_rejected(store: LocalDeltaStore, tmp_path: Path, key: str) -> None:
    for call in (
        lambda: put(store, BASE, "u-0", key=key),
        lambda: store.read(key, 0),
        lambda: store.versions(key),
        lambda: store.table_uri(key),
        lambda: store.cleanup(key),
        lambda: store.diff(key, 0, 0),
    ):
        with pytest.raises(InvalidInputError, match="Clé de table invalide"):
            call()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tables"] or not (tmp_path / "x").exists()
    assert not (tmp_path / "escape").exists()


@pytest.mark.parametrize("name", ["with#hash", "with%percent", "with?question"])
def test_roots_that_urls_would_mangle_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ConfigurationError, match="inutilisable"):
        LocalDeltaStore(tmp_path / name)


def test_roots_with_spaces_and_accents_work(tmp_path: Path) -> None:
    store = LocalDeltaStore(tmp_path / "données publiques")
    put(store, BASE, "u-0")
    put(store, BASE, "u-1", mode="append")
    assert [v.rows for v in store.versions(KEY)] == [4, 8]
    assert store.diff(KEY, 0, 1).added == 4


# -- diff -----------------------------------------------------------------------------------

OLD = pa.table(
    {
        "id": [1, 2, 3, 4, 5, 6],
        "name": ["a", "b", "c", "d", "e", None],
        "amount": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
    }
)
NEW = pa.table(
    {
        "id": [3, 4, 5, 6, 7, 8, 9],
        "name": ["c", "D", "e", "f", "g", "h", "i"],  # 4 changed, 6 NULL → "f" changed
        "amount": [3.0, 4.0, 5.5, 6.0, 7.0, 8.0, 9.0],  # 5 changed
    }
)


def test_diff_by_key_counts_and_samples(store: LocalDeltaStore) -> None:
    put(store, OLD, "u-0")
    put(store, NEW, "u-1")
    diff = store.diff(KEY, 0, 1, primary_key=["id"])
    assert (diff.added, diff.removed, diff.changed, diff.key) == (3, 2, 3, ["id"])
    assert diff.sample_added.column("id").to_pylist() == [7, 8, 9]
    assert diff.sample_removed.column("id").to_pylist() == [1, 2]
    assert diff.sample_changed.to_pylist() == [
        {"id": 4, "name": "D", "amount": 4.0},
        {"id": 5, "name": "e", "amount": 5.5},
        {"id": 6, "name": "f", "amount": 6.0},
    ]
    back = store.diff(KEY, 1, 0, primary_key=["id"])
    assert (back.added, back.removed, back.changed) == (2, 3, 3)
    same = store.diff(KEY, 1, 1, primary_key=["id"])
    assert (same.added, same.removed, same.changed) == (0, 0, 0)
    assert same.sample_added.num_rows == 0
    assert same.sample_added.schema.names == ["id", "name", "amount"]


def test_diff_by_hash_compares_multisets_of_rows(store: LocalDeltaStore) -> None:
    old = pa.table({"a": ["x", "x", "y", "z"], "b": [1, 1, 2, 3]})
    new = pa.table({"a": ["x", "y", "y", "w"], "b": [1, 2, 2, 4]})
    put(store, old, "u-0")
    put(store, new, "u-1")
    diff = store.diff(KEY, 0, 1)
    assert (diff.added, diff.removed, diff.changed, diff.key) == (2, 2, 0, None)
    assert sorted(diff.sample_added.to_pylist(), key=str) == sorted(
        [{"a": "y", "b": 2}, {"a": "w", "b": 4}], key=str
    )
    assert sorted(diff.sample_removed.to_pylist(), key=str) == sorted(
        [{"a": "x", "b": 1}, {"a": "z", "b": 3}], key=str
    )
    assert diff.sample_changed.num_rows == 0


def test_diff_by_hash_sees_a_changed_float_and_null(store: LocalDeltaStore) -> None:
    old = pa.table({"a": [0.1 + 0.2, 1.0, None], "b": ["s", "t", "u"]})
    new = pa.table({"a": [0.3, 1.0, 2.0], "b": ["s", "t", "u"]})
    put(store, old, "u-0")
    put(store, new, "u-1")
    diff = store.diff(KEY, 0, 1)
    assert (diff.added, diff.removed) == (2, 2)


def test_diff_across_a_schema_change(store: LocalDeltaStore) -> None:
    put(store, OLD, "u-0")
    renamed = pa.table({"id": ["1", "2", "3"], "name": ["a", "b", "c"]})  # id now text
    put(store, renamed, "u-1")
    diff = store.diff(KEY, 0, 1, primary_key=["id"])
    # 1-3 keep their key and name but lose "amount": changed; 4-6 are gone.
    assert (diff.added, diff.removed, diff.changed) == (0, 3, 3)
    by_hash = store.diff(KEY, 0, 1)
    assert (by_hash.added, by_hash.removed) == (3, 6)


def test_diff_samples_are_capped(store: LocalDeltaStore) -> None:
    put(store, pa.table({"id": list(range(100))}), "u-0")
    put(store, pa.table({"id": list(range(50, 250))}), "u-1")
    diff = store.diff(KEY, 0, 1, primary_key=["id"])
    assert (diff.added, diff.removed, diff.changed) == (150, 50, 0)
    assert diff.sample_added.column("id").to_pylist() == list(range(100, 120))
    assert diff.sample_removed.num_rows == 20
    by_hash = store.diff(KEY, 0, 1)
    assert (by_hash.added, by_hash.removed) == (150, 50)
    assert by_hash.sample_added.num_rows == 20


def test_diff_with_a_bad_key(store: LocalDeltaStore) -> None:
    put(store, OLD, "u-0")
    put(store, pa.table({"id": [1, 1], "name": ["a", "b"], "amount": [1.0, 1.0]}), "u-1")
    with pytest.raises(InvalidInputError, match="absente"):
        store.diff(KEY, 0, 1, primary_key=["nope"])
    with pytest.raises(InvalidInputError, match="pas unique") as caught:
        store.diff(KEY, 0, 1, primary_key=["id"])
    assert "sans clé" in (caught.value.hint or "")


def test_diff_with_odd_column_names(store: LocalDeltaStore) -> None:
    old = pa.table({'clé "primaire"': [1, 2], "k0": ["a", "b"], "kind": ["x", "y"]})
    new = pa.table({'clé "primaire"': [2, 3], "k0": ["B", "c"], "kind": ["y", "z"]})
    put(store, old, "u-0")
    put(store, new, "u-1")
    diff = store.diff(KEY, 0, 1, primary_key=['clé "primaire"'])
    assert (diff.added, diff.removed, diff.changed) == (1, 1, 1)
    assert diff.sample_changed.to_pylist() == [{'clé "primaire"': 2, "k0": "B", "kind": "y"}]


# -- locks ----------------------------------------------------------------------------------


def slow_batches(tag: str, log: list[tuple[str, str]], n: int = 5) -> Iterator[pa.RecordBatch]:
    """Batches that take a while, recording when the writer starts and stops pulling them."""
    log.append((tag, "start"))
    for i in range(n):
        time.sleep(0.02)
        yield pa.record_batch({"id": [i], "name": [tag]})
    log.append((tag, "end"))


def test_writers_of_one_dataset_take_turns(store: LocalDeltaStore) -> None:
    put(store, BASE, "u-0")
    log: list[tuple[str, str]] = []
    errors: list[BaseException] = []

    def writer(tag: str) -> None:
        try:
            store.write(KEY, slow_batches(tag, log), BASE.schema, upload_id=tag, mode="append")
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(f"t{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    listed = store.versions(KEY)
    assert sorted(v.upload_id for v in listed[1:]) == ["t0", "t1", "t2", "t3"]
    assert [v.rows for v in listed] == [4, 9, 14, 19, 24]
    assert store.read(KEY, 4).num_rows == 24
    # Each writer streamed its batches alone: start/end pairs never interleave.
    assert all(log[i][0] == log[i + 1][0] for i in range(0, len(log), 2)), log


def test_different_datasets_are_written_in_parallel(store: LocalDeltaStore) -> None:
    log: list[tuple[str, str]] = []
    threads = [
        threading.Thread(
            target=lambda k=key: store.write(
                k, slow_batches(k, log, n=15), BASE.schema, upload_id=k
            )
        )
        for key in ("ds-a", "ds-b")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [event for _, event in log][:2] == ["start", "start"], log
    assert store.versions("ds-a")[0].rows == store.versions("ds-b")[0].rows == 15


PROCESS_WRITER = """
import sys, time
import pyarrow as pa
from pathlib import Path
from beffroi.store.local import LocalDeltaStore

root, tag = Path(sys.argv[1]), sys.argv[2]
def batches():
    for i in range(20):
        time.sleep(0.01)
        yield pa.record_batch({"id": [i], "name": [tag]})
schema = pa.schema([("id", pa.int64()), ("name", pa.string())])
print(LocalDeltaStore(root).write("ds-1", batches(), schema, upload_id=tag, mode="append").version)
"""


def test_writer_processes_take_turns(store: LocalDeltaStore) -> None:
    put(store, BASE, "u-0")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", PROCESS_WRITER, str(store.root), f"p{i}"],
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(3)
    ]
    versions = sorted(int(proc.communicate(timeout=120)[0]) for proc in procs)
    assert [proc.returncode for proc in procs] == [0, 0, 0]
    assert versions == [1, 2, 3]
    assert [v.rows for v in store.versions(KEY)] == [4, 24, 44, 64]
    assert sorted(v.upload_id for v in store.versions(KEY)) == ["p0", "p1", "p2", "u-0"]


# -- cleanup --------------------------------------------------------------------------------


def test_cleanup_removes_only_unreferenced_files(store: LocalDeltaStore) -> None:
    for i in range(3):  # replaced versions: their files are "removed" but still needed
        put(store, pa.table({"id": [i], "name": [str(i)]}), f"u-{i}")
    assert store.cleanup(KEY) == 0
    table_dir = store.table_path(KEY)
    some = sorted(table_dir.glob("*.parquet"))[0]
    leftovers = [
        table_dir / "part-00000-0a1b2c3d-orphan-c000.parquet",
        table_dir / "part-00001-0a1b2c3d-orphan-c000.parquet#1",
        table_dir / "_delta_log" / "00000000000000000003.json#1",
        table_dir / "_delta_log" / "_commit_0a1b2c3d.json.tmp",
    ]
    for leftover in leftovers:
        shutil.copyfile(some, leftover)
    keep = table_dir / "_delta_log" / "notes.txt"  # unknown files are left alone
    keep.write_text("x")
    before = data_files(store)
    assert store.cleanup(KEY) == 4
    assert not any(p.exists() for p in leftovers)
    assert keep.exists()
    assert data_files(store) == before - {leftovers[0].name, leftovers[1].name}
    assert {p.name for p in table_dir.glob("*.parquet")} == referenced(store)
    for i in range(3):
        assert store.read(KEY, i).column("id").to_pylist() == [i]
    assert [v.version for v in store.versions(KEY)] == [0, 1, 2]  # cleanup commits nothing


def test_the_next_write_removes_a_dead_writers_leftovers(store: LocalDeltaStore) -> None:
    put(store, BASE, "u-0")
    table_dir = store.table_path(KEY)
    stranded = table_dir / "part-00000-dead-c000.parquet"
    staging = table_dir / "_delta_log" / "00000000000000000001.json#1"
    shutil.copyfile(next(table_dir.glob("*.parquet")), stranded)
    staging.write_text('{"commitInfo":')  # cut short by the kill
    assert put(store, BASE, "u-1", mode="append") == 1
    assert not stranded.exists()
    assert not staging.exists()
    assert {p.name for p in table_dir.glob("*.parquet")} == referenced(store)


def test_cleanup_drops_a_table_that_never_committed(store: LocalDeltaStore) -> None:
    put(store, BASE, "u-0", key="ds-ok")
    shell = store.table_path("ds-dead")
    (shell / "_delta_log").mkdir(parents=True)
    orphan = next(store.table_path("ds-ok").glob("*.parquet"))
    shutil.copyfile(orphan, shell / "part-00000-dead-c000.parquet")
    (shell / "_delta_log" / "00000000000000000000.json#1").write_text('{"commitInfo"')
    assert store.cleanup() == 2
    assert not shell.exists()
    assert store.versions("ds-dead") == []
    assert same(store.read("ds-ok", 0), BASE)


def test_cleanup_keeps_files_only_a_checkpoint_mentions(store: LocalDeltaStore) -> None:
    put(store, BASE, "u-0")
    put(store, BASE, "u-1", mode="append")
    table = DeltaTable(store.table_uri(KEY))
    table.create_checkpoint()
    # As if another tool had expired the JSON commits (the checkpoint then lists the files).
    for log in sorted((store.table_path(KEY) / "_delta_log").glob("*.json"))[:-1]:
        log.unlink()
    assert store.cleanup(KEY) == 0
    assert store.read(KEY, 1).num_rows == 8


def test_cleanup_sweep_skips_a_table_being_written(store: LocalDeltaStore) -> None:
    put(store, BASE, "u-0")
    orphan = store.table_path(KEY) / "part-00000-busy-c000.parquet"
    shutil.copyfile(next(store.table_path(KEY).glob("*.parquet")), orphan)
    with store.lock(KEY) as held:
        assert held
        assert store.cleanup() == 0  # a writer may be producing that file right now
        assert orphan.exists()
    assert store.cleanup() == 1
    assert not orphan.exists()


def test_cleanup_of_an_empty_root(tmp_path: Path) -> None:
    assert LocalDeltaStore(tmp_path / "nothing-yet").cleanup() == 0
    assert LocalDeltaStore(tmp_path / "nothing-yet").cleanup(KEY) == 0


# -- DuckDB ----------------------------------------------------------------------------------


def test_duckdb_loads_the_delta_extension_from_its_wheel(store: LocalDeltaStore) -> None:
    put(store, BASE, "u-0")
    put(store, BASE, "u-1", mode="append")
    path = duck.extension_path("delta")
    assert path.name == "delta.duckdb_extension"
    assert "duckdb_extension_delta" in path.parts
    with duck.connect() as con:
        settings = con.execute(
            "SELECT current_setting('autoinstall_known_extensions'), "
            "current_setting('autoload_known_extensions')"
        ).fetchall()
        assert settings == [(False, False)]
        scan = f"SELECT count(*) FROM delta_scan('{store.table_uri(KEY)}'"  # noqa: S608
        assert con.execute(scan + ")").fetchall() == [(8,)]
        assert con.execute(scan + ", version => 0)").fetchall() == [(4,)]


def test_a_missing_extension_says_how_to_install_it() -> None:
    with pytest.raises(ConfigurationError, match="absente") as caught:
        duck.extension_path("no_such_extension")
    assert "pip install duckdb-extension-no_such_extension==" in (caught.value.hint or "")


# -- memory ---------------------------------------------------------------------------------

MEMORY_WRITER = """
import json, sys
import pyarrow as pa, pyarrow.compute as pc
from pathlib import Path
from beffroi.store.local import LocalDeltaStore

ROWS, BATCH = 2_000_000, 50_000
schema = pa.schema(
    [(f"i{k}", pa.int64()) for k in range(4)]
    + [(f"f{k}", pa.float64()) for k in range(3)]
    + [(f"s{k}", pa.string()) for k in range(3)]
)
base = pa.array(range(BATCH), pa.int64())

def batches():
    global volume
    for offset in range(0, ROWS, BATCH):
        ids = pc.add(base, offset)
        text = pc.cast(ids, pa.string())
        batch = pa.record_batch(
            [pc.multiply(ids, k + 1) for k in range(4)]
            + [pc.random(BATCH) for _ in range(3)]
            + [pc.utf8_lpad(text, 40 + 8 * k, "abcdefghij"[k]) for k in range(3)],
            schema=schema,
        )
        volume += batch.nbytes
        yield batch

volume = 0

def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) // 1024

store = LocalDeltaStore(Path(sys.argv[1]))
next(batches())  # warm up: allocators, compute kernels
volume = 0
before = status("VmRSS:")
stored = store.write("ds-big", batches(), schema, upload_id="big")
peak = status("VmHWM:")
print(json.dumps({"before": before, "peak": peak, "rows": stored.rows, "mb": volume >> 20}))
"""


@pytest.mark.slow
def test_writing_two_million_rows_keeps_memory_bounded(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", MEMORY_WRITER, str(tmp_path / "tables")],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    measure = json.loads(done.stdout)
    assert measure["rows"] == 2_000_000
    assert measure["mb"] > 400  # the rows take ~400 MB in Arrow form: they cannot all stay
    assert measure["peak"] - measure["before"] < 300, measure
