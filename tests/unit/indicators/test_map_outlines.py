"""Every EPCI gets its communes' outlines for the dashboards' map, not only the demo one."""

from __future__ import annotations

import pytest

from beffroi import reference
from beffroi.indicators.dashboards import shapes


@pytest.mark.parametrize(
    "siren",
    [
        "200042174",  # CA Lorient Agglomération (the demo: its own shipped file)
        "243500139",  # Rennes Métropole (from the national layer)
        "200046977",  # Métropole de Lyon
    ],
)
def test_outlines_cover_exactly_the_member_communes(siren: str) -> None:
    members = {
        code for code, commune in reference.communes().items() if commune.epci_siren == siren
    }
    outlines = shapes(siren)
    assert members, f"no commune of {siren} in the shipped reference"
    assert set(outlines) == members
    name, rings = next(iter(outlines.values()))
    assert name
    assert all(len(ring) >= 4 for ring in rings)
    assert all(-6 < x < 10 and 41 < y < 52 for ring in rings for x, y in ring)  # mainland


def test_an_unknown_epci_has_no_outline() -> None:
    assert shapes("000000000") == {}
