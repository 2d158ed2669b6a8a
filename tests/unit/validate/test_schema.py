"""Schema loading (path, JSON, registry with versions, URL refused when unreachable) and the
error catalogue."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from beffroi.docs import errors_markdown
from beffroi.errors import InvalidInputError
from beffroi.validate import load_schema, parse_schema
from beffroi.validate.catalogue import ERRORS
from beffroi.validate.registry import Registry
from beffroi.validate.service import web_schema
from tests.conftest import SHARED_DATA

SCHEMAS = SHARED_DATA / "schemas"


def test_every_shared_table_schema_loads() -> None:
    loaded = 0
    for path in SCHEMAS.rglob("*.json"):
        if "examples" in path.parts or path.parent.name == "_catalog":
            continue
        descriptor = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(descriptor, dict) and "fields" in descriptor:
            schema = load_schema(path)
            assert schema.fields
            loaded += 1
    assert loaded >= 20


def test_json_schemas_are_refused_with_a_hint() -> None:
    with pytest.raises(InvalidInputError) as caught:
        load_schema(SCHEMAS / "zfe" / "schema.json")
    assert "JSON Schema" in caught.value.message
    assert caught.value.hint


def test_lenient_loading() -> None:
    schema = parse_schema(
        {
            "name": "Pas Un Slug",
            "fields": [
                {"name": "d", "type": "date", "constraints": {"pattern": "\\d{4}"}},
                {"name": "x", "type": "chaîne"},
                {"name": "n", "type": "integer", "constraints": {"minLength": 2}},
            ],
            "primaryKey": "inconnu",
        }
    )
    assert [f.type for f in schema.fields] == ["date", "any", "integer"]
    assert "pattern" in schema.fields[0].constraints
    assert "minLength" not in schema.fields[2].constraints
    assert schema.primary_key == []
    assert len(schema.warnings) == 5


def test_bad_schemas() -> None:
    for descriptor in ([], {"fields": "a"}, {"fields": [{"type": "string"}]}):
        with pytest.raises(InvalidInputError):
            parse_schema(descriptor)
    with pytest.raises(InvalidInputError) as caught:
        load_schema("nulle-part/schema-inexistant")
    assert "registre" in (caught.value.hint or "")


def test_registry_sync_versions_and_offline_use(tmp_path: Path) -> None:
    registry = Registry(tmp_path)
    known = registry.sync(SCHEMAS / "_catalog" / "schemas.json")
    assert known > 50
    entry = registry.entries()["scdl/subventions"]
    assert "2.1.1" in entry["versions"]
    descriptor = json.loads((SCHEMAS / "scdl-subventions" / "schema.json").read_text("utf-8"))
    registry.add("scdl/subventions", "2.1.1", descriptor)
    schema = registry.resolve("scdl/subventions@2.1.1")
    assert schema is not None
    assert schema.version
    assert registry.resolve("inconnu") is None
    with pytest.raises(InvalidInputError):
        registry.resolve("scdl/subventions@9.9.9")
    assert web_schema("scdl/subventions@2.1.1", None, tmp_path).fields


def test_web_schema_refuses_paths_and_other_hosts(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError):
        web_schema(str(SCHEMAS / "scdl-subventions" / "schema.json"), None, tmp_path)
    with pytest.raises(InvalidInputError):
        web_schema("http://127.0.0.1:8000/schema.json", None, tmp_path)
    with pytest.raises(InvalidInputError):
        web_schema(None, "{pas du json", tmp_path)
    assert web_schema(None, '{"fields": [{"name": "a"}]}', tmp_path).field_names == ["a"]


def test_error_catalogue_is_complete_and_documented() -> None:
    frictionless_codes = {
        "type-error",
        "constraint-error",
        "missing-cell",
        "extra-cell",
        "blank-row",
        "duplicate-row",
        "primary-key",
        "unique-error",
        "foreign-key",
        "missing-label",
        "extra-label",
        "incorrect-label",
        "blank-label",
        "duplicate-label",
    }
    assert frictionless_codes <= set(ERRORS)
    docs = errors_markdown()
    for error in ERRORS.values():
        assert error.title
        assert error.title_en
        assert error.message
        assert error.message_en
        assert error.hint
        assert f"`{error.code}`" in docs
