"""The dataset page over a real file: preview (filter, sort, pages), chart, downloads, API."""

from __future__ import annotations

import csv
import html
import io
import re
from collections import Counter, defaultdict
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.functional.conftest import login
from tests.functional.test_records import EXPECTED, PUBLIC, SUBVENTIONS, load

PAGE = f"/jeux-de-donnees/{PUBLIC}"
HTML = {"Accept": "text/html"}
_CELL = re.compile(r"<td[^>]*>(.*?)</td>", re.DOTALL)
_ROW = re.compile(r"<tr>(<td.*?)</tr>", re.DOTALL)


@pytest.fixture
def loaded(client: TestClient) -> TestClient:
    load(client, PUBLIC, SUBVENTIONS)
    return client


def page(client: TestClient, **params: Any) -> str:
    response = client.get(PAGE, params=params, headers=HTML)
    assert response.status_code == 200, response.text
    return response.text


def preview_rows(text: str) -> list[list[str]]:
    """The cells of the preview table, as text."""
    table = text.split('id="apercu-table"', 1)[1].split("</table>", 1)[0]
    return [
        [html.unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in _CELL.findall(row)]
        for row in _ROW.findall(table)
    ]


def header(text: str) -> list[str]:
    table = text.split('id="apercu-table"', 1)[1].split("</thead>", 1)[0]
    return re.findall(r'<th scope="col"[^>]*>([^<]+?) <span', table)


def test_first_page_shows_the_first_rows_and_the_total(loaded: TestClient) -> None:
    text = page(loaded)
    names = header(text)
    assert names == list(EXPECTED[0])
    rows = preview_rows(text)
    assert len(rows) == 20
    beneficiaries = [r[names.index("nomBeneficiaire")] for r in rows]
    assert beneficiaries == [r["nomBeneficiaire"] for r in EXPECTED[:20]]
    assert f"sur {len(EXPECTED)}" in html.unescape(text)


def test_filter_sort_and_follow_the_next_page(loaded: TestClient) -> None:
    target = EXPECTED[0]["nature"]
    expected = sorted(
        (r for r in EXPECTED if r["nature"] == target),
        key=lambda r: -float(r["montant"]),
    )
    seen: list[str] = []
    text = page(
        loaded,
        colonne="nature",
        operateur="eq",
        valeur=target,
        tri="montant",
        ordre="desc",
        lignes="10",
    )
    assert f"sur {len(expected)}" in html.unescape(text)
    for _ in range(20):
        names = header(text)
        seen += [r[names.index("montant")] for r in preview_rows(text)]
        found = re.search(r'<a rel="next" href="\?([^"]+)#apercu"', text)
        if not found:
            break
        response = loaded.get(f"{PAGE}?{html.unescape(found.group(1))}", headers=HTML)
        assert response.status_code == 200
        text = response.text
    assert [float(v) for v in seen] == [float(r["montant"]) for r in expected]
    assert "Première page" in text or len(expected) <= 10


def test_contains_filter_and_search(loaded: TestClient) -> None:
    text = page(loaded, colonne="nomBeneficiaire", operateur="contains", valeur="football")
    expected = [r for r in EXPECTED if "football" in r["nomBeneficiaire"].lower()]
    assert expected
    assert len(preview_rows(text)) == min(len(expected), 20)
    text = page(loaded, q="zzzz-absent")
    assert "Aucune ligne ne correspond." in html.unescape(text)


def test_a_wrong_filter_is_explained_not_a_crash(loaded: TestClient) -> None:
    text = html.unescape(page(loaded, colonne="pas_une_colonne", valeur="x"))
    assert 'role="alert"' in text
    assert "pas_une_colonne" in text
    text = html.unescape(page(loaded, colonne="montant", operateur="gt", valeur="beaucoup"))
    assert 'role="alert"' in text


