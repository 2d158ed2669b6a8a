# ruff: noqa: S608, S108 - hostile SQL and /tmp targets are the point of this corpus
"""The sandboxed query databases: what they show, and a corpus of hostile queries (0 escapes).

Every hostile query goes through the real path of the SQL API (:func:`run_sql`: access
layer → locked database → statement check) as an anonymous visitor; the file-reading ones
are also sent straight to the locked database, bypassing the statement check, to prove the
DuckDB sandbox holds on its own.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import select

from beffroi.access import Actor, readable_tables
from beffroi.catalog.models import Dataset
from beffroi.errors import InvalidInputError, UserError
from beffroi.query.engine import QueryEngine, engine_for
from beffroi.query.service import run_sql
from tests.conftest import make_settings
from tests.unit.query.conftest import Instance

ANONYMOUS = Actor.anonymous(surface="api")
OPERATOR = Actor.system(name="test")


def files_of(instance: Instance, slug: str) -> list[Path]:
    with instance.session() as session:
        dataset = session.scalar(select(Dataset).where(Dataset.slug == slug))
        assert dataset is not None
        key = dataset.store_key
    return sorted((instance.paths["tables"] / key).glob("*.parquet"))


def sql(instance: Instance, query: str, actor: Actor = ANONYMOUS) -> list[dict[str, object]]:
    with instance.session() as session:
        return run_sql(session, actor, instance.settings, query).rows


def hostile(instance: Instance) -> list[str]:
    tables = instance.paths["tables"]
    catalog = instance.paths["catalog"]
    secret_files = files_of(instance, "secret")
    staged_files = files_of(instance, "staged")
    assert secret_files
    assert staged_files
    secret_dir = secret_files[0].parent
    return [
        # local files
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_csv_auto('/etc/passwd')",
        "SELECT * FROM '/etc/passwd'",
        "FROM read_text('/etc/passwd')",
        "SELECT content FROM read_blob('/etc/passwd')",
        "SELECT * FROM glob('/etc/*')",
        "SELECT * FROM sniff_csv('/etc/passwd')",
        "WITH x AS (SELECT * FROM read_csv('/etc/passwd')) SELECT * FROM x",
        "SELECT (SELECT count(*) FROM read_text('/etc/passwd'))",
        "SELECT * FROM public WHERE EXISTS (SELECT 1 FROM glob('/etc/*'))",
        "SELECT * FROM public UNION ALL SELECT * FROM read_csv('/etc/passwd')",
        # other datasets' files (not readable by the actor, or never published)
        f"SELECT * FROM read_parquet('{secret_files[0]}')",
        f"SELECT * FROM parquet_scan('{staged_files[0]}')",
        f"SELECT * FROM read_parquet('{secret_dir}/*.parquet')",
        f"SELECT * FROM '{secret_files[0]}'",
        f"SELECT * FROM delta_scan('{secret_dir}')",
        f"SELECT * FROM parquet_metadata('{secret_files[0]}')",
        "SELECT * FROM secret",
        "SELECT * FROM staged",
        'SELECT * FROM "secret"',
        "SELECT * FROM memory.main.secret",
        "SELECT * FROM _rows.public",
        "SELECT * FROM _rows.__beffroi_src_3",
        "SELECT * FROM query_table('secret')",
        "SELECT * FROM query('SELECT * FROM read_csv(''/etc/passwd'')')",
        "SELECT * FROM public AT (VERSION => 0)",
        # the catalogue database
        f"SELECT * FROM sqlite_scan('{catalog}', 'user_account')",
        f"ATTACH '{catalog}' AS cat (TYPE sqlite)",
        f"ATTACH '{catalog}'",
        f"SELECT * FROM read_blob('{catalog}')",
        # network
        "SELECT * FROM read_csv('https://example.org/x.csv')",
        "SELECT * FROM 'http://127.0.0.1:9/x.parquet'",
        "SELECT * FROM read_json('s3://bucket/x.json')",
        # writes and files written
        "COPY public TO '/tmp/beffroi-evil.csv'",
        f"COPY (SELECT 1) TO '{tables}/evil.csv'",
        f"COPY (SELECT 1) TO '{secret_files[0]}'",
        "EXPORT DATABASE '/tmp/beffroi-evil'",
        "CREATE TABLE x AS SELECT 1",
        "CREATE VIEW v AS SELECT 1",
        "CREATE MACRO m() AS 1",
        "INSERT INTO public SELECT * FROM public",
        "UPDATE ref.communes SET name = 'x'",
        "DELETE FROM ref.communes",
        "DROP VIEW public",
        "ALTER VIEW public RENAME TO p",
        # extensions, settings, pragmas, system
        "INSTALL httpfs",
        "LOAD httpfs",
        "LOAD '/tmp/x.duckdb_extension'",
        "SET enable_external_access = true",
        "SET memory_limit = '100GB'",
        "SET allowed_paths = ['/']",
        "RESET lock_configuration",
        "SET VARIABLE x = 1",
        "PRAGMA enable_profiling",
        "PRAGMA version",
        "PRAGMA database_list",
        "CALL pragma_version()",
        "SELECT * FROM duckdb_settings()",
        "SELECT * FROM duckdb_views()",
        "SELECT * FROM duckdb_tables()",
        "SELECT current_setting('allowed_paths')",
        "SELECT getvariable('x')",
        "SELECT * FROM information_schema.tables",
        "SELECT * FROM system.main.duckdb_settings()",
        "SHOW TABLES",
        "SHOW ALL TABLES",
        "DETACH memory",
        "USE system",
        "CHECKPOINT",
        "BEGIN TRANSACTION",
        "EXPLAIN ANALYZE SELECT 1",
        "SELECT 1; SELECT * FROM read_csv('/etc/passwd')",
        "SELECT 1; DROP VIEW public",
        # Python objects by name (replacement scans are off)
        "SELECT * FROM instance",
        "SELECT * FROM os",
    ]


def test_hostile_corpus_zero_escapes(instance: Instance) -> None:
    queries = hostile(instance)
    assert len(queries) >= 70
    escapes = []
    unexplained = []
    for query in queries:
        try:
            rows = sql(instance, query)
        except InvalidInputError as exc:
            # Refused by the statement check itself (field "sql"), with a fix hint.
            if not exc.hint or exc.details.get("errors", [{}])[0].get("field") != "sql":
                unexplained.append(query)
            continue
        escapes.append((query, rows[:2]))
    assert unexplained == []
    assert escapes == []
    assert not Path("/tmp/beffroi-evil.csv").exists()
    assert not (instance.paths["tables"] / "evil.csv").exists()
    # The database is intact afterwards.
    assert sql(instance, "SELECT count(*) AS n FROM public") == [{"n": 95}]


@pytest.mark.parametrize(
    "query",
    [
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_text('{catalog}')",
        "SELECT * FROM read_parquet('{secret}')",
        "SELECT * FROM sqlite_scan('{catalog}', 'user_account')",
        "COPY (SELECT 1) TO '{tables}/evil.csv'",
        "COPY (SELECT 1) TO '{public}'",
        "ATTACH '{catalog}' AS cat",
        "SET enable_external_access = true",
        "SET allowed_paths = ['/']",
        "SET memory_limit = '100GB'",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SELECT * FROM read_csv('https://example.org/x.csv')",
    ],
)
def test_sandbox_holds_without_the_statement_check(instance: Instance, query: str) -> None:
    with instance.session() as session:
        tables = readable_tables(session, ANONYMOUS)
    database = engine_for(instance.settings).database(tables)
    text = query.format(
        catalog=instance.paths["catalog"],
        secret=files_of(instance, "secret")[0],
        public=files_of(instance, "public")[0],
        tables=instance.paths["tables"],
    )
    with pytest.raises(UserError):
        database.rows(text)
    assert not (instance.paths["tables"] / "evil.csv").exists()


def test_views_show_what_the_access_layer_allows(instance: Instance) -> None:
    with instance.session() as session:
        anonymous = readable_tables(session, ANONYMOUS)
        operator = readable_tables(session, OPERATOR)
    assert [t.slug for t in anonymous] == ["irve", "public", "twice"]  # no secret, no staged
    assert [t.slug for t in operator] == ["irve", "public", "secret", "twice"]
    assert sql(instance, "SELECT count(*) AS n FROM twice") == [{"n": 29}]  # published v2
    assert sql(instance, "SELECT count(*) AS n FROM secret", OPERATOR) == [{"n": 29}]
    columns = sql(instance, "SELECT * FROM public LIMIT 1")[0]
    assert "__beffroi_row" not in columns
    assert "montant" in columns
    described = sql(instance, "DESCRIBE public")
    assert "__beffroi_row" not in {row["column_name"] for row in described}


def test_databases_are_cached_by_content_and_limits_applied(instance: Instance) -> None:
    engine = engine_for(instance.settings)
    with instance.session() as session:
        first = engine.database(readable_tables(session, ANONYMOUS))
        again = engine.database(readable_tables(session, Actor.anonymous(surface="web")))
        other = engine.database(readable_tables(session, OPERATOR))
    assert first is again
    assert other is not first
    settings = dict(first.rows("SELECT name, value FROM duckdb_settings()"))
    assert settings["enable_external_access"] == "false"
    assert settings["lock_configuration"] == "true"
    assert settings["threads"] == str(instance.settings.query_threads)
    assert settings["python_enable_replacements"] == "false"
    assert settings["memory_limit"] == "1.0 GiB"  # 1024 MiB


def test_queries_are_interrupted_after_the_time_limit(instance: Instance) -> None:
    settings = make_settings(instance.settings.data_dir, query_timeout_seconds=0.3)
    engine = QueryEngine(settings)
    database = engine.database([])
    started = time.monotonic()
    with pytest.raises(UserError, match="interrompue"):
        database.rows(
            "SELECT count(*) FROM range(100000000000) a, range(10) b WHERE a.range % 7 = b.range"
        )
    assert time.monotonic() - started < 5
    assert database.rows("SELECT 42") == [(42,)]  # the database still answers


def test_bad_queries_are_user_errors(instance: Instance) -> None:
    with pytest.raises(InvalidInputError, match="Requête incorrecte"):
        sql(instance, "SELECT nope FROM public")
    with pytest.raises(InvalidInputError, match="syntaxe"):
        sql(instance, "SELEC 1")
    with pytest.raises(InvalidInputError, match="vide"):
        sql(instance, "   ")


def test_no_file_can_be_written_in_a_temporary_directory(
    instance: Instance, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DuckDB's default spill directory is ``.tmp`` under the working directory, and a
    locked database may still write there: the engine turns spilling off."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".tmp").mkdir()
    database = QueryEngine(instance.settings).database([])
    assert database.rows("SELECT current_setting('temp_directory')") == [("",)]
    with pytest.raises(UserError):
        database.rows("COPY (SELECT 1) TO '.tmp/evil.csv'")
    assert list((tmp_path / ".tmp").iterdir()) == []
