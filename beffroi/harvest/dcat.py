"""Read a remote DCAT catalogue (Turtle, RDF/XML or JSON-LD), following Hydra paging."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Final

from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, RDF, RDFS, SKOS
from rdflib.term import Node

from beffroi.errors import InvalidInputError
from beffroi.harvest import model
from beffroi.harvest.fetching import Limits, read_document
from beffroi.harvest.model import Distribution, RemoteDataset
from beffroi.publish.dcat.vocab import DCAT, DCATAP, HYDRA, VCARD

SCHEMA: Final = Namespace("http://schema.org/")
MAX_PAGES: Final = 1000
_FORMATS: Final = {
    "text/turtle": "turtle",
    "application/x-turtle": "turtle",
    "application/rdf+xml": "xml",
    "application/xml": "xml",
    "text/xml": "xml",
    "application/ld+json": "json-ld",
    "application/json": "json-ld",
}


def parse(body: bytes, media_type: str | None, url: str) -> Graph:
    """A catalogue page as a graph (format from its media type, else tried in turn)."""
    head = body[:200].lstrip(b"\xef\xbb\xbf \t\r\n")
    sniffed = "xml" if head.startswith(b"<") else "json-ld" if head[:1] in {b"{", b"["} else None
    declared = _FORMATS.get(media_type or "")
    guesses = [g for g in (sniffed, declared) if g]
    for name in (*guesses, "turtle", "xml", "json-ld"):
        graph = Graph()
        try:
            with warnings.catch_warnings():
                # rdflib's JSON-LD parser builds a ConjunctiveGraph, which rdflib itself
                # deprecates: not ours to fix, nor a reason to refuse the catalogue.
                warnings.simplefilter("ignore", DeprecationWarning)
                return graph.parse(data=body, format=name, publicID=url)
        except Exception:  # noqa: BLE001, S112 - each parser raises its own kinds (SAX, JSON…)
            continue
    raise InvalidInputError(
        f"Catalogue DCAT illisible : {url}",
        hint="l'adresse doit servir un catalogue en Turtle, RDF/XML ou JSON-LD",
        message_en=f"Unreadable DCAT catalogue: {url}",
        hint_en="the address must serve a catalogue in Turtle, RDF/XML or JSON-LD",
        details={"url": url, "content_type": media_type},
    )


def pages(url: str, limits: Limits) -> Iterator[Graph]:
    """The catalogue's pages, first to last (``hydra:next`` or udata's ``hydra:nextPage``)."""
    seen: set[str] = set()
    current: str | None = url
    while current and current not in seen and len(seen) < MAX_PAGES:
        seen.add(current)
        body, media_type = read_document(current, limits)
        graph = parse(body, media_type, current)
        yield graph
        following = [
            str(o)
            for predicate in (HYDRA.next, HYDRA.nextPage)
            for o in graph.objects(None, predicate)
        ]
        current = following[0] if following else None


def datasets(url: str, limits: Limits) -> Iterator[RemoteDataset]:
    """Every dataset of the remote catalogue, mapped."""
    for graph in pages(url, limits):
        for node in sorted(set(graph.subjects(RDF.type, DCAT.Dataset)), key=str):
            found = dataset(graph, node)
            if found is not None:
                yield found


def _text(graph: Graph, node: Node, predicate: URIRef) -> str | None:
    """A literal, French first."""
    values = [o for o in graph.objects(node, predicate) if isinstance(o, Literal)]
    values.sort(key=lambda o: (o.language not in {"fr", None}, o.language or ""))
    return str(values[0]).strip() if values else None


def _value(graph: Graph, node: Node, predicate: URIRef) -> str | None:
    """A URI or a literal, as text (a resource's label when it is a blank node)."""
    for obj in graph.objects(node, predicate):
        if isinstance(obj, URIRef):
            return str(obj)
        if isinstance(obj, Literal):
            return str(obj).strip()
        for label in (RDF.value, SKOS.prefLabel, RDFS.label, DCTERMS.identifier):
            text = _text(graph, obj, label)
            if text:
                return text
    return None


def dataset(graph: Graph, node: Node) -> RemoteDataset | None:
    """One ``dcat:Dataset`` as a :class:`RemoteDataset` (None without a title)."""
    title = _text(graph, node, DCTERMS.title)
    if not title:
        return None
    identifier = _text(graph, node, DCTERMS.identifier)
    uri = str(node) if isinstance(node, URIRef) else None
    remote_id = identifier or uri or f"title:{title}"
    distributions = [_distribution(graph, d) for d in graph.objects(node, DCAT.distribution)]
    license_value = _value(graph, node, DCTERMS.license) or next(
        (
            v
            for d in graph.objects(node, DCAT.distribution)
            if (v := _value(graph, d, DCTERMS.license))
        ),
        None,
    )
    themes = [t for o in graph.objects(node, DCAT.theme) if (t := model.theme(str(o)))]
    places = [s for o in graph.objects(node, DCTERMS.spatial) if (s := model.spatial(str(o)))]
    frequency_value = _value(graph, node, DCTERMS.accrualPeriodicity)
    fields = {
        "title": title,
        "description": _text(graph, node, DCTERMS.description) or "",
        "keywords": sorted(str(o) for o in graph.objects(node, DCAT.keyword)),
        "themes": sorted(themes),
        "license": model.license_code(license_value),
        "frequency": model.frequency(frequency_value) if frequency_value else None,
        "spatial": sorted(places),
        **_period(graph, node),
        **_contact(graph, node),
        "hvd_category": next(
            (
                c
                for o in graph.objects(node, DCATAP.hvdCategory)
                if (c := model.hvd_category(str(o)))
            ),
            None,
        ),
        "applicable_legislation": sorted(
            str(o)
            for o in graph.objects(node, DCATAP.applicableLegislation)
            if str(o).startswith("http://data.europa.eu/eli/")
        ),
    }
    return RemoteDataset(
        remote_id=remote_id,
        remote_uri=uri,
        slug_hint=title,  # identifiers are often opaque (ds-12, a UUID): the title reads
        fields=model.clean(fields),
        distributions=[d for d in distributions if d is not None],
    )


def _distribution(graph: Graph, node: Node) -> Distribution | None:
    url = _value(graph, node, DCAT.downloadURL) or _value(graph, node, DCAT.accessURL)
    if not url or not url.startswith(("http://", "https://")):
        return None
    label = _value(graph, node, DCTERMS.format)
    media = _value(graph, node, DCAT.mediaType)
    return Distribution(url, model.file_format(label, media, url))


def _period(graph: Graph, node: Node) -> dict[str, object]:
    for period in graph.objects(node, DCTERMS.temporal):
        start = next(
            (o for p in (DCAT.startDate, SCHEMA.startDate) for o in graph.objects(period, p)), None
        )
        end = next(
            (o for p in (DCAT.endDate, SCHEMA.endDate) for o in graph.objects(period, p)), None
        )
        return {
            "temporal_start": model.day(start.toPython() if isinstance(start, Literal) else None),
            "temporal_end": model.day(end.toPython() if isinstance(end, Literal) else None),
        }
    return {}


def _contact(graph: Graph, node: Node) -> dict[str, object]:
    for contact in graph.objects(node, DCAT.contactPoint):
        name = _text(graph, contact, VCARD.fn)
        email = _value(graph, contact, VCARD.hasEmail)
        if email:
            email = email.strip().removeprefix("mailto:").strip()
        return {
            "contact_name": name[:200] if name else None,
            "contact_email": email if email and "@" in email else None,
        }
    return {}
