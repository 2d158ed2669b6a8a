"""Queries over the dataset versions an actor may read: sandboxed DuckDB engine, records
API, SQL, exports. Access is decided by :mod:`beffroi.access.reading`, never here."""
