"""Saving an uploaded file to disk, bounded: one implementation for the API and the pages."""

from __future__ import annotations

from pathlib import Path

from fastapi import UploadFile

from beffroi.errors import PayloadTooLargeError

CHUNK = 1024 * 1024


def save_upload(file: UploadFile, target: Path, limit_mb: int) -> int:
    """Copy the upload to ``target`` in chunks, refusing it past ``limit_mb``; its size."""
    written = 0
    with target.open("wb") as out:
        while chunk := file.file.read(CHUNK):
            written += len(chunk)
            if written > limit_mb * 1024 * 1024:
                raise PayloadTooLargeError(
                    f"Fichier de plus de {limit_mb} Mo refusé",
                    hint="découpez le fichier ou demandez à l'administrateur de relever "
                    "BEFFROI_UPLOAD_MAX_MB",
                    message_en=f"File larger than {limit_mb} MB refused",
                    hint_en="split the file or ask the administrator to raise "
                    "BEFFROI_UPLOAD_MAX_MB",
                )
            out.write(chunk)
    return written
