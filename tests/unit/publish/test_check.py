"""data.gouv.fr readiness: each criterion, the public-only scope, and ``beffroi publish check``."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy.orm import Session

from beffroi.access import Actor
from beffroi.catalog.demo import DemoReport
from beffroi.catalog.models import VersionConformance
from beffroi.cli import cli
from beffroi.publish.check import check_dataset, check_public
from tests.conftest import SHARED_DATA
from tests.factories import make_dataset
from tests.unit.publish.conftest import full_dataset


def statuses(result: object) -> dict[str, str]:
    return {c.code: c.status for c in result.checks}  # type: ignore[attr-defined]


def test_a_complete_fresh_dataset_is_ready(session: Session, system: Actor) -> None:
    dataset = full_dataset(session, system, description="x" * 150, schema_ref=None)
    result = check_dataset(dataset)
    assert result.ready
    assert set(statuses(result).values()) == {"ok"}


def test_a_bare_record_lists_every_problem(session: Session, system: Actor) -> None:
    dataset = make_dataset(session, system, description="")
    result = check_dataset(dataset)
    assert not result.ready
    assert statuses(result) == {
        "description": "error",
        "license": "ok",
        "frequency": "error",
        "spatial": "warning",
        "granularity": "error",
        "temporal": "error",
        "open-format": "error",
        "schema": "ok",
    }
    hints = [c.hint for c in result.problems]
    assert all(hints), "every problem says how to fix it"


def test_frequency_respected_then_late(session: Session, system: Actor) -> None:
    dataset = full_dataset(session, system, frequency="MONTHLY")
    published = dataset.published_version.published_at  # type: ignore[union-attr]
    assert statuses(check_dataset(dataset, published + dt.timedelta(days=20)))["frequency"] == "ok"
    late = check_dataset(dataset, published + dt.timedelta(days=45))
    [frequency] = [c for c in late.checks if c.code == "frequency"]
    assert frequency.status == "error"
    assert "en retard de 14 jour(s)" in frequency.message
    irregular = full_dataset(session, system, frequency="IRREG")
    never = check_dataset(irregular, published + dt.timedelta(days=3650))
    assert statuses(never)["frequency"] == "ok"


def test_closed_licence_short_description_and_schema_unknown(
    session: Session, system: Actor
) -> None:
    dataset = full_dataset(session, system, license="other-closed", description="Court.")
    result = statuses(check_dataset(dataset))
    assert result["license"] == "error"
    assert result["description"] == "warning"
    assert result["schema"] == "unknown"  # declared, no validation result yet
    bare_name = full_dataset(session, system, schema_ref="arbres")
    assert statuses(check_dataset(bare_name))["schema"] == "warning"


def test_only_public_datasets_are_checked(session: Session, demo: DemoReport) -> None:
    slugs = {r.slug for r in check_public(session)}
    assert slugs == {
        "subventions-associations",
        "bornes-recharge-vehicules-electriques",
        "stationnement-cyclable",
        "arbres-alignement",
    }


def test_cli_publish_check(tmp_path: Path) -> None:
    runner = CliRunner()
    data_dir = str(tmp_path / "instance")
    for command in (["init"], ["demo"]):
        assert runner.invoke(cli, ["--data-dir", data_dir, *command]).exit_code == 0
    shown = runner.invoke(cli, ["--data-dir", data_dir, "publish", "check"])
    assert shown.exit_code == 0, shown.output
    assert "subventions-associations" in shown.output
    assert "temporal" in shown.output  # criterion codes (messages wrap in narrow terminals)
    assert "granularity" not in shown.output  # the demo sets it: not a problem
    as_json = runner.invoke(cli, ["--data-dir", data_dir, "publish", "check", "--json"])
    rows = [json.loads(line) for line in as_json.output.splitlines()]
    ready = sum(r["ready"] for r in rows)
    assert f"{ready} jeu(x) prêt(s) sur {len(rows)} jeu(x) public(s)." in shown.output
    assert len(rows) >= 4
    assert {r["slug"] for r in rows} >= {"arbres-alignement"}
    arbres = next(r for r in rows if r["slug"] == "arbres-alignement")
    checks = {c["code"]: c["status"] for c in arbres["checks"]}
    assert checks["temporal"] == "error"
    assert checks["open-format"] == "error"
    strict = runner.invoke(cli, ["--data-dir", data_dir, "publish", "check", "--strict"])
    assert strict.exit_code == 1


def test_cli_publish_check_one_dataset(tmp_path: Path) -> None:
    runner = CliRunner()
    data_dir = str(tmp_path / "instance")
    for command in (["init"], ["demo"]):
        assert runner.invoke(cli, ["--data-dir", data_dir, *command]).exit_code == 0
    one = runner.invoke(
        cli,
        ["--data-dir", data_dir, "publish", "check", "--json", "--dataset", "arbres-alignement"],
    )
    assert one.exit_code == 0, one.output
    assert [json.loads(line)["slug"] for line in one.output.splitlines()] == ["arbres-alignement"]
    hidden = runner.invoke(
        cli,
        ["--data-dir", data_dir, "publish", "check", "--dataset", "budget-primitif-agglomeration"],
    )
    assert hidden.exit_code == 1
    assert "introuvable" in hidden.output


SUBVENTIONS = SHARED_DATA / "schemas" / "scdl-subventions"


def test_schema_conformity_from_recorded_validation(tmp_path: Path) -> None:
    """A dataset bound to its schema: the published version's recorded verdict decides."""
    runner = CliRunner()
    data_dir = str(tmp_path / "instance")
    slug = "subventions-associations"

    def run(*args: str) -> str:
        result = runner.invoke(cli, ["--data-dir", data_dir, *args])
        assert result.exit_code == 0, result.output
        return result.output

    def schema_check() -> dict[str, str]:
        [row] = [json.loads(line) for line in run("publish", "check", "--json", "--dataset", slug)
                 .splitlines()]  # fmt: skip
        [check] = [c for c in row["checks"] if c["code"] == "schema"]
        return check

    run("init")
    run("demo")
    assert schema_check()["status"] == "unknown"  # declared, nothing validated yet
    run("conformance", "set", slug, "--schema", str(SUBVENTIONS / "schema.json"))
    run("ingest", str(SUBVENTIONS / "examples" / "exemple_valide.csv"), "--dataset", slug,
        "--publish")  # fmt: skip
    assert schema_check()["status"] == "ok"
    invalid = SUBVENTIONS / "examples" / "exemple_invalide_erreurs_cellules.csv"
    run("ingest", str(invalid), "--dataset", slug, "--publish")  # kept, flagged
    check = schema_check()
    assert check["status"] == "error", check
    assert "non conforme" in check["message"]


