"""What `beffroi ingest` pays for: no validation engine (DuckDB) unless a schema applies, no
checksum library, no API schemas (pydantic models, e-mail checks)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import SHARED_DATA
from tests.functional.conftest import DemoInstance

VALID = SHARED_DATA / "schemas" / "scdl-subventions" / "examples" / "exemple_valide.csv"
DATASET = "stationnement-cyclable"  # published by direction-mobilites in the demo
SCHEMA = SHARED_DATA / "schemas" / "scdl-subventions" / "schema.json"

_RUN = """
import json, sys
from beffroi.cli import cli
try:
    cli.main(sys.argv[1:], standalone_mode=False)
finally:
    print(json.dumps(sorted(m for m in ("duckdb", "beffroi.validate", "stdnum",
                                          "beffroi.catalog.schemas", "email_validator")
                            if m in sys.modules)))
"""


def _ingest(demo: DemoInstance, *extra: str) -> list[str]:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            _RUN,
            "--data-dir",
            str(demo.settings.data_dir),
            "ingest",
            str(VALID),
            "--dataset",
            DATASET,
            *extra,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    loaded: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


def test_an_ingestion_without_schema_loads_no_validation(demo_instance: DemoInstance) -> None:
    assert _ingest(demo_instance) == []


def test_an_ingestion_with_a_schema_still_validates(demo_instance: DemoInstance) -> None:
    assert Path(SCHEMA).exists()
    assert "beffroi.validate" in _ingest(demo_instance, "--schema", str(SCHEMA))
