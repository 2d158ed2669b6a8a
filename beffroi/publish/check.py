"""data.gouv.fr readiness: what would lower each public dataset's quality score there.

data.gouv.fr (udata) scores a dataset's metadata on: a sufficiently long description, an open
licence, an update frequency that is declared *and* respected, a spatial coverage with its
granularity, a temporal coverage, at least one resource in an open format, and (for datasets
bound to a schema) conformity to that schema — judged from the validation recorded for the
published version, ``unknown`` without one. Each check here names what is missing and how to
fix it, in French (``message``, ``hint``) and in English (``message_en``, ``hint_en``);
``status`` is ``ok``, ``warning``, ``error`` or ``unknown`` (nothing to judge on).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from beffroi.catalog.models import Dataset, VersionConformance, utcnow
from beffroi.catalog.vocabularies import FREQUENCIES, LICENSES
from beffroi.publish import formats, public

Status = Literal["ok", "warning", "error", "unknown"]
# udata's "description of quality": a description long enough to be useful (characters).
DESCRIPTION_MIN: Final = 100
# Longest expected interval between two published versions, per EU frequency code.
PERIODS: Final[dict[str, dt.timedelta]] = {
    "CONT": dt.timedelta(days=1),
    "UPDATE_CONT": dt.timedelta(days=1),
    "1MIN": dt.timedelta(minutes=1),
    "15MIN": dt.timedelta(minutes=15),
    "HOURLY": dt.timedelta(hours=1),
    "DAILY": dt.timedelta(days=1),
    "WEEKLY": dt.timedelta(weeks=1),
    "BIWEEKLY": dt.timedelta(weeks=2),
    "MONTHLY": dt.timedelta(days=31),
    "BIMONTHLY": dt.timedelta(days=62),
    "QUARTERLY": dt.timedelta(days=92),
    "ANNUAL_2": dt.timedelta(days=184),
    "ANNUAL": dt.timedelta(days=366),
    "BIENNIAL": dt.timedelta(days=731),
    "TRIENNIAL": dt.timedelta(days=1096),
}


@dataclass(frozen=True, slots=True)
class Check:
    """One criterion for one dataset: the finding and how to fix it, in French and English."""

    code: str
    status: Status
    message: str
    hint: str | None = None
    message_en: str = field(kw_only=True)
    hint_en: str | None = field(default=None, kw_only=True)

    def localized(self, lang: str) -> tuple[str, str | None]:
        """The message and hint in ``lang`` (English for ``en``, else French)."""
        if lang == "en":
            return self.message_en, self.hint_en
        return self.message, self.hint


@dataclass(slots=True)
class Readiness:
    """The checks of one public dataset."""

    slug: str
    title: str
    checks: list[Check] = field(default_factory=list)

    @property
    def problems(self) -> list[Check]:
        """The checks that are not ``ok``."""
        return [c for c in self.checks if c.status != "ok"]

    @property
    def ready(self) -> bool:
        """No error (warnings and unknowns do not block)."""
        return all(c.status != "error" for c in self.checks)


def _description(dataset: Dataset) -> Check:
    length = len(dataset.description.strip())
    if length == 0:
        return Check(
            "description",
            "error",
            "Description absente",
            "décrivez le contenu, la source, la méthode et les limites du jeu de données",
            message_en="No description",
            hint_en="describe the content, source, method and limits of the dataset",
        )
    if length < DESCRIPTION_MIN:
        return Check(
            "description",
            "warning",
            f"Description courte ({length} caractères, au moins {DESCRIPTION_MIN} attendus)",
            "ajoutez le contexte : origine des données, méthode, mises à jour, limites",
            message_en=f"Short description ({length} characters, at least {DESCRIPTION_MIN} "
            "expected)",
            hint_en="add context: origin of the data, method, updates, limits",
        )
    return Check(
        "description",
        "ok",
        f"Description de {length} caractères",
        message_en=f"Description of {length} characters",
    )


def _license(dataset: Dataset) -> Check:
    if not dataset.license:
        return Check(
            "license",
            "error",
            "Licence absente",
            "choisissez etalab-2.0 ou ODbL-1.0",
            message_en="No licence",
            hint_en="choose etalab-2.0 or ODbL-1.0",
        )
    if dataset.license in LICENSES and not LICENSES[dataset.license][1]:
        return Check(
            "license",
            "error",
            f"Licence non ouverte ({dataset.license})",
            "publiez sous Licence Ouverte 2.0 (etalab-2.0) ou ODbL-1.0",
            message_en=f"Licence not open ({dataset.license})",
            hint_en="publish under the Open Licence 2.0 (etalab-2.0) or ODbL-1.0",
        )
    if dataset.license not in LICENSES:
        return Check(
            "license",
            "warning",
            f"Licence donnée par son adresse ({dataset.license}) : data.gouv.fr ne la "
            "reconnaîtra peut-être pas",
            "les licences reconnues sans homologation sont etalab-2.0 et ODbL-1.0",
            message_en=f"Licence given by its address ({dataset.license}): data.gouv.fr may "
            "not recognise it",
            hint_en="the licences recognised without approval are etalab-2.0 and ODbL-1.0",
        )
    label = LICENSES[dataset.license][0]
    return Check("license", "ok", label, message_en=label)


def _frequency(dataset: Dataset, now: dt.datetime) -> Check:
    code = dataset.frequency
    if not code or code == "UNKNOWN":
        return Check(
            "frequency",
            "error",
            "Fréquence de mise à jour non renseignée",
            "indiquez la fréquence (vocabulaire UE : ANNUAL, MONTHLY, IRREG…)",
            message_en="Update frequency not given",
            hint_en="give the frequency (EU vocabulary: ANNUAL, MONTHLY, IRREG…)",
        )
    period = PERIODS.get(code)
    if period is None:  # IRREG, NEVER, OTHER: nothing to be late for
        return Check(
            "frequency", "ok", f"Fréquence {FREQUENCIES[code]}", message_en=f"Frequency {code}"
        )
    version = dataset.published_version
    last = (version.published_at or version.created_at) if version is not None else None
    if last is None:
        return Check(
            "frequency",
            "unknown",
            f"Fréquence {FREQUENCIES[code]}, mais aucune version publiée",
            "publiez une première version des données",
            message_en=f"Frequency {code}, but no published version",
            hint_en="publish a first version of the data",
        )
    due = last + period
    if now > due:
        late = (now - due).days
        return Check(
            "frequency",
            "error",
            f"Fréquence {FREQUENCIES[code]} non respectée : dernière version publiée le "
            f"{last.date().isoformat()}, en retard de {late} jour(s)",
            "publiez une version à jour, ou corrigez la fréquence déclarée",
            message_en=f"Frequency {code} not kept: last version published on "
            f"{last.date().isoformat()}, {late} day(s) late",
            hint_en="publish an up-to-date version, or correct the declared frequency",
        )
    return Check(
        "frequency",
        "ok",
        f"Fréquence {FREQUENCIES[code]} respectée",
        message_en=f"Frequency {code} kept",
    )


def _spatial(dataset: Dataset) -> list[Check]:
    checks = []
    if not dataset.spatial:
        checks.append(
            Check(
                "spatial",
                "warning",
                "Couverture géographique non renseignée",
                "indiquez les communes (commune:<INSEE>) ou l'EPCI (epci:<SIREN>) couverts",
                message_en="Spatial coverage not given",
                hint_en="give the communes (commune:<INSEE>) or the EPCI (epci:<SIREN>) covered",
            )
        )
    else:
        zones = len(dataset.spatial)
        checks.append(
            Check(
                "spatial",
                "ok",
                f"{zones} zone(s) couverte(s)",
                message_en=f"{zones} area(s) covered",
            )
        )
    if not dataset.spatial_granularity:
        checks.append(
            Check(
                "granularity",
                "error",
                "Granularité spatiale non renseignée",
                "indiquez la granularité (fr:commune, fr:epci, poi…)",
                message_en="Spatial granularity not given",
                hint_en="give the granularity (fr:commune, fr:epci, poi…)",
            )
        )
    else:
        granularity = dataset.spatial_granularity
        checks.append(
            Check(
                "granularity",
                "ok",
                f"Granularité {granularity}",
                message_en=f"Granularity {granularity}",
            )
        )
    return checks


def _temporal(dataset: Dataset) -> Check:
    if dataset.temporal_start or dataset.temporal_end:
        start = dataset.temporal_start.isoformat() if dataset.temporal_start else "…"
        end = dataset.temporal_end.isoformat() if dataset.temporal_end else "…"
        return Check(
            "temporal",
            "ok",
            f"Période couverte du {start} au {end}",
            message_en=f"Period covered from {start} to {end}",
        )
    return Check(
        "temporal",
        "error",
        "Couverture temporelle non renseignée",
        "indiquez la période couverte (temporal_start, temporal_end)",
        message_en="Temporal coverage not given",
        hint_en="give the period covered (temporal_start, temporal_end)",
    )


def _formats(dataset: Dataset) -> Check:
    offered = formats.export_formats(dataset)
    if not offered:
        return Check(
            "open-format",
            "error",
            "Aucune ressource téléchargeable : pas de version publiée",
            "chargez un fichier puis publiez-le (beffroi ingest FICHIER --dataset … --publish)",
            message_en="No downloadable resource: no published version",
            hint_en="upload a file then publish it (beffroi ingest FILE --dataset … --publish)",
        )
    open_ones = [f.label for f in offered if f.open]
    if not open_ones:
        return Check(
            "open-format",
            "error",
            "Aucun format ouvert",
            "proposez un export CSV",
            message_en="No open format",
            hint_en="offer a CSV export",
        )
    listed = ", ".join(open_ones)
    return Check(
        "open-format", "ok", f"Formats ouverts : {listed}", message_en=f"Open formats: {listed}"
    )


def _schema(dataset: Dataset, conformance: VersionConformance | None) -> Check:
    if conformance is not None:  # the published version was validated against its schema
        if conformance.valid:
            return Check(
                "schema",
                "ok",
                f"Version publiée conforme au schéma « {conformance.schema_ref} »",
                message_en=f"Published version conforms to the schema « {conformance.schema_ref} »",
            )
        return Check(
            "schema",
            "error",
            f"Version publiée non conforme au schéma « {conformance.schema_ref} » : "
            f"{conformance.error_count} erreur(s)",
            "corrigez le fichier d'après le rapport de validation "
            "(GET /api/v1/datasets/<slug>/versions/<n>/conformance) puis publiez-le",
            message_en=f"Published version does not conform to the schema "
            f"« {conformance.schema_ref} »: {conformance.error_count} error(s)",
            hint_en="correct the file from the validation report "
            "(GET /api/v1/datasets/<slug>/versions/<n>/conformance) then publish it",
        )
    if not dataset.schema_ref:
        return Check("schema", "ok", "Pas de schéma déclaré", message_en="No schema declared")
    schema = formats.resolve_schema(dataset.schema_ref)
    if schema is not None and schema.url is None:
        return Check(
            "schema",
            "warning",
            f"Schéma « {dataset.schema_ref} » sans adresse connue sur schema.data.gouv.fr",
            "écrivez-le propriétaire/nom (ex. scdl/subventions) ou donnez son URL",
            message_en=f"Schema « {dataset.schema_ref} » without a known address on "
            "schema.data.gouv.fr",
            hint_en="write it owner/name (e.g. scdl/subventions) or give its URL",
        )
    return Check(
        "schema",
        "unknown",
        f"Conformité au schéma « {dataset.schema_ref} » inconnue (pas de résultat de validation)",
        "validez la version publiée contre son schéma (beffroi conformance set, puis un "
        "nouveau chargement)",
        message_en=f"Conformity to the schema « {dataset.schema_ref} » unknown (no validation "
        "result)",
        hint_en="validate the published version against its schema (beffroi conformance set, "
        "then a new upload)",
    )


def check_dataset(
    dataset: Dataset,
    now: dt.datetime | None = None,
    conformance: VersionConformance | None = None,
) -> Readiness:
    """Every readiness check of one dataset (``conformance``: the recorded validation of its
    published version, if any)."""
    now = now or utcnow()
    checks = [
        _description(dataset),
        _license(dataset),
        _frequency(dataset, now),
        *_spatial(dataset),
        _temporal(dataset),
        _formats(dataset),
        _schema(dataset, conformance),
    ]
    return Readiness(dataset.slug, dataset.title, checks)


def check_public(
    session: Session, now: dt.datetime | None = None, *, slugs: Iterable[str] | None = None
) -> list[Readiness]:
    """The readiness of every dataset the anonymous actor may read (what data.gouv.fr sees),
    or of the public datasets named by ``slugs`` (a non-public one is not found)."""
    if slugs is None:
        datasets = public.public_datasets(session)
    else:
        datasets = [public.public_dataset_by_key(session, slug) for slug in slugs]
    versions = [d.published_version_id for d in datasets if d.published_version_id]
    verdicts = {
        row.version_id: row
        for row in session.scalars(
            select(VersionConformance).where(VersionConformance.version_id.in_(versions))
        )
    }
    return [check_dataset(d, now, verdicts.get(d.published_version_id or -1)) for d in datasets]
