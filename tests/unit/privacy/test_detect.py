"""Detection of personal columns: on realistic open-data files (nothing hidden) and on a
file of water subscribers (names, e-mails, phones, NIR, home addresses and GPS hidden)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from beffroi.access import Actor
from beffroi.catalog.db import make_engine, session_factory, transaction, upgrade
from beffroi.catalog.models import ColumnFlag, Dataset
from beffroi.ingest.model import ReadOptions
from beffroi.ingest.pipeline import ingest_file
from beffroi.privacy.detect import HIDE_CONFIDENCE, detect_column, nir_valid
from beffroi.store import store_for
from tests.conftest import SHARED_DATA, make_settings
from tests.factories import make_dataset, make_org

SCHEMAS = SHARED_DATA / "schemas"
OPEN_FILES = {
    "dae": (SCHEMAS / "dae" / "examples" / "exemple_valide.csv", None),
    "irve": (SHARED_DATA / "messy" / "bornes-irve-20190805.csv", ";"),
    "subventions": (
        SCHEMAS / "scdl-subventions" / "examples" / "real-subventions-commune-de-castelmaurou.csv",
        None,
    ),
    "prenoms": (
        SCHEMAS / "scdl-prenoms" / "examples" / "prenoms-nouveaux-nes_exemple-valide.csv",
        None,
    ),
    "bal": (SCHEMAS / "bal" / "examples" / "1.4-1.4-valid.csv", None),
    "decp": (SCHEMAS / "decp-marches-publics" / "examples" / "exemple-valide.csv", None),
}


def nir(prefix: str) -> str:
    """A NIR with its valid key (13 digits given)."""
    digits = prefix.replace(" ", "")
    return f"{prefix} {97 - int(digits) % 97:02d}"


SUBSCRIBERS = "\n".join(
    [
        (
            "id_abonne;nom_abonne;prenom_abonne;email;telephone;nir;adresse_domicile;"
            "latitude_domicile;longitude_domicile;commune;volume_m3"
        ),
        (
            f"1;Dupont;Jean;jean.dupont@orange.fr;06 12 34 56 78;{nir('1 85 05 56 121 084')};"
            "12 rue des Lilas;47.748312;-3.366001;Lorient;120"
        ),
        (
            f"2;Martin;Marie;marie.martin@free.fr;07 98 76 54 32;{nir('2 90 11 56 098 123')};"
            "3 avenue de la Perrière;47.731245;-3.371234;Lorient;80"
        ),
        (
            f"3;Le Goff;Yann;yann.legoff@gmail.com;06 55 44 33 22;{nir('1 72 02 56 162 456')};"
            "8 impasse du Scorff;47.760021;-3.389912;Lanester;150"
        ),
        (
            f"4;Nicolas;Anne;anne.nicolas@laposte.net;02 97 11 22 33;{nir('2 66 07 56 121 789')};"
            "21 boulevard Cosmao;47.741187;-3.360045;Lorient;95"
        ),
        (
            f"5;Tanguy;Loïc;loic.tanguy@orange.fr;06 01 02 03 04;{nir('1 99 12 29 019 321')};"
            "5 chemin de Kerforn;47.752201;-3.399876;Lanester;60"
        ),
    ]
)


@pytest.fixture(scope="module")
def flags(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, dict[str, ColumnFlag]]]:
    """Flags recorded by ingesting each file through the real pipeline, by dataset slug."""
    data_dir = tmp_path_factory.mktemp("privacy-instance")
    settings = make_settings(data_dir)
    engine = make_engine(settings.catalog_url)
    upgrade(engine)
    factory: sessionmaker[Session] = session_factory(engine)
    subscribers = data_dir / "abonnes.csv"
    subscribers.write_text(SUBSCRIBERS + "\n", encoding="utf-8")
    files = {**OPEN_FILES, "abonnes": (subscribers, ";")}
    with transaction(factory) as session:
        publisher = make_org(session)
        for slug in files:
            make_dataset(session, slug=f"privacy-{slug}", publisher=publisher)
    store = store_for(settings)
    for slug, (path, delimiter) in files.items():
        options = ReadOptions(delimiter=delimiter) if delimiter else None
        ingest_file(
            factory, store, Actor.system(name="test"), f"privacy-{slug}", path, options=options
        )
    found: dict[str, dict[str, ColumnFlag]] = {slug: {} for slug in files}
    with factory() as session:
        for flag, dataset_slug in session.execute(
            select(ColumnFlag, Dataset.slug).join(Dataset, Dataset.id == ColumnFlag.dataset_id)
        ):
            found[dataset_slug.removeprefix("privacy-")][flag.column_name] = flag
    yield found
    engine.dispose()


@pytest.mark.parametrize("slug", sorted(OPEN_FILES))
def test_open_data_files_have_nothing_hidden(
    flags: dict[str, dict[str, ColumnFlag]], slug: str
) -> None:
    hidden = {c: f.confidence for c, f in flags[slug].items() if f.confidence >= HIDE_CONFIDENCE}
    assert hidden == {}
    assert all(f.status == "suggested" for f in flags[slug].values())


def test_open_data_suggestions_are_plausible(flags: dict[str, dict[str, ColumnFlag]]) -> None:
    # Phones and e-mails of defibrillator operators are suggested, for the référent to judge.
    assert flags["dae"]["expt_email"].category == "email"
    assert flags["dae"]["tel1"].category == "phone"
    # The subsidies' beneficiaries are associations: hardly a person's name.
    assert "com_nom" not in flags["dae"]
    assert flags["subventions"].get("nomBeneficiaire") is None or (
        flags["subventions"]["nomBeneficiaire"].confidence < 0.5
    )


def test_subscribers_file_is_hidden_where_personal(
    flags: dict[str, dict[str, ColumnFlag]],
) -> None:
    got = {c: (f.category, f.confidence >= HIDE_CONFIDENCE) for c, f in flags["abonnes"].items()}
    assert got == {
        "nom_abonne": ("person_name", True),
        "prenom_abonne": ("person_name", True),
        "email": ("email", True),
        "telephone": ("phone", True),
        "nir": ("nir", True),
        "adresse_domicile": ("address", True),
        "latitude_domicile": ("gps", True),
        "longitude_domicile": ("gps", True),
    }


def test_nir_key() -> None:
    assert nir_valid(nir("1 85 05 56 121 084"))
    assert nir_valid(nir("1850556121084").replace(" ", ""))
    assert not nir_valid("1 85 05 56 121 084 00")
    # Corsica: 2A counts as 19 in the key (2B as 18).
    key = 97 - int("1850519004084") % 97
    assert nir_valid(f"1 85 05 2A 004 084 {key:02d}")
    assert not nir_valid(f"1 85 05 2B 004 084 {key:02d}")
    assert not nir_valid("not a number")


def test_role_mailboxes_are_not_personal() -> None:
    profile = {
        "name": "contact",
        "semantic": "email",
        "semantic_confidence": 1.0,
        "examples": ["contact@mairie-lorient.fr", "accueil@lorient.bzh", "mairie@ploemeur.fr"],
    }
    assert detect_column(profile) is None
