"""Input and output shapes of catalogue objects (separate Create / Update / Public schemas)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Self, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    ValidationError,
    model_validator,
)

from beffroi.catalog.identifiers import SLUG_RE, is_insee_commune_code, is_siren
from beffroi.catalog.models import AccessLevel, OrgKind, Role
from beffroi.catalog.vocabularies import (
    FREQUENCIES,
    GRANULARITIES,
    HVD_CATEGORIES,
    HVD_LEGISLATION,
    LICENSES,
    THEMES,
)
from beffroi.errors import InvalidInputError

M = TypeVar("M", bound=BaseModel)


def _slug(value: str) -> str:
    if not SLUG_RE.match(value):
        msg = f"« {value} » n'est pas un identifiant valide : minuscules, chiffres et tirets"
        raise ValueError(msg)
    return value


def _siren(value: str) -> str:
    if not is_siren(value):
        msg = f"« {value} » n'est pas un SIREN valide (9 chiffres, clé de Luhn)"
        raise ValueError(msg)
    return value


def _insee(value: str) -> str:
    if not is_insee_commune_code(value):
        msg = f"« {value} » n'est pas un code commune INSEE (5 caractères, ex. 01053, 2A004)"
        raise ValueError(msg)
    return value


def _license(value: str) -> str:
    if value in LICENSES or value.startswith(("http://", "https://")):
        return value
    msg = f"licence inconnue « {value} » : utilisez {', '.join(LICENSES)} ou une URI"
    raise ValueError(msg)


def _in_vocabulary(what: str, vocabulary: Mapping[str, str]) -> Callable[[str], str]:
    """A validator accepting only the codes of one controlled vocabulary."""

    def check(value: str) -> str:
        if value not in vocabulary:
            known = ", ".join(vocabulary)
            msg = f"« {value} » n'est pas un code de {what} connu : valeurs possibles {known}"
            raise ValueError(msg)
        return value

    return check


_frequency = _in_vocabulary("fréquence", FREQUENCIES)
_theme = _in_vocabulary("thème", THEMES)
_granularity = _in_vocabulary("granularité", GRANULARITIES)
_hvd_category = _in_vocabulary("catégorie de données de forte valeur (HVD)", HVD_CATEGORIES)


def _legislation(values: list[str]) -> list[str]:
    for value in values:
        if not value.startswith(
            ("http://data.europa.eu/eli/", "https://www.legifrance.gouv.fr/eli/")
        ):
            msg = (
                f"« {value} » n'est pas une URI ELI : écrivez par exemple {HVD_LEGISLATION} "
                "(législation européenne) ou https://www.legifrance.gouv.fr/eli/…"
            )
            raise ValueError(msg)
    return list(dict.fromkeys(values))


def _spatial(values: list[str]) -> list[str]:
    for value in values:
        kind, _, code = value.partition(":")
        ok = (kind == "commune" and is_insee_commune_code(code)) or (
            kind == "epci" and is_siren(code)
        )
        if not ok:
            msg = f"zone « {value} » invalide : écrivez commune:<code INSEE> ou epci:<SIREN>"
            raise ValueError(msg)
    return values


def _keywords(values: list[str]) -> list[str]:
    cleaned = [v.strip() for v in values if v.strip()]
    return list(dict.fromkeys(cleaned))


Slug = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_slug)]
Siren = Annotated[str, AfterValidator(_siren)]
InseeCode = Annotated[str, AfterValidator(_insee)]
License = Annotated[str, AfterValidator(_license)]
Frequency = Annotated[str, AfterValidator(_frequency)]
Themes = list[Annotated[str, AfterValidator(_theme)]]
Granularity = Annotated[str, AfterValidator(_granularity)]
Spatial = Annotated[list[str], AfterValidator(_spatial)]
Keywords = Annotated[list[str], AfterValidator(_keywords)]
Title = Annotated[str, Field(min_length=3, max_length=300)]
HvdCategory = Annotated[str, AfterValidator(_hvd_category)]
Legislation = Annotated[list[str], AfterValidator(_legislation)]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class OrganizationCreate(_Input):
    """Fields to create an organisation."""

    name: Title
    kind: OrgKind
    slug: Slug | None = None
    siren: Siren | None = None
    insee_code: InseeCode | None = None
    parent: Slug | None = Field(default=None, description="Slug of the parent organisation.")
    website: Annotated[str, Field(pattern=r"^https?://")] | None = None
    logo_url: Annotated[str, Field(pattern=r"^https?://")] | None = None
    description: str = ""

    @model_validator(mode="after")
    def _commune_has_code(self) -> Self:
        if self.kind is OrgKind.COMMUNE and not self.insee_code:
            msg = "une commune doit avoir son code INSEE (insee_code)"
            raise ValueError(msg)
        if self.kind is not OrgKind.COMMUNE and self.insee_code:
            msg = "seule une commune porte un code INSEE"
            raise ValueError(msg)
        return self


class OrganizationPublic(BaseModel):
    """An organisation as shown by the API."""

    model_config = ConfigDict(from_attributes=True)

    slug: str
    name: str
    kind: OrgKind
    siren: str | None
    insee_code: str | None
    parent: str | None = None
    website: str | None
    logo_url: str | None
    description: str
    created_at: dt.datetime
    modified_at: dt.datetime


class _DatasetFields(_Input):
    description: str | None = None
    keywords: Keywords | None = None
    themes: Themes | None = None
    license: License | None = None
    contact_name: str | None = None
    contact_email: EmailStr | None = None
    frequency: Frequency | None = None
    spatial: Spatial | None = None
    spatial_granularity: Granularity | None = None
    temporal_start: dt.date | None = None
    temporal_end: dt.date | None = None
    access_level: AccessLevel | None = None
    schema_ref: Annotated[str, Field(max_length=500)] | None = None
    hvd_category: HvdCategory | None = Field(
        default=None, description="EU high-value dataset category (code c_… of data.europa.eu/bna)."
    )
    applicable_legislation: Legislation | None = Field(
        default=None, description="ELI URIs of the legislation the dataset is published under."
    )

    @model_validator(mode="after")
    def _period_in_order(self) -> Self:
        if self.temporal_start and self.temporal_end and self.temporal_start > self.temporal_end:
            msg = "la période couverte finit avant de commencer (temporal_start > temporal_end)"
            raise ValueError(msg)
        return self

    @model_validator(mode="after")
    def _hvd_has_its_regulation(self) -> Self:
        # A high-value dataset is published under the HVD implementing regulation.
        if self.hvd_category and HVD_LEGISLATION not in (self.applicable_legislation or []):
            self.applicable_legislation = [*(self.applicable_legislation or []), HVD_LEGISLATION]
        return self


class DatasetCreate(_DatasetFields):
    """Fields to create a dataset record."""

    title: Title
    publisher: Slug = Field(description="Slug of the publishing organisation.")
    slug: Slug | None = None
    description: str = ""
    license: License = "etalab-2.0"
    access_level: AccessLevel = AccessLevel.PUBLIC


class DatasetUpdate(_DatasetFields):
    """Fields to change; absent fields are left as they are. A new slug keeps a redirect."""

    title: Title | None = None
    slug: Slug | None = None


class DatasetPublic(BaseModel):
    """A dataset as shown by the API."""

    model_config = ConfigDict(from_attributes=True)

    slug: str
    title: str
    description: str
    keywords: list[str]
    themes: list[str]
    license: str
    publisher: str
    contact_name: str | None
    contact_email: str | None
    frequency: str | None
    spatial: list[str]
    spatial_granularity: str | None
    temporal_start: dt.date | None
    temporal_end: dt.date | None
    access_level: AccessLevel
    schema_ref: str | None
    created_at: dt.datetime
    modified_at: dt.datetime
    hvd_category: str | None = None
    applicable_legislation: list[str] | None = None


class UserCreate(_Input):
    """Fields to create a user."""

    username: Annotated[str, Field(min_length=2, max_length=100, pattern=r"^[a-z0-9._-]+$")]
    email: EmailStr
    full_name: str = ""
    password: Annotated[str, Field(min_length=12, max_length=1024)]  # see MIN_PASSWORD_LENGTH
    is_platform_admin: bool = False


class MembershipCreate(_Input):
    """Give a user a role in an organisation."""

    username: str
    organization: Slug
    role: Role


def parse(model: type[M], data: dict[str, Any]) -> M:
    """Validate ``data`` into ``model``, or raise one InvalidInputError naming each bad field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [
            {
                "field": ".".join(str(p) for p in err["loc"]) or None,
                "message": err["msg"].removeprefix("Value error, "),
            }
            for err in exc.errors()
        ]
        summary = "; ".join(
            f"{p['field']}: {p['message']}" if p["field"] else str(p["message"]) for p in problems
        )
        raise InvalidInputError(
            f"Champ(s) invalide(s) — {summary}",
            hint="corrigez les valeurs signalées puis recommencez",
            details={"errors": problems},
        ) from None
