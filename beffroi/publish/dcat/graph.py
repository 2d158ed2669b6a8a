"""Build the DCAT-AP 3 graph of the public catalogue (mapping: docs/reference/dcat-mapping.md).

Every resource a DCAT-AP 3.0.1 range constraint applies to is typed explicitly (a harvester
needs no ontology or inference to validate it), and every controlled-vocabulary concept
carries its ``skos:prefLabel`` and ``skos:inScheme``. URIs derive from the immutable store key
(``ds-<id>``), never from the slug, which may be renamed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, FOAF, RDF, RDFS, SKOS, XSD
from rdflib.term import Node
from sqlalchemy.orm import Session

from beffroi import __version__, reference
from beffroi.catalog.models import AccessLevel, Dataset, Organization, OrgKind
from beffroi.catalog.vocabularies import (
    EU_AUTHORITY,
    FREQUENCIES,
    HVD_CATEGORIES,
    HVD_LEGISLATION,
    HVD_VOCABULARY,
    LICENSES,
    THEMES,
)
from beffroi.publish import formats, public
from beffroi.publish.dcat.geometry import outline
from beffroi.publish.dcat.vocab import (
    ADMS,
    BEFFROI,
    DCAT,
    DCATAP,
    ELI,
    GSP,
    HYDRA,
    INSEE_COMMUNE,
    INSEE_EPCI,
    LOCN,
    PREFIXES,
    PUBLISHER_TYPE,
    VCARD,
)

FR: Final = "fr"
HVD_SCHEME: Final = "asd487ae75"  # the HVD category concept scheme of data.europa.eu/bna

ACCESS_RIGHTS: Final = {
    AccessLevel.PUBLIC.value: ("PUBLIC", "public"),
    AccessLevel.REGISTERED.value: ("RESTRICTED", "restreint"),
    AccessLevel.RESTRICTED.value: ("RESTRICTED", "restreint"),
    AccessLevel.INTERNAL.value: ("NON_PUBLIC", "non public"),
    AccessLevel.ORGANIZATION.value: ("NON_PUBLIC", "non public"),
}
# ADMS publisher types: the territory's own kinds are local authorities.
PUBLISHER_TYPES: Final = {
    OrgKind.EPCI.value: "LocalAuthority",
    OrgKind.COMMUNE.value: "LocalAuthority",
    OrgKind.SERVICE.value: "LocalAuthority",
}
_SCHEMES: Final = {
    "data-theme": "Data theme",
    "frequency": "Frequency",
    "file-type": "File type",
    "access-right": "Access right",
    "language": "Language",
}


@dataclass(frozen=True, slots=True)
class CatalogPage:
    """Which page of the catalogue to build, and how its page URLs are written."""

    page: int = 1
    page_size: int = 100
    suffix: str = ""  # ".ttl", ".jsonld", ".rdf" or "" (negotiated): kept in paging links


def catalog_uri(base_url: str) -> URIRef:
    """The catalogue's IRI."""
    return URIRef(f"{base_url}/catalog")


def dataset_uri(base_url: str, dataset: Dataset) -> URIRef:
    """A dataset's IRI, stable across renames (from its store key)."""
    return URIRef(f"{base_url}/catalog/datasets/{dataset.store_key}")


def legislation(dataset: Dataset) -> list[str]:
    """ELI URIs a dataset is published under (the HVD regulation for every HVD dataset)."""
    laws = list(dataset.applicable_legislation or [])
    if dataset.hvd_category and HVD_LEGISLATION not in laws:
        laws.append(HVD_LEGISLATION)
    return laws


def organization_uri(base_url: str, org: Organization) -> URIRef:
    """An organisation's IRI: its portal page."""
    return URIRef(f"{base_url}/organisations/{org.slug}")


