"""The vectorised SIREN/SIRET checksums agree with python-stdnum, value for value."""

from __future__ import annotations

import random

import pyarrow as pa
import pytest
from stdnum.fr import siren as stdnum_siren
from stdnum.fr import siret as stdnum_siret

from beffroi.ingest.semantic import detect, valid_identifiers


def _numbers(width: int, count: int, seed: int) -> list[str]:
    rng = random.Random(seed)  # noqa: S311 - test data, not secrets
    values = []
    for i in range(count):
        digits = "".join(str(rng.randrange(10)) for _ in range(width))
        if width == 14 and i % 7 == 0:  # La Poste's establishments, head office included
            digits = "356000000" + digits[9:]
        if i % 11 == 0 and width == 14:
            digits = "35600000000048"
        values.append(digits)
    # Valid ones too: random numbers pass Luhn one time in ten only.
    for value in list(values):
        for last in "0123456789":
            candidate = value[:-1] + last
            if (stdnum_siret if width == 14 else stdnum_siren).is_valid(candidate):
                values.append(candidate)
                break
    return values


@pytest.mark.parametrize(("width", "module"), [(9, stdnum_siren), (14, stdnum_siret)])
def test_the_checksums_are_stdnums(width: int, module: object) -> None:
    values = _numbers(width, 3000, seed=width)
    spaced = [f"{v[:3]} {v[3:6]} {v[6:9]} {v[9:]}".strip() for v in values[::3]]
    everything = values + spaced
    expected = [module.is_valid(v) for v in everything]  # type: ignore[attr-defined]
    got = valid_identifiers(pa.array(everything, pa.string()), width).tolist()
    assert got == expected
    assert 0 < sum(got) < len(got)  # both kinds are present: the test can fail


def test_a_sliced_array_is_read_at_its_offset() -> None:
    valid = "73282932000074"  # a real SIRET
    values = pa.array(["12345678901234", valid, "12345678901235"]).slice(1, 1)
    assert valid_identifiers(values, 14).tolist() == [True]
    assert valid_identifiers(pa.array([], pa.string()), 14).tolist() == []


def test_a_column_of_sirets_is_detected_and_one_of_bad_checksums_is_not() -> None:
    good = [v for v in _numbers(14, 400, seed=1) if stdnum_siret.is_valid(v)]
    found = detect(pa.array(good), "idBeneficiaire")
    assert found is not None
    assert found.label == "siret"
    bad = [v for v in _numbers(14, 400, seed=2) if not stdnum_siret.is_valid(v)]
    assert detect(pa.array(bad), "idBeneficiaire") is None
