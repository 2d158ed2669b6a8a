"""Access control: the only place that decides who sees and does what.

Every read path (HTML pages, JSON API, CLI, later CKAN/DCAT/SQL/exports) asks
:func:`readable_datasets` for the SQL filter of the datasets an actor may see; every
write asks :func:`require` for permission.
"""

from beffroi.access.actors import Actor, ActorKind
from beffroi.access.policy import (
    Action,
    can,
    dataset_visible,
    readable_datasets,
    require,
)
from beffroi.access.reading import ReadableTable, readable_table, readable_tables  # noqa: F401

__all__ = [
    "Action",
    "Actor",
    "ActorKind",
    "can",
    "dataset_visible",
    "readable_datasets",
    "require",
]
