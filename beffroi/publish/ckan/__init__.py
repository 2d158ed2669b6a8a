"""CKAN Action API (read-only, public datasets): CKAN's field names, shapes and errors.

:func:`call` runs one action by name with CKAN's parameters (GET query strings or a POST JSON
body) and returns its ``result``; errors are Beffroi errors whose ``details["ckan_type"]``
names CKAN's ``__type`` (``Not Found Error``, ``Validation Error``, ``Search Query Error``…).
"""

from beffroi.publish.ckan.actions import (
    ACTIONS,
    ALL_ACTIONS,
    CKAN_VERSION,
    call,
    ckan_error_type,
)

__all__ = ["ACTIONS", "ALL_ACTIONS", "CKAN_VERSION", "call", "ckan_error_type"]
