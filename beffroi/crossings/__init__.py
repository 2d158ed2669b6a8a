"""Crossings: derived datasets (SQL or declarative joins), recomputed when a source
publishes, with their lineage (:mod:`beffroi.crossings.services`)."""
