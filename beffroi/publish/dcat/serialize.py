"""RDF serialisations of the catalogue and their negotiation (Accept header or suffix)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from rdflib import Graph

from beffroi.errors import NotFoundError
from beffroi.publish.dcat.vocab import PREFIXES


@dataclass(frozen=True, slots=True)
class RdfFormat:
    """One serialisation: URL suffix, media type, rdflib plugin name."""

    suffix: str
    media_type: str
    plugin: str


TURTLE = RdfFormat("ttl", "text/turtle", "turtle")
JSONLD = RdfFormat("jsonld", "application/ld+json", "json-ld")
RDFXML = RdfFormat("rdf", "application/rdf+xml", "pretty-xml")
FORMATS: Final = {f.suffix: f for f in (TURTLE, JSONLD, RDFXML)}

# Media types a client may ask for, and the format each gets.
_ACCEPTED: Final = {
    "text/turtle": TURTLE,
    "application/x-turtle": TURTLE,
    "application/ld+json": JSONLD,
    "application/json": JSONLD,
    "application/rdf+xml": RDFXML,
    "application/xml": RDFXML,
    "text/xml": RDFXML,
}


def by_suffix(suffix: str) -> RdfFormat:
    """The format of a ``.ttl`` / ``.jsonld`` / ``.rdf`` suffix, or a NotFoundError."""
    try:
        return FORMATS[suffix]
    except KeyError:
        raise NotFoundError(
            f"Format de catalogue inconnu : .{suffix}",
            hint="utilisez .ttl (Turtle), .jsonld (JSON-LD) ou .rdf (RDF/XML)",
        ) from None


def negotiate(accept: str | None) -> RdfFormat:
    """The best format for an ``Accept`` header (quality values honoured); Turtle by default."""
    best: tuple[float, int, RdfFormat] | None = None
    for position, item in enumerate((accept or "").split(",")):
        media, *params = (part.strip() for part in item.split(";"))
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        fmt = _ACCEPTED.get(media.lower())
        if fmt is None or quality <= 0:
            continue
        candidate = (quality, -position, fmt)
        if best is None or candidate[:2] > best[:2]:
            best = candidate
    return best[2] if best else TURTLE


def serialize(graph: Graph, fmt: RdfFormat) -> bytes:
    """The graph written in ``fmt`` (UTF-8)."""
    if fmt is JSONLD:
        data = graph.serialize(format="json-ld", context=dict(PREFIXES), auto_compact=True)
        return data.encode("utf-8")
    return graph.serialize(format=fmt.plugin, encoding="utf-8")
