"""Remote documents for the harvesters: each download goes through the URL ingestion's
guard (:func:`beffroi.ingest.fetch.fetch`: public hosts only, bounded size and time)."""

from __future__ import annotations

import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from beffroi import __version__
from beffroi.ingest.fetch import Fetched, check_url, fetch
from beffroi.settings import Settings


@dataclass(frozen=True, slots=True)
class Limits:
    """How remote files are fetched (from the settings)."""

    max_bytes: int
    timeout: float
    allow_private: bool

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        """The limits of the URL ingestion."""
        return cls(
            max_bytes=settings.upload_max_mb * 1024 * 1024,
            timeout=settings.fetch_timeout_s,
            allow_private=settings.fetch_allow_private_networks,
        )


def download(url: str, directory: Path, limits: Limits) -> Fetched:
    """Fetch ``url`` into ``directory`` (created) under the guard."""
    directory.mkdir(parents=True, exist_ok=True)
    return fetch(
        url,
        directory,
        max_bytes=limits.max_bytes,
        timeout=limits.timeout,
        allow_private=limits.allow_private,
    )


def read_document(url: str, limits: Limits) -> tuple[bytes, str | None]:
    """A remote document's bytes and media type (catalogue pages, API answers)."""
    with tempfile.TemporaryDirectory(prefix="beffroi-harvest-") as tmp:
        fetched = download(url, Path(tmp), limits)
        return fetched.path.read_bytes(), fetched.content_type


@dataclass(frozen=True, slots=True)
class Validators:
    """What a server says of a file's version without sending it (HTTP validators)."""

    etag: str | None
    last_modified: str | None

    def same_as(self, etag: str | None, last_modified: str | None) -> bool:
        """Whether these validators prove the file unchanged since the stored ones (a strong
        ETag equal, or no ETag at all and the same Last-Modified)."""
        if self.etag and not self.etag.startswith("W/"):
            return self.etag == etag
        return bool(self.last_modified) and not self.etag and self.last_modified == last_modified


def probe(url: str, limits: Limits) -> Validators:
    """A ``HEAD`` of ``url`` (checked by the guard; redirects not followed): its validators.

    Any failure gives no validators (the file is then downloaded and its content compared).
    """
    check_url(url, allow_private=limits.allow_private)
    request = urllib.request.Request(  # noqa: S310 - scheme checked by check_url
        url, method="HEAD", headers={"User-Agent": f"Beffroi/{__version__}"}
    )
    opener = urllib.request.build_opener(_NoRedirect())
    try:
        with opener.open(request, timeout=limits.timeout) as response:
            if response.status != 200:
                return Validators(None, None)
            return Validators(response.headers.get("ETag"), response.headers.get("Last-Modified"))
    except (urllib.error.URLError, TimeoutError, OSError, ValueError):
        return Validators(None, None)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect ends the probe (its target is checked when the file is downloaded)."""

    def redirect_request(self, *_args: object, **_kwargs: object) -> None:
        return None
