"""Open-data publication surfaces: DCAT-AP 3 catalogue, CKAN Action API, Data Package, and the
data.gouv.fr readiness check.

Every surface here shows only the datasets the **anonymous actor** may read, as decided by
:func:`beffroi.access.readable_datasets` (:mod:`beffroi.publish.public`); none decides
visibility itself.
"""