class _Builder:
    """Adds catalogue resources to one graph, each shared node once."""

    def __init__(self, session: Session, base_url: str) -> None:
        self.session = session
        self.base = base_url
        self.g = Graph()
        for prefix, namespace in PREFIXES.items():
            self.g.bind(prefix, namespace, override=True)
        self._done: set[Node] = set()
        self._harvested: dict[int, tuple[str, str | None]] | None = None

    # ------------------------------------------------------------ shared nodes

    def _once(self, node: Node) -> bool:
        if node in self._done:
            return False
        self._done.add(node)
        return True

    def typed(self, uri: str, *types: URIRef) -> URIRef:
        """An IRI typed with ``types`` (range constraints check ``rdf:type``)."""
        node = URIRef(uri)
        for kind in types:
            self.g.add((node, RDF.type, kind))
        return node

    def scheme(self, name: str) -> URIRef:
        """An EU authority table as a ``skos:ConceptScheme``."""
        node = URIRef(f"{EU_AUTHORITY}/{name}")
        if self._once(node):
            self.g.add((node, RDF.type, SKOS.ConceptScheme))
            self.g.add((node, DCTERMS.title, Literal(_SCHEMES[name], lang="en")))
        return node

    def concept(self, table: str, code: str, label: str, *types: URIRef) -> URIRef:
        """A concept of an EU authority table, labelled and in its scheme."""
        node = URIRef(f"{EU_AUTHORITY}/{table}/{code}")
        if self._once(node):
            for kind in (SKOS.Concept, *types):
                self.g.add((node, RDF.type, kind))
            self.g.add((node, SKOS.prefLabel, Literal(label, lang=FR)))
            self.g.add((node, SKOS.inScheme, self.scheme(table)))
        return node

    def document(self, url: str) -> URIRef:
        """A web page (``foaf:Document``)."""
        return self.typed(url, FOAF.Document)

    def language(self) -> URIRef:
        """French, the language of the metadata."""
        return self.concept("language", "FRA", "français", DCTERMS.LinguisticSystem)

    def access_rights(self, level: str) -> URIRef:
        """The EU access right of an access level."""
        code, label = ACCESS_RIGHTS[level]
        return self.concept("access-right", code, label, DCTERMS.RightsStatement)

    def organization(self, org: Organization) -> URIRef:
        """A publisher (``foaf:Organization``) with its SIREN and ADMS type."""
        node = organization_uri(self.base, org)
        if not self._once(node):
            return node
        g = self.g
        g.add((node, RDF.type, FOAF.Organization))
        g.add((node, RDF.type, FOAF.Agent))
        g.add((node, FOAF.name, Literal(org.name, lang=FR)))
        kind = PUBLISHER_TYPES.get(org.kind)
        if kind:
            scheme = URIRef(str(PUBLISHER_TYPE) + "1.0")
            if self._once(scheme):
                g.add((scheme, RDF.type, SKOS.ConceptScheme))
                g.add((scheme, DCTERMS.title, Literal("Publisher type", lang="en")))
            concept = PUBLISHER_TYPE[kind]
            if self._once(concept):
                g.add((concept, RDF.type, SKOS.Concept))
                g.add((concept, SKOS.prefLabel, Literal("Local Authority", lang="en")))
                g.add((concept, SKOS.inScheme, scheme))
            g.add((node, DCTERMS.type, concept))
        if org.siren:
            g.add((node, DCTERMS.identifier, Literal(org.siren)))
            identifier = BNode(f"siren-{org.siren}")
            g.add((node, ADMS.identifier, identifier))
            g.add((identifier, RDF.type, ADMS.Identifier))
            g.add((identifier, SKOS.notation, Literal(org.siren)))
            g.add((identifier, ADMS.schemaAgency, Literal("INSEE (répertoire SIRENE)", lang=FR)))
        if org.website:
            g.add((node, FOAF.homepage, self.document(org.website)))
        return node

    def location(self, item: str) -> URIRef:
        """A ``dct:Location`` for ``commune:<INSEE>`` or ``epci:<SIREN>`` (INSEE IRIs)."""
        kind, _, code = item.partition(":")
        found: reference.Commune | reference.Epci | None
        if kind == "commune":
            uri, found = INSEE_COMMUNE + code, reference.communes().get(code)
        else:
            uri, found = INSEE_EPCI + code, reference.epcis().get(code)
        node = URIRef(uri)
        if self._once(node):
            self.g.add((node, RDF.type, DCTERMS.Location))
            self.g.add((node, DCTERMS.identifier, Literal(code)))
            self.g.add((node, SKOS.prefLabel, Literal(found.name if found else code, lang=FR)))
            shape = outline(item)
            if shape is not None:
                geometry = BNode(f"geometry-{kind}-{code}")
                self.g.add((node, LOCN.geometry, geometry))
                self.g.add((geometry, RDF.type, LOCN.Geometry))
                self.g.add((geometry, GSP.asWKT, Literal(shape.wkt, datatype=GSP.wktLiteral)))
                self.g.add((node, DCAT.bbox, Literal(shape.bbox, datatype=GSP.wktLiteral)))
        return node

    def hvd_category(self, code: str) -> URIRef:
        """An EU high-value dataset category, labelled and in its scheme."""
        node = URIRef(HVD_VOCABULARY + code)
        if self._once(node):
            scheme = URIRef(HVD_VOCABULARY + HVD_SCHEME)
            if self._once(scheme):
                self.g.add((scheme, RDF.type, SKOS.ConceptScheme))
                self.g.add(
                    (scheme, DCTERMS.title, Literal("High-value dataset categories", lang="en"))
                )
            self.g.add((node, RDF.type, SKOS.Concept))
            self.g.add((node, SKOS.prefLabel, Literal(HVD_CATEGORIES[code], lang=FR)))
            self.g.add((node, SKOS.inScheme, scheme))
        return node

    def law(self, uri: str) -> URIRef:
        """A piece of legislation (``eli:LegalResource``) by its ELI."""
        return self.typed(uri, ELI.LegalResource)

    def hvd(self, node: URIRef, dataset: Dataset) -> None:
        """``dcatap:hvdCategory`` and ``dcatap:applicableLegislation`` of a dataset's resource."""
        if dataset.hvd_category:
            self.g.add((node, DCATAP.hvdCategory, self.hvd_category(dataset.hvd_category)))
        for uri in legislation(dataset):
            self.g.add((node, DCATAP.applicableLegislation, self.law(uri)))

    def license(self, value: str) -> URIRef | None:
        """The licence document of a licence id or URI (None: not open, no licence)."""
        uri = LICENSES[value][1] if value in LICENSES else value
        if not uri:
            return None
        node = URIRef(uri)
        if self._once(node):
            self.g.add((node, RDF.type, DCTERMS.LicenseDocument))
            if value in LICENSES:
                self.g.add((node, RDFS.label, Literal(LICENSES[value][0], lang=FR)))
        return node

    def standard(self, ref: str | None) -> Node | None:
        """The schema a dataset conforms to, as a ``dct:Standard``."""
        schema = formats.resolve_schema(ref)
        if schema is None:
            return None
        node: Node = URIRef(schema.url) if schema.url else BNode(f"schema-{schema.name}")
        if self._once(node):
            self.g.add((node, RDF.type, DCTERMS.Standard))
            self.g.add((node, DCTERMS.title, Literal(schema.name)))
            if schema.version:
                self.g.add((node, DCAT.version, Literal(schema.version)))
        return node

    def services(self, publisher: URIRef | None, hvd: list[Dataset] | None = None) -> list[URIRef]:
        """The JSON API and the CKAN-compatible API as ``dcat:DataService``.

        A service serving high-value datasets carries their categories, the HVD regulation,
        a contact point and a documentation page (as the HVD profile requires).
        """
        hvd = [d for d in hvd or [] if d.hvd_category]
        nodes = []
        for key, title, endpoint, description, standard in (
            (
                "api",
                "API JSON de Beffroi",
                f"{self.base}/api/v1",
                f"{self.base}/api/openapi.json",
                "https://spec.openapis.org/oas/v3.1.0",
            ),
            (
                "ckan",
                "API compatible CKAN (Action API v3)",
                f"{self.base}/api/3/action/",
                None,
                "https://docs.ckan.org/en/2.10/api/",
            ),
        ):
            node = URIRef(f"{self.base}/catalog/services/{key}")
            nodes.append(node)
            if not self._once(node):
                continue
            g = self.g
            g.add((node, RDF.type, DCAT.DataService))
            g.add((node, DCTERMS.title, Literal(title, lang=FR)))
            g.add((node, DCAT.endpointURL, self.typed(endpoint, RDFS.Resource)))
            if description:
                g.add((node, DCAT.endpointDescription, self.typed(description, RDFS.Resource)))
                g.add((node, DCAT.landingPage, self.document(f"{self.base}/api/docs")))
            g.add((node, DCTERMS.conformsTo, self.typed(standard, DCTERMS.Standard)))
            g.add((node, DCTERMS.accessRights, self.access_rights(AccessLevel.PUBLIC.value)))
            if publisher is not None:
                g.add((node, DCTERMS.publisher, publisher))
            if hvd:
                for dataset in hvd:
                    self.hvd(node, dataset)
                g.add((node, FOAF.page, self.document(f"{self.base}/api/docs")))
                contact = BNode(f"contact-service-{key}")
                g.add((node, DCAT.contactPoint, contact))
                g.add((contact, RDF.type, VCARD.Kind))
                g.add((contact, VCARD.fn, Literal(hvd[0].publisher.name)))
                g.add((contact, VCARD.hasURL, self.typed(f"{self.base}/", RDFS.Resource)))
        return nodes

    # ------------------------------------------------------------ datasets

    def dataset(self, dataset: Dataset, services: list[URIRef]) -> URIRef:
        """One ``dcat:Dataset`` with its distributions."""
        g = self.g
        node = dataset_uri(self.base, dataset)
        g.add((node, RDF.type, DCAT.Dataset))
        g.add((node, DCTERMS.identifier, Literal(dataset.store_key)))
        g.add((node, DCTERMS.title, Literal(dataset.title, lang=FR)))
        # dct:description is mandatory in DCAT-AP: an empty one falls back to the title (the
        # readiness check reports it as missing).
        description = dataset.description.strip() or dataset.title
        g.add((node, DCTERMS.description, Literal(description, lang=FR)))
        for keyword in dataset.keywords:
            g.add((node, DCAT.keyword, Literal(keyword, lang=FR)))
        for theme in dataset.themes:
            g.add((node, DCAT.theme, self.concept("data-theme", theme, THEMES[theme])))
        publisher = self.organization(dataset.publisher)
        g.add((node, DCTERMS.publisher, publisher))
        g.add((node, DCAT.landingPage, self.document(formats.landing_page(self.base, dataset))))
        g.add((node, DCTERMS.language, self.language()))
        g.add((node, DCTERMS.accessRights, self.access_rights(dataset.access_level)))
        g.add((node, DCTERMS.issued, _datetime(dataset.created_at)))
        g.add((node, DCTERMS.modified, _datetime(_modified(dataset))))
        self.contact(node, dataset)
        if dataset.frequency:
            label = FREQUENCIES[dataset.frequency]
            frequency = self.concept("frequency", dataset.frequency, label, DCTERMS.Frequency)
            g.add((node, DCTERMS.accrualPeriodicity, frequency))
        for item in dataset.spatial:
            g.add((node, DCTERMS.spatial, self.location(item)))
        if dataset.spatial_granularity:
            g.add((node, BEFFROI.spatialGranularity, Literal(dataset.spatial_granularity)))
        self.temporal(node, dataset)
        standard = self.standard(dataset.schema_ref)
        if standard is not None:
            g.add((node, DCTERMS.conformsTo, standard))
        self.hvd(node, dataset)
        self.source(node, dataset)
        version = dataset.published_version
        if version is not None:
            g.add((node, DCAT.version, Literal(str(version.number))))
            for fmt in formats.downloads(dataset):
                g.add((node, DCAT.distribution, self.distribution(dataset, fmt, services)))
        return node

    def contact(self, node: URIRef, dataset: Dataset) -> None:
        """``dcat:contactPoint``: one ``vcard:Kind`` (none when name and e-mail are empty)."""
        if not (dataset.contact_name or dataset.contact_email):
            return
        g = self.g
        contact = BNode(f"contact-{dataset.store_key}")
        g.add((node, DCAT.contactPoint, contact))
        g.add((contact, RDF.type, VCARD.Kind))
        g.add((contact, VCARD.fn, Literal(dataset.contact_name or dataset.publisher.name)))
        if dataset.contact_email:
            email = self.typed(f"mailto:{dataset.contact_email}", RDFS.Resource)
            g.add((contact, VCARD.hasEmail, email))

    def source(self, node: URIRef, dataset: Dataset) -> None:
        """A harvested dataset's remote identifier (``adms:identifier``), kept for good."""
        remote = self.harvested().get(dataset.id)
        if remote is None:
            return
        remote_id, remote_uri = remote
        identifier = BNode(f"harvested-{dataset.store_key}")
        self.g.add((node, ADMS.identifier, identifier))
        self.g.add((identifier, RDF.type, ADMS.Identifier))
        self.g.add((identifier, SKOS.notation, Literal(remote_uri or remote_id)))

    def harvested(self) -> dict[int, tuple[str, str | None]]:
        """Remote identifiers of the harvested datasets (one query per graph)."""
        if self._harvested is None:
            from beffroi.harvest.records import remote_identifiers  # noqa: PLC0415

            self._harvested = remote_identifiers(self.session)
        return self._harvested

    def temporal(self, node: URIRef, dataset: Dataset) -> None:
        """``dct:temporal``: one ``dct:PeriodOfTime``, either bound optional."""
        if not (dataset.temporal_start or dataset.temporal_end):
            return
        g = self.g
        period = BNode(f"period-{dataset.store_key}")
        g.add((node, DCTERMS.temporal, period))
        g.add((period, RDF.type, DCTERMS.PeriodOfTime))
        if dataset.temporal_start:
            g.add((period, DCAT.startDate, Literal(dataset.temporal_start, datatype=XSD.date)))
        if dataset.temporal_end:
            g.add((period, DCAT.endDate, Literal(dataset.temporal_end, datatype=XSD.date)))

    def distribution(
        self, dataset: Dataset, fmt: formats.ExportFormat, services: list[URIRef]
    ) -> URIRef:
        """One download of the published version."""
        g = self.g
        key = formats.resource_id(dataset, fmt)
        node = URIRef(f"{dataset_uri(self.base, dataset)}/distributions/{key}")
        url = URIRef(formats.export_url(self.base, dataset, fmt))
        g.add((node, RDF.type, DCAT.Distribution))
        g.add((node, DCTERMS.identifier, Literal(key)))
        g.add((node, DCTERMS.title, Literal(f"{dataset.title} — {fmt.title}", lang=FR)))
        g.add((node, DCAT.accessURL, url))
        g.add((node, DCAT.downloadURL, url))
        g.add((url, RDF.type, RDFS.Resource))
        for uri in legislation(dataset):
            g.add((node, DCATAP.applicableLegislation, self.law(uri)))
        g.add((node, DCAT.mediaType, self.typed(fmt.media_type_uri, DCTERMS.MediaType)))
        g.add(
            (
                node,
                DCTERMS.format,
                self.concept("file-type", fmt.file_type, fmt.label, DCTERMS.MediaTypeOrExtent),
            )
        )
        license_node = self.license(dataset.license)
        if license_node is not None:
            g.add((node, DCTERMS.license, license_node))
        g.add((node, DCTERMS.accessRights, self.access_rights(dataset.access_level)))
        version = dataset.published_version
        if version is not None:
            published = version.published_at or version.created_at
            g.add((node, DCTERMS.issued, _datetime(published)))
            g.add((node, DCTERMS.modified, _datetime(published)))
        if fmt in formats.PACKAGE_FORMATS:
            spec = self.typed(formats.DATAPACKAGE_SPEC, DCTERMS.Standard)
            g.add((spec, DCTERMS.title, Literal("Frictionless Data Package")))
            g.add((node, DCTERMS.conformsTo, spec))
        else:
            standard = self.standard(dataset.schema_ref)
            if standard is not None:
                g.add((node, DCTERMS.conformsTo, standard))
            if services:
                g.add((node, DCAT.accessService, services[0]))
        return node

    def catalog(self, datasets: list[Dataset], total: int, page: CatalogPage) -> URIRef:
        """The ``dcat:Catalog`` of one page of datasets, with its Hydra paging view."""
        g = self.g
        node = catalog_uri(self.base)
        epci = public.platform_epci(self.session)
        publisher: URIRef
        if epci is not None:
            publisher = self.organization(epci)
            title = f"Catalogue des données ouvertes — {epci.name}"
        else:  # an instance without its EPCI yet: the platform itself publishes
            publisher = URIRef(f"{self.base}/")
            g.add((publisher, RDF.type, FOAF.Agent))
            g.add((publisher, FOAF.name, Literal("Beffroi", lang=FR)))
            title = "Catalogue des données ouvertes"
        g.add((node, RDF.type, DCAT.Catalog))
        g.add((node, DCTERMS.title, Literal(title, lang=FR)))
        g.add(
            (
                node,
                DCTERMS.description,
                Literal(
                    "Jeux de données publics de l'intercommunalité, de ses communes membres, "
                    "de leurs services et de leurs partenaires, publiés avec Beffroi "
                    f"{__version__}.",
                    lang=FR,
                ),
            )
        )
        g.add((node, DCTERMS.publisher, publisher))
        g.add((node, FOAF.homepage, self.document(f"{self.base}/")))
        g.add((node, DCTERMS.language, self.language()))
        g.add((node, DCAT.themeTaxonomy, self.scheme("data-theme")))
        if epci is not None and epci.siren:
            g.add((node, DCTERMS.spatial, self.location(f"epci:{epci.siren}")))
        services = self.services(publisher, datasets)
        for service in services:
            g.add((node, DCAT.service, service))
        latest: dt.datetime | None = None
        for dataset in datasets:
            dataset_node = self.dataset(dataset, services)
            g.add((node, DCAT.dataset, dataset_node))
            for service in services:
                g.add((service, DCAT.servesDataset, dataset_node))
            modified = _modified(dataset)
            latest = modified if latest is None or modified > latest else latest
        if latest is not None:
            g.add((node, DCTERMS.modified, _datetime(latest)))
        self.paging(node, total, page)
        return node

    def paging(self, node: URIRef, total: int, page: CatalogPage) -> None:
        """Hydra collection and ``hydra:PartialCollectionView`` (as data.gouv.fr's own)."""
        g = self.g
        last = max(1, -(-total // page.page_size))

        def at(number: int) -> URIRef:
            return URIRef(f"{self.base}/catalog{page.suffix}?page={number}")

        g.add((node, RDF.type, HYDRA.Collection))
        g.add((node, HYDRA.totalItems, Literal(total, datatype=XSD.integer)))
        view = at(page.page)
        g.add((node, HYDRA.view, view))
        g.add((view, RDF.type, HYDRA.PartialCollectionView))
        g.add((view, HYDRA.first, at(1)))
        g.add((view, HYDRA.last, at(last)))
        if page.page < last:
            g.add((view, HYDRA.next, at(page.page + 1)))
        if page.page > 1:
            g.add((view, HYDRA.previous, at(min(page.page - 1, last))))


def _modified(dataset: Dataset) -> dt.datetime:
    """Last change of the record or of its published data."""
    version = dataset.published_version
    published = version.published_at if version is not None else None
    if published is not None and published > dataset.modified_at:
        return published
    return dataset.modified_at


def _datetime(value: dt.datetime) -> Literal:
    return Literal(value.astimezone(dt.UTC).replace(microsecond=0), datatype=XSD.dateTime)


def catalog_graph(session: Session, base_url: str, page: CatalogPage) -> Graph:
    """One page of the public catalogue as a DCAT-AP 3 graph."""
    total = public.count_public(session)
    datasets = public.public_datasets(
        session, offset=(page.page - 1) * page.page_size, limit=page.page_size
    )
    builder = _Builder(session, base_url)
    builder.catalog(datasets, total, page)
    return builder.g


def dataset_graph(session: Session, base_url: str, key: str) -> Graph:
    """One public dataset (by store key or slug), with its distributions and publisher."""
    dataset = public.public_dataset_by_key(session, key)
    builder = _Builder(session, base_url)
    services = builder.services(None, [dataset])
    node = builder.dataset(dataset, services)
    builder.g.add((catalog_uri(base_url), DCAT.dataset, node))
    return builder.g
