"""Download formats of a published dataset, and the URLs every surface links to.

The export endpoints (``/api/v1/datasets/{slug}/export.{ext}``) are served by the query
engine; the DCAT distributions, CKAN resources and Data Package resources all point there,
plus the dataset's Data Package (``…/datapackage.json``).
"""

from __future__ import annotations

from dataclasses import dataclass

from beffroi.catalog.models import Dataset, DatasetVersion
from beffroi.catalog.vocabularies import EU_AUTHORITY

IANA = "https://www.iana.org/assignments/media-types/"
DATAPACKAGE_SPEC = "https://specs.frictionlessdata.io/data-package/"
TABLE_SCHEMA_SPEC = "https://specs.frictionlessdata.io/table-schema/"


@dataclass(frozen=True, slots=True)
class ExportFormat:
    """One download format: file suffix, CKAN format label, IANA media type, EU file type."""

    ext: str
    label: str
    media_type: str
    file_type: str  # code of the EU "file-type" authority table
    title: str
    open: bool = True  # an open format in data.gouv.fr's sense

    @property
    def file_type_uri(self) -> str:
        """IRI of the EU file type."""
        return f"{EU_AUTHORITY}/file-type/{self.file_type}"

    @property
    def media_type_uri(self) -> str:
        """IRI of the IANA media type."""
        return IANA + self.media_type


CSV = ExportFormat("csv", "CSV", "text/csv", "CSV", "CSV (UTF-8)")
JSON = ExportFormat("json", "JSON", "application/json", "JSON", "JSON")
PARQUET = ExportFormat("parquet", "Parquet", "application/vnd.apache.parquet", "PARQUET", "Parquet")
XLSX = ExportFormat(
    "xlsx",
    "XLSX",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "XLSX",
    "Excel (XLSX)",
    open=False,
)
GEOJSON = ExportFormat("geojson", "GeoJSON", "application/geo+json", "GEOJSON", "GeoJSON")
DATAPACKAGE = ExportFormat(
    "datapackage.json", "JSON", "application/json", "JSON", "Data Package (Frictionless)"
)

DATAPACKAGE_ZIP = ExportFormat(
    "datapackage.zip", "ZIP", "application/zip", "ZIP", "Data Package zippé (descripteur et CSV)"
)

TABLE_FORMATS = (CSV, JSON, PARQUET, XLSX)
PACKAGE_FORMATS = (DATAPACKAGE, DATAPACKAGE_ZIP)
ALL_FORMATS = (*TABLE_FORMATS, GEOJSON, *PACKAGE_FORMATS)


def has_geometry(version: DatasetVersion) -> bool:
    """Whether the version holds a geometry column (it is then also offered as GeoJSON)."""
    kinds = {str(c.get("type")) for c in version.profile}
    return bool(kinds & {"geometry", "geojson"})


def served(fmt: ExportFormat) -> bool:
    """Whether the export endpoints of the query engine serve this format."""
    from beffroi.query.exports import FORMATS  # noqa: PLC0415 - DuckDB only when needed

    return fmt.ext in FORMATS


def export_formats(dataset: Dataset) -> list[ExportFormat]:
    """The table downloads of a dataset's published version (none without one): the
    formats the export endpoints serve, GeoJSON only for a version with a geometry."""
    version = dataset.published_version
    if version is None:
        return []
    formats = [f for f in TABLE_FORMATS if served(f)]
    if has_geometry(version) and served(GEOJSON):
        formats.append(GEOJSON)
    return formats


def export_url(base_url: str, dataset: Dataset, fmt: ExportFormat) -> str:
    """Download URL of one format of a dataset's published version."""
    if fmt in PACKAGE_FORMATS:
        return f"{base_url}/api/v1/datasets/{dataset.slug}/{fmt.ext}"
    return f"{base_url}/api/v1/datasets/{dataset.slug}/export.{fmt.ext}"


def downloads(dataset: Dataset) -> list[ExportFormat]:
    """Every download of a published dataset: table formats, then its Data Packages."""
    tables = export_formats(dataset)
    return [*tables, *PACKAGE_FORMATS] if tables else []


def landing_page(base_url: str, dataset: Dataset) -> str:
    """The dataset's portal page."""
    return f"{base_url}/jeux-de-donnees/{dataset.slug}"


def resource_id(dataset: Dataset, fmt: ExportFormat) -> str:
    """Stable identifier of one download of a dataset (CKAN resource id, DCAT identifier)."""
    suffix = {"datapackage.json": "datapackage", "datapackage.zip": "zip"}.get(fmt.ext, fmt.ext)
    return f"{dataset.store_key}-{suffix}"


SCHEMA_REGISTRY = "https://schema.data.gouv.fr"


@dataclass(frozen=True, slots=True)
class SchemaRef:
    """A dataset's declared schema: its name, version and resolvable URL (when known)."""

    name: str
    version: str | None
    url: str | None


def resolve_schema(ref: str | None) -> SchemaRef | None:
    """Interpret ``schema_ref``: a URL as is; ``owner/name[@version]`` on schema.data.gouv.fr.

    A bare name (``arbres``) has no known URL until the schema registry of the validation
    work resolves it: its ``url`` is None.
    """
    if not ref:
        return None
    if ref.startswith(("http://", "https://")):
        return SchemaRef(ref, None, ref)
    name, _, version = ref.partition("@")
    if "/" not in name:
        return SchemaRef(name, version or None, None)
    if version:
        url = f"{SCHEMA_REGISTRY}/schemas/{name}/{version}/schema.json"
    else:
        url = f"{SCHEMA_REGISTRY}/{name}/"
    return SchemaRef(name, version or None, url)
