"""Namespaces of the DCAT-AP 3 output."""

from __future__ import annotations

from typing import Final

from rdflib import Namespace
from rdflib.namespace import DCTERMS, FOAF, RDF, RDFS, SKOS, XSD

# rdflib's DCAT namespace is DCAT 2 (it warns on DCAT 3 terms such as dcat:version).
DCAT: Final = Namespace("http://www.w3.org/ns/dcat#")
VCARD: Final = Namespace("http://www.w3.org/2006/vcard/ns#")

ADMS: Final = Namespace("http://www.w3.org/ns/adms#")
DCATAP: Final = Namespace("http://data.europa.eu/r5r/")
LOCN: Final = Namespace("http://www.w3.org/ns/locn#")
HYDRA: Final = Namespace("http://www.w3.org/ns/hydra/core#")
GSP: Final = Namespace("http://www.opengis.net/ont/geosparql#")
ELI: Final = Namespace("http://data.europa.eu/eli/ontology#")
# Properties DCAT-AP has no term for (data.gouv.fr's spatial granularity): validators accept
# them, other harvesters ignore them.
BEFFROI: Final = Namespace("https://w3id.org/beffroi/ns#")
PUBLISHER_TYPE: Final = Namespace("http://purl.org/adms/publishertype/")
INSEE_COMMUNE: Final = "http://id.insee.fr/geo/commune/"
INSEE_EPCI: Final = "http://id.insee.fr/geo/intercommunalite/"

PREFIXES: Final = {
    "dcat": str(DCAT),
    "dct": str(DCTERMS),
    "foaf": str(FOAF),
    "vcard": str(VCARD),
    "adms": str(ADMS),
    "skos": str(SKOS),
    "xsd": str(XSD),
    "rdf": str(RDF),
    "rdfs": str(RDFS),
    "dcatap": str(DCATAP),
    "locn": str(LOCN),
    "hydra": str(HYDRA),
    "gsp": str(GSP),
    "eli": str(ELI),
    "beffroi": str(BEFFROI),
}