def test_chart_counts_and_sums_match_the_file(loaded: TestClient) -> None:
    counts = Counter(r["nature"] for r in EXPECTED)
    text = html.unescape(page(loaded, graphique="nature"))
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img"' in text
    assert '<title id="graphique-titre">' in text
    description = re.search(r'<desc id="graphique-desc">(.*?)</desc>', text, re.DOTALL)
    assert description
    for value, n in counts.items():
        assert f"{value} : {n}" in description.group(1)
    sums: dict[str, float] = defaultdict(float)
    for r in EXPECTED:
        sums[r["nomBeneficiaire"]] += float(r["montant"])
    text = html.unescape(page(loaded, graphique="nomBeneficiaire", mesure="montant"))
    table = text.split("Valeurs du graphique (tableau)", 1)[1].split("</table>", 1)[0]
    pairs = re.findall(r'<th scope="row">(.*?)</th><td class="num">(.*?)</td>', table)
    assert len(pairs) == 15
    top = sorted(sums.items(), key=lambda kv: -kv[1])[:15]
    assert [p[0] for p in pairs][:3] == [k for k, _ in top][:3]
    first = float(pairs[0][1].replace("\u202f", "").replace(",", "."))
    assert first == pytest.approx(top[0][1], abs=0.01)


def test_chart_of_a_missing_column_is_explained(loaded: TestClient) -> None:
    text = html.unescape(page(loaded, graphique="inconnue"))
    assert 'role="alert"' in text
    assert "<svg" not in text.split('id="graphique"', 1)[1].split("</section>", 1)[0]


def test_every_download_link_answers_and_the_filtered_csv_has_the_filtered_rows(
    loaded: TestClient,
) -> None:
    target = EXPECTED[0]["nature"]
    text = html.unescape(page(loaded, colonne="nature", valeur=target))
    links = re.findall(r'<a href="(/api/v1/datasets/[^"]+/export\.[^"]+)" download>', text)
    assert len(links) == 12  # six formats, whole and filtered
    for link in links:
        response = loaded.get(link)
        assert response.status_code == 200, (link, response.text[:200])
    csv_url = f"/api/v1/datasets/{PUBLIC}/export.csv?"
    filtered = next(link for link in links if link.startswith(csv_url) and "nature" in link)
    rows = list(csv.DictReader(io.StringIO(loaded.get(filtered).text)))
    assert len(rows) == sum(1 for r in EXPECTED if r["nature"] == target)


def test_api_snippets_name_the_real_endpoints(loaded: TestClient) -> None:
    text = html.unescape(page(loaded))
    assert f"curl 'http://testserver/api/v1/datasets/{PUBLIC}/records?limit=20'" in text
    resource = re.search(r'datastore_search\(resource_id="([^"]+)"', text)
    assert resource
    body = loaded.get(
        "/api/3/action/datastore_search", params={"resource_id": resource.group(1), "limit": 1}
    ).json()
    assert body["success"] is True, body
    assert body["result"]["total"] == len(EXPECTED)


def test_diff_links_only_for_editors(loaded: TestClient, demo_instance: Any) -> None:
    load(loaded, PUBLIC, SUBVENTIONS)  # version 2
    assert "/diff?from=1" not in page(loaded)
    login(loaded, "admin", demo_instance.password("admin"))
    text = page(loaded)
    found = re.search(r'href="(/api/v1/datasets/[^"]+/diff\?from=1&amp;to=2)"', text)
    assert found
    assert loaded.get(html.unescape(found.group(1))).status_code == 200


def test_english_page(loaded: TestClient) -> None:
    text = html.unescape(page(loaded, lang="en", graphique="nature"))
    assert "Data preview" in text
    assert "Number of rows by nature" in text
    assert "Aperçu des données" not in text


def test_dataset_without_data_has_no_preview(client: TestClient) -> None:
    text = html.unescape(page(client))
    assert 'id="apercu"' not in text
    assert "Aucune donnée publiée pour le moment." in text
