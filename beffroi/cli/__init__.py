"""The ``beffroi`` command line (click). One module per command group.

Every :class:`~beffroi.errors.BeffroiError` is shown as one line plus a fix hint, with a
non-zero exit code; ``--debug`` shows the traceback instead. A command's module is imported
only when the command runs (:data:`COMMAND_MODULES`; a test checks the table against what the
modules register).
"""

from __future__ import annotations

import os
import sys

from beffroi.cli.base import Finished, cli

COMMAND_MODULES: dict[str, str] = {
    "agreement": "beffroi.cli.agreement",
    "conformance": "beffroi.cli.validate",
    "dataset": "beffroi.cli.dataset",
    "demo": "beffroi.cli.instance",
    "docs": "beffroi.cli.instance",
    "feed": "beffroi.cli.harvest",
    "harvest": "beffroi.cli.harvest",
    "indicator": "beffroi.cli.indicator",
    "ingest": "beffroi.cli.ingest",
    "init": "beffroi.cli.instance",
    "member": "beffroi.cli.user",
    "org": "beffroi.cli.org",
    "privacy": "beffroi.cli.privacy",
    "publish": "beffroi.cli.publish",
    "reference": "beffroi.cli.reference",
    "review": "beffroi.cli.review",
    "schema": "beffroi.cli.validate",
    "serve": "beffroi.cli.instance",
    "sql": "beffroi.cli.sql",
    "token": "beffroi.cli.user",
    "user": "beffroi.cli.user",
    "validate": "beffroi.cli.validate",
    "version": "beffroi.cli.ingest",
    "view": "beffroi.cli.view",
}
"""Each top-level command and the module that defines it."""

cli.lazy_commands.update(COMMAND_MODULES)


def main() -> None:
    """Entry point of the ``beffroi`` script."""
    Finished.requested = False
    try:
        cli(prog_name="beffroi")
    except SystemExit as done:
        if Finished.requested and isinstance(done.code, int):
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(done.code)
        raise


__all__ = ["COMMAND_MODULES", "cli", "main"]
