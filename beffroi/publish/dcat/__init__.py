"""DCAT-AP 3 catalogue of the public datasets (``/catalog``), built with rdflib.

:func:`catalog_graph` builds one page of the catalogue (Hydra paging), :func:`dataset_graph`
one dataset's description; :func:`serialize` writes either as Turtle, JSON-LD or RDF/XML.
The mapping of every field is documented in ``docs/reference/dcat-mapping.md``.
"""

from beffroi.publish.dcat.graph import CatalogPage, catalog_graph, dataset_graph, dataset_uri
from beffroi.publish.dcat.serialize import FORMATS, RdfFormat, by_suffix, negotiate, serialize

__all__ = [
    "FORMATS",
    "CatalogPage",
    "RdfFormat",
    "by_suffix",
    "catalog_graph",
    "dataset_graph",
    "dataset_uri",
    "negotiate",
    "serialize",
]
