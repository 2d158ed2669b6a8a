"""Reference data of French local government: INSEE COG communes, départements, régions, EPCI.

Shipped with the package (``beffroi/reference/data``, built by ``scripts/build_reference.py``)
and loaded lazily on first use; never read from the network or from a source directory::

    >>> from beffroi import reference
    >>> reference.commune("01053").name
    'Bourg-en-Bresse'
    >>> [c.name for c in reference.epci_members("200071751")][:2]  # doctest: +SKIP

Vintages are in :data:`VINTAGE`; show :data:`ATTRIBUTION` wherever the data is displayed.
"""

from beffroi.reference.cog import (
    ATTRIBUTION,
    VINTAGE,
    Commune,
    Departement,
    Epci,
    EpciFinancing,
    EpciNature,
    Region,
    Typecom,
    commune,
    communes,
    departement,
    departements,
    epci,
    epci_members,
    epcis,
    find_epci,
    region,
    regions,
)

__all__ = [
    "ATTRIBUTION",
    "VINTAGE",
    "Commune",
    "Departement",
    "Epci",
    "EpciFinancing",
    "EpciNature",
    "Region",
    "Typecom",
    "commune",
    "communes",
    "departement",
    "departements",
    "epci",
    "epci_members",
    "epcis",
    "find_epci",
    "region",
    "regions",
]
