"""Validate graphs against the DCAT-AP 3.0.1 SHACL shapes of ``../shared/data/dcat``.

Three shape sets are checked, each in its own shapes graph: the full shapes with their class
ranges (``shacl/dcat-ap-SHACL.ttl`` + ``shacl/ranges.ttl``), the controlled-vocabulary shapes
(``shacl-modular/mdr-vocabularies.shape.ttl``) and the deprecated-term shapes. The published
3.0.1 files reference five property shapes that are defined nowhere (no triple at all: they
constrain nothing, but pyshacl refuses a shapes graph with them); those dangling references
are dropped, nothing else is changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

import pyshacl
from rdflib import Graph
from rdflib.namespace import SH

from tests.conftest import SHARED_DATA

DCAT_AP = SHARED_DATA / "dcat" / "dcat-ap-3.0.1"
SHAPE_SETS = {
    "dcat-ap": ("shacl/dcat-ap-SHACL.ttl", "shacl/ranges.ttl"),
    "vocabularies": ("shacl-modular/mdr-vocabularies.shape.ttl",),
    "deprecated": ("shacl-modular/deprecateduris.ttl",),
}


@dataclass
class Report:
    """Results of all shape sets: violations (with where) and warnings, counted."""

    violations: list[str] = field(default_factory=list)
    warnings: int = 0


@cache
def shapes(name: str) -> Graph:
    graph = Graph()
    for relative in SHAPE_SETS[name]:
        graph.parse(DCAT_AP / relative)
    for shape, prop in list(graph.subject_objects(SH.property)):
        if graph.value(prop, SH.path) is None and not list(graph.predicate_objects(prop)):
            graph.remove((shape, SH.property, prop))
    return graph


def validate(data: Graph) -> Report:
    """Every top-level SHACL result of the data graph, by severity."""
    report = Report()
    for name in SHAPE_SETS:
        _conforms, results, _text = pyshacl.validate(
            data, shacl_graph=shapes(name), inference=None, allow_warnings=True
        )
        for result in results.objects(None, SH.result):
            severity = results.value(result, SH.resultSeverity)
            if severity == SH.Violation:
                report.violations.append(
                    f"[{name}] {results.value(result, SH.focusNode)} "
                    f"{results.value(result, SH.resultPath)}: "
                    f"{results.value(result, SH.resultMessage)}"
                )
            else:
                report.warnings += 1
    return report