def test_every_check_speaks_english(session: Session, system: Actor) -> None:
    """Each branch of each criterion has an English finding, and a hint when the French has one."""
    published = full_dataset(session, system, description="x" * 150, frequency="MONTHLY")
    when = published.published_version.published_at  # type: ignore[union-attr]
    assert when is not None
    bare = make_dataset(session, system, description="")
    bare.license = ""  # a record from before the licence was required (the service refuses it)
    scenarios = [
        check_dataset(bare),
        check_dataset(full_dataset(session, system, license="other-closed", description="Court.")),
        check_dataset(full_dataset(session, system, license="https://example.org/ma-licence")),
        check_dataset(full_dataset(session, system, frequency="IRREG", schema_ref="arbres")),
        check_dataset(make_dataset(session, system, frequency="ANNUAL")),  # nothing published
        check_dataset(published, when + dt.timedelta(days=20)),
        check_dataset(published, when + dt.timedelta(days=45)),  # late
    ]
    version_id = published.published_version_id
    assert version_id is not None
    for valid, errors in ((True, 0), (False, 3)):
        verdict = VersionConformance(
            version_id=version_id, schema_ref="scdl/subventions", valid=valid, rows=10,
            error_count=errors,
        )  # fmt: skip
        scenarios.append(check_dataset(published, when, verdict))
    checks = [c for result in scenarios for c in result.checks]
    french = {(c.code, c.status, c.message) for c in checks}
    english = {(c.code, c.status, c.message_en) for c in checks}
    assert len(english) == len(french)  # one English finding per French one
    reached = {(c.code, c.status) for c in checks}
    assert reached == {
        ("description", "error"), ("description", "warning"), ("description", "ok"),
        ("license", "error"), ("license", "warning"), ("license", "ok"),
        ("frequency", "error"), ("frequency", "unknown"), ("frequency", "ok"),
        ("spatial", "warning"), ("spatial", "ok"), ("granularity", "error"), ("granularity", "ok"),
        ("temporal", "error"), ("temporal", "ok"), ("open-format", "error"), ("open-format", "ok"),
        ("schema", "error"), ("schema", "warning"), ("schema", "unknown"), ("schema", "ok"),
    }  # fmt: skip
    for check in checks:
        assert check.message_en, check
        assert bool(check.hint_en) == bool(check.hint), check
        if check.code != "license" or check.status != "ok":  # a licence's own name stays
            assert check.message_en != check.message, check
        assert check.localized("en") == (check.message_en, check.hint_en)
        assert check.localized("fr") == (check.message, check.hint)
    late = next(c for c in scenarios[6].checks if c.code == "frequency")
    assert "14 day(s) late" in late.message_en
    non_conform = next(c for c in scenarios[-1].checks if c.code == "schema")
    assert non_conform.message_en.endswith("3 error(s)")


def test_cli_publish_check_in_english(tmp_path: Path) -> None:
    runner = CliRunner()
    data_dir = str(tmp_path / "instance")
    for command in (["init"], ["demo"]):
        assert runner.invoke(cli, ["--data-dir", data_dir, *command]).exit_code == 0
    shown = runner.invoke(
        cli,
        ["--data-dir", data_dir, "--lang", "en", "publish", "check", "--all"],
        env={"COLUMNS": "300"},  # wide enough for the messages not to wrap
    )
    assert shown.exit_code == 0, shown.output
    assert "public dataset(s)." in shown.output
    assert "Temporal coverage not given" in shown.output
    assert "how to fix" in shown.output
    assert "jeu(x)" not in shown.output
    as_json = runner.invoke(
        cli,
        ["--data-dir", data_dir, "publish", "check", "--json", "--dataset", "arbres-alignement"],
    )
    [row] = [json.loads(line) for line in as_json.output.splitlines()]
    temporal = next(c for c in row["checks"] if c["code"] == "temporal")
    assert temporal["message"] == "Couverture temporelle non renseignée"
    assert temporal["message_en"] == "Temporal coverage not given"
    assert temporal["hint_en"].startswith("give the period covered")
