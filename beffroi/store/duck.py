"""DuckDB connections with extensions loaded from the pinned wheels (nothing is downloaded).

DuckDB would otherwise try to fetch extensions from the internet on first use. Each extension
ships as a ``duckdb-extension-<name>`` wheel holding one ``<name>.duckdb_extension`` file built
for exactly this DuckDB version; we turn auto-install and auto-load off and ``LOAD`` that file.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Iterable, Mapping
from pathlib import Path

import duckdb

from beffroi.errors import ConfigurationError

NO_DOWNLOADS: dict[str, str | bool | int | float | list[str]] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}


@functools.cache
def extension_path(name: str) -> Path:
    """The ``.duckdb_extension`` file of the installed ``duckdb-extension-<name>`` wheel."""
    wheel = f"duckdb-extension-{name}=={duckdb.__version__}"
    spec = importlib.util.find_spec(f"duckdb_extension_{name}")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigurationError(
            f"Extension DuckDB « {name} » absente", hint=f"installez-la : pip install {wheel}"
        )
    found: list[Path] = []
    for location in spec.submodule_search_locations:
        found += Path(location).rglob(f"{name}.duckdb_extension")
    # Prefer the build for this DuckDB version (the wheel nests it under ``v<version>``).
    exact = [path for path in found if f"v{duckdb.__version__}" in path.parts]
    if not (exact or found):
        raise ConfigurationError(
            f"Fichier {name}.duckdb_extension introuvable dans le paquet duckdb_extension_{name}",
            hint=f"réinstallez-le : pip install --force-reinstall {wheel}",
        )
    return sorted(exact or found)[0]


def connect(
    database: str = ":memory:",
    *,
    extensions: Iterable[str] = ("delta",),
    config: Mapping[str, str | bool | int | float | list[str]] | None = None,
) -> duckdb.DuckDBPyConnection:
    """A connection with auto-install/auto-load off and ``extensions`` loaded from their wheels."""
    connection = duckdb.connect(database, config={**NO_DOWNLOADS, **(config or {})})
    try:
        for name in extensions:
            literal = str(extension_path(name)).replace("'", "''")
            connection.execute(f"LOAD '{literal}'")
    except BaseException:
        connection.close()
        raise
    return connection
