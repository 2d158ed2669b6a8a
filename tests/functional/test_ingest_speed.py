"""What `beffroi ingest` pays for: no validation engine (DuckDB) unless a schema applies, no
checksum library, no API schemas (pydantic models, e-mail checks)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import SHARED_DATA
from tests.functional.conftest import DemoInstance

VALID = SHARED_DATA / "schemas" / "scdl-subventions" / "examples" / "exemple_valide.csv"
DATASET = "stationnement-cyclable"  # published by direction-mobilites in the demo
SCHEMA = SHARED_DATA / "schemas" / "scdl-subventions" / "schema.json"

# What each process of the command imported: the command itself, and the catalogue process
# it forks (beffroi.ingest.catalogue), where the conformance check runs.
_RUN = """
import json, os, sys
import beffroi.ingest.catalogue as catalogue
WATCHED = ("duckdb", "beffroi.validate", "stdnum", "beffroi.catalog.schemas", "email_validator")
def dump(where):
    with open(os.environ["BEFFROI_TEST_MODULES"], "a") as out:
        loaded = sorted(m for m in WATCHED if m in sys.modules)
        out.write(json.dumps({"where": where, "pid": os.getpid(), "modules": loaded}) + "\\n")
record = catalogue.LocalCatalogue.record
def spy(self, written):
    try:
        return record(self, written)
    finally:
        dump("catalogue")
catalogue.LocalCatalogue.record = spy
from beffroi.cli import cli
try:
    cli.main(sys.argv[1:], standalone_mode=False)
finally:
    dump("command")
"""


def _ingest(demo: DemoInstance, *extra: str) -> list[str]:
    report = demo.settings.data_dir.parent / "modules.jsonl"
    report.unlink(missing_ok=True)
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
        env={**os.environ, "BEFFROI_TEST_MODULES": str(report)},
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in report.read_text().splitlines()]
    by_place = {line["where"]: line for line in lines}
    # The catalogue side ran in a process of its own (the command forked it).
    assert by_place["catalogue"]["pid"] != by_place["command"]["pid"]
    return sorted({m for line in lines for m in line["modules"]})


def test_an_ingestion_without_schema_loads_no_validation(demo_instance: DemoInstance) -> None:
    assert _ingest(demo_instance) == []


def test_an_ingestion_with_a_schema_still_validates(demo_instance: DemoInstance) -> None:
    assert Path(SCHEMA).exists()
    assert "beffroi.validate" in _ingest(demo_instance, "--schema", str(SCHEMA))
