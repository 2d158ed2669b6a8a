"""The SVG charts: accessible names, escaping, classes, series told apart by more than colour."""

from __future__ import annotations

from beffroi.indicators import charts
from beffroi.indicators.dashboards import number


def fmt(value: float | None) -> str:
    return number(value, "fr")


def test_line_chart_names_itself_and_escapes_text() -> None:
    svg = charts.line_chart(
        [
            charts.Series("<Groix>", [("2024", 1.0), ("2025", 2.0)]),
            charts.Series("Territoire", [("2024", 1.5), ("2025", None)]),
        ],
        title="Titre & co",
        description="desc",
        ident="g-x",
        fmt=fmt,
        target=1.8,
    )
    assert 'role="img"' in svg
    assert 'aria-labelledby="g-x-titre g-x-desc"' in svg
    assert '<title id="g-x-titre">Titre &amp; co</title>' in svg
    assert "&lt;Groix&gt;" in svg
    assert "<Groix>" not in svg
    assert 'stroke-dasharray="8 4"' in svg  # the target line
    assert "<rect" in svg  # second series marked with squares, not only another colour
    assert "objectif 1,80" in svg


def test_bar_chart_marks_the_highlight_and_missing_values() -> None:
    svg = charts.bar_chart(
        [charts.Bar("Lorient", 10.0, highlight=True), charts.Bar("Gâvres", None, note="secret")],
        title="t",
        description="d",
        ident="b",
        fmt=fmt,
    )
    assert "▶ Lorient" in svg
    assert 'font-weight="700"' in svg
    assert ">secret</text>" in svg


def test_choropleth_quantile_classes() -> None:
    square = [[(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]]
    areas = [
        charts.Area(f"0000{i}", f"C{i}", [[(x + i, y) for x, y in square[0]]], float(i))
        for i in range(5)
    ]
    areas.append(charts.Area("00009", "Z", square, None, note="secret"))
    svg = charts.choropleth(
        areas, title="t", description="d", ident="m", fmt=fmt, missing_label="sans valeur"
    )
    fills = [
        charts.SHADES.index(c) if c in charts.SHADES else c
        for c in [part.split('fill="')[1].split('"')[0] for part in svg.split("<path")[1:]]
    ]
    assert fills == [0, 1, 2, 3, 4, "url(#m-hachures)"]
    assert "<title>Z : secret</title>" in svg
    assert "sans valeur" in svg


def test_number_in_french_and_english() -> None:
    assert number(1234.5, "fr") == "1\u202f234"
    assert number(12.345, "en") == "12.3"
    assert number(0.1234, "fr") == "0,12"
    assert number(None) == "—"
