"""Invalid rows as CSV (CLI, ``POST /api/v1/validate?invalid_rows=csv``, a version's
``invalid-rows.csv``) and the HTML report page of a version (``…/versions/{n}/rapport``)."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

from click.testing import CliRunner
from fastapi.testclient import TestClient

from beffroi.cli import cli
from tests.functional.conftest import DemoInstance, bearer
from tests.functional.test_validate import DATASET, EDITOR, INVALID, SCHEMA, VALID, _bind, _upload

HTML = {"Accept": "text/html"}


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def _expected(report: dict[str, object]) -> dict[int, list[str]]:
    """Row number → « code (field) » of each of its errors, from the JSON report."""
    found: dict[int, list[str]] = {}
    for error in report["errors"]:  # type: ignore[attr-defined]
        if error.get("rowNumber") is not None:
            field = error.get("fieldName")
            label = error["type"] + (f" ({field})" if field else "")
            found.setdefault(error["rowNumber"], []).append(label)
    return found


def _json_report(runner: CliRunner, path: Path) -> dict[str, object]:
    result = runner.invoke(
        cli, ["validate", str(path), "--schema", str(SCHEMA), "--format", "json"]
    )
    assert result.exit_code == 1, result.output
    report: dict[str, object] = json.loads(result.output)
    return report


def test_cli_writes_the_invalid_rows(tmp_path: Path) -> None:
    runner = CliRunner()
    target = tmp_path / "erreurs.csv"
    result = runner.invoke(
        cli, ["validate", str(INVALID), "--schema", str(SCHEMA), "--invalid-rows", str(target)]
    )
    assert result.exit_code == 1, result.output
    assert target.exists(), result.output[:3000]
    text = target.read_text("utf-8")
    assert not text.startswith("\ufeff")
    rows = _rows(text)
    expected = _expected(_json_report(runner, INVALID))
    assert [int(row["ligne"]) for row in rows] == sorted(expected)
    for row in rows:
        assert row["erreurs"].split(" ; ") == expected[int(row["ligne"])]
    # The cells as written in the file: the line of row 5 (its header is row 1).
    lines = INVALID.read_text("utf-8").splitlines()
    header = next(csv.reader([lines[0]]))
    assert list(rows[0])[1 : len(header) + 1] == header
    fifth = next(row for row in rows if row["ligne"] == "5")
    assert [fifth[name] for name in header] == next(csv.reader([lines[4]]))
    assert fifth["dateConvention"] == "05/12/2016"

    with_bom = tmp_path / "excel.csv"
    runner.invoke(
        cli,
        [
            *("validate", str(INVALID), "--schema", str(SCHEMA)),
            *("--invalid-rows", str(with_bom), "--bom"),
        ],
    )
    assert with_bom.read_bytes().startswith(b"\xef\xbb\xbfligne,")


def test_cli_invalid_rows_of_a_valid_file(tmp_path: Path) -> None:
    target = tmp_path / "erreurs.csv"
    result = CliRunner().invoke(
        cli, ["validate", str(VALID), "--schema", str(SCHEMA), "--invalid-rows", str(target)]
    )
    assert result.exit_code == 0, result.output
    assert _rows(target.read_text("utf-8")) == []
    assert target.read_text("utf-8").startswith("ligne,")


def test_cli_rows_failing_only_as_a_whole(tmp_path: Path) -> None:
    """Rows whose cells are fine but which repeat a key are exported too."""
    source = tmp_path / "cles.csv"
    source.write_text("id,nom\n1,a\n2,b\n1,c\n3,\n", encoding="utf-8")
    schema = tmp_path / "schema.json"
    schema.write_text(
        json.dumps(
            {
                "fields": [
                    {"name": "id", "type": "integer", "constraints": {"unique": True}},
                    {"name": "nom", "type": "string", "constraints": {"required": True}},
                ],
                "primaryKey": ["id"],
            }
        ),
        encoding="utf-8",
    )
    target = tmp_path / "erreurs.csv"
    result = CliRunner().invoke(
        cli, ["validate", str(source), "--schema", str(schema), "--invalid-rows", str(target)]
    )
    assert result.exit_code == 1, result.output
    rows = _rows(target.read_text("utf-8"))
    assert [(row["ligne"], row["id"], row["nom"]) for row in rows] == [
        ("4", "1", "c"),
        ("5", "3", ""),
    ]
    assert rows[0]["erreurs"] == "unique-error (id) ; primary-key (id)"
    assert rows[1]["erreurs"] == "constraint-error (nom)"


def test_api_validate_answers_the_invalid_rows(client: TestClient) -> None:
    with INVALID.open("rb") as handle:
        report = client.post(
            "/api/v1/validate",
            files={"file": ("subventions.csv", handle, "text/csv")},
            data={"schema_json": SCHEMA.read_text("utf-8")},
        ).json()
    with INVALID.open("rb") as handle:
        response = client.post(
            "/api/v1/validate?invalid_rows=csv&bom=true",
            files={"file": ("subventions 2024.csv", handle, "text/csv")},
            data={"schema_json": SCHEMA.read_text("utf-8")},
        )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "subventions_2024-lignes-en-erreur.csv" in response.headers["content-disposition"]
    assert response.headers["x-validation-valid"] == "false"
    assert int(response.headers["x-validation-errors"]) == report["stats"]["errors"]
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = _rows(response.content.decode("utf-8-sig"))
    expected = _expected(report)
    assert {int(row["ligne"]): row["erreurs"].split(" ; ") for row in rows} == expected


def test_version_report_page_and_invalid_rows(
    client: TestClient, demo_instance: DemoInstance
) -> None:
    headers = bearer(client, EDITOR)
    _bind(client, headers, "flag", demo_instance.settings.data_dir)
    assert _upload(client, INVALID, headers)["status"] == "succeeded"
    base = f"/jeux-de-donnees/{DATASET}/versions/1/rapport"

    page = client.get(base, headers={**headers, **HTML})
    assert page.status_code == 200, page.text
    html = page.text
    assert "Fichier non conforme" in html
    assert "Erreurs par colonne" in html
    assert "dateConvention" in html
    assert "05/12/2016" in html  # an editor sees the cells
    assert "Écrivez la date au format AAAA-MM-JJ" in html  # the catalogue's hint
    assert '<svg role="img"' in html
    assert f'href="{base}.csv"' in html
    english = client.get(f"{base}?lang=en", headers={**headers, **HTML})
    assert "Validation report" in english.text
    dataset_page = client.get(
        f"/jeux-de-donnees/{DATASET}?lang=fr", headers={**headers, **HTML}
    ).text
    assert re.search(rf'<a href="{base}" class="badge badge-restricted">non conforme', dataset_page)
    assert "Errors by column" in english.text

    # The version is not published: hidden from visitors, like the version itself.
    assert client.get(base, headers=HTML).status_code == 404
    assert client.get(f"{base}.csv").status_code == 404
    api = f"/api/v1/datasets/{DATASET}/versions/1/invalid-rows.csv"
    assert client.get(api).status_code == 404

    report = client.get(
        f"/api/v1/datasets/{DATASET}/versions/1/conformance", headers=headers
    ).json()
    assert "invalidRows" not in report["report"]
    runner = CliRunner()
    expected = _expected(_json_report(runner, INVALID))
    for url in (f"{base}.csv", api):
        response = client.get(url, headers=headers)
        assert response.status_code == 200, response.text
        assert response.headers["x-invalid-rows-truncated"] == "false"
        rows = _rows(response.text)
        assert {int(row["ligne"]): row["erreurs"].split(" ; ") for row in rows} == expected
    excel = client.get(f"{api}?bom=true", headers=headers)
    assert excel.content.startswith(b"\xef\xbb\xbfligne,")


def test_report_page_of_a_valid_version(client: TestClient, demo_instance: DemoInstance) -> None:
    headers = bearer(client, EDITOR)
    _bind(client, headers, "flag", demo_instance.settings.data_dir)
    assert _upload(client, VALID, headers)["status"] == "succeeded"
    page = client.get(f"/jeux-de-donnees/{DATASET}/versions/1/rapport", headers={**headers, **HTML})
    assert page.status_code == 200
    assert "Fichier conforme" in page.text
    assert "rapport.csv" not in page.text
    rows = client.get(f"/api/v1/datasets/{DATASET}/versions/1/invalid-rows.csv", headers=headers)
    assert rows.status_code == 200
    assert _rows(rows.text) == []
    missing = client.get(f"/jeux-de-donnees/{DATASET}/versions/9/rapport", headers=HTML)
    assert missing.status_code == 404


def test_visitors_see_a_published_report_without_the_cells(
    client: TestClient, demo_instance: DemoInstance
) -> None:
    headers = bearer(client, EDITOR)
    _bind(client, headers, "flag", demo_instance.settings.data_dir)
    assert _upload(client, INVALID, headers)["status"] == "succeeded"
    published = client.post(f"/api/v1/datasets/{DATASET}/versions/1/publish", headers=headers)
    assert published.status_code == 200, published.text
    base = f"/jeux-de-donnees/{DATASET}/versions/1/rapport"
    page = client.get(base, headers=HTML)
    assert page.status_code == 200, page.text
    assert "Fichier non conforme" in page.text
    assert "dateConvention" in page.text  # counts per column: no data
    assert "05/12/2016" not in page.text  # the cells: editors only
    assert "réservées aux éditeurs" in page.text
    assert f"{base}.csv" not in page.text
    viewer = bearer(client, "lecteur-eau")  # signed in, no right on the dataset
    assert "05/12/2016" not in client.get(base, headers={**viewer, **HTML}).text
    for url in (f"{base}.csv", f"/api/v1/datasets/{DATASET}/versions/1/invalid-rows.csv"):
        assert client.get(url).status_code == 401
        assert client.get(url, headers=viewer).status_code == 403
