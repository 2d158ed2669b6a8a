"""Download a file to ingest from an http(s) URL: bounded size and time, no internal hosts.

A référent or a partner can point Beffroi at the URL of an export instead of uploading it.
The server then makes the request itself, so it must not become a way into the internal
network (SSRF): every address the host name resolves to — and, after a redirect, every new
host's — must be a public one, unless the administrator allows private networks
(``BEFFROI_FETCH_ALLOW_PRIVATE_NETWORKS``, for an intranet source). A host whose name
resolves again to another address between the check and the connection (DNS rebinding) is
the residual risk; instances exposed to untrusted users should also filter egress.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from http.client import HTTPMessage
from pathlib import Path, PurePosixPath
from typing import IO, Any
from urllib.parse import unquote, urlsplit

from beffroi import __version__
from beffroi.errors import InvalidInputError, PayloadTooLargeError, ServiceUnavailableError

CHUNK = 1 << 20
MAX_REDIRECTS = 5
URL_RE = re.compile(r"^https?://", re.IGNORECASE)

FetchProgress = Callable[[int, int | None], None]  # bytes received, announced total


def is_url(value: str) -> bool:
    """Whether ``value`` is an http(s) URL (rather than a file path)."""
    return bool(URL_RE.match(value))


@dataclass(frozen=True, slots=True)
class Fetched:
    """A downloaded file."""

    path: Path
    name: str  # a label: from Content-Disposition or the URL's last segment
    bytes: int
    content_type: str | None


def fetch(
    url: str,
    directory: Path,
    *,
    max_bytes: int,
    timeout: float,
    allow_private: bool = False,
    on_progress: FetchProgress | None = None,
) -> Fetched:
    """Download ``url`` into ``directory`` (as ``source<ext>``); raise a user error otherwise."""
    check_url(url, allow_private=allow_private)
    opener = urllib.request.build_opener(_Redirects(allow_private))
    request = urllib.request.Request(  # noqa: S310 - scheme checked by check_url
        url, headers={"User-Agent": f"Beffroi/{__version__}", "Accept": "*/*"}
    )
    try:
        response = opener.open(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        raise InvalidInputError(
            f"Le serveur distant a répondu {exc.code} {exc.reason} pour {url}",
            hint="vérifiez l'adresse (le fichier est-il public ?) ou téléversez le fichier",
            message_en=f"The remote server answered {exc.code} {exc.reason} for {url}",
            hint_en="check the address (is the file public?) or upload the file",
            details={"url": url, "status": exc.code},
        ) from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        raise ServiceUnavailableError(
            f"Téléchargement impossible depuis {url} : {reason}",
            hint="vérifiez l'adresse et que le serveur répond, puis réessayez",
            message_en=f"Could not download {url}: {reason}",
            hint_en="check the address and that the server answers, then try again",
            details={"url": url},
        ) from None
    with response:
        total = _length(response.headers)
        if total is not None and total > max_bytes:
            raise _too_large(url, max_bytes)
        name = _name(response.headers, response.geturl())
        suffix = "".join(c for c in PurePosixPath(name).suffix.lower() if c.isalnum() or c == ".")
        target = directory / f"source{suffix[:10]}"
        received = _copy(response, target, url, max_bytes, timeout, total, on_progress)
        return Fetched(target, name, received, response.headers.get_content_type())


def check_url(url: str, *, allow_private: bool = False) -> None:
    """Refuse what is not an http(s) URL to a public host (see the module docstring)."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in {"http", "https"} or not parts.hostname:
        raise InvalidInputError(
            f"Adresse non prise en charge : {url!r}",
            hint="donnez une adresse http:// ou https:// complète",
            message_en=f"Unsupported address: {url!r}",
            hint_en="give a full http:// or https:// address",
            details={"url": url},
        )
    if parts.username or parts.password:
        raise InvalidInputError(
            "Adresse avec identifiants refusée",
            hint="les identifiants dans l'URL finiraient dans les journaux : publiez le fichier "
            "sans authentification ou téléversez-le",
            message_en="Address with credentials refused",
            hint_en="credentials in a URL would end up in the logs: publish the file without "
            "authentication or upload it",
            details={"url": parts._replace(netloc=parts.hostname).geturl()},
        )
    if allow_private:
        return
    try:
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        infos = socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, ValueError) as exc:
        raise InvalidInputError(
            f"Hôte introuvable : {parts.hostname} ({exc})",
            hint="vérifiez l'orthographe de l'adresse",
            message_en=f"Unknown host: {parts.hostname} ({exc})",
            hint_en="check the spelling of the address",
            details={"url": url},
        ) from None
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if not address.is_global:
            raise InvalidInputError(
                f"Adresse interne refusée : {parts.hostname} ({address})",
                hint="Beffroi ne télécharge que depuis des serveurs publics ; l'administrateur "
                "peut autoriser les réseaux privés (BEFFROI_FETCH_ALLOW_PRIVATE_NETWORKS)",
                message_en=f"Internal address refused: {parts.hostname} ({address})",
                hint_en="Beffroi only downloads from public servers; the administrator may allow "
                "private networks (BEFFROI_FETCH_ALLOW_PRIVATE_NETWORKS)",
                details={"url": url, "address": str(address)},
            )


class _Redirects(urllib.request.HTTPRedirectHandler):
    """Follow at most ``MAX_REDIRECTS`` redirects, each target checked like the first URL."""

    max_redirections = MAX_REDIRECTS

    def __init__(self, allow_private: bool) -> None:
        super().__init__()
        self.allow_private = allow_private

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        # An InvalidInputError raised here goes through urllib unchanged.
        check_url(newurl, allow_private=self.allow_private)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _copy(
    response: Any,
    target: Path,
    url: str,
    max_bytes: int,
    timeout: float,
    total: int | None,
    on_progress: FetchProgress | None,
) -> int:
    received = 0
    try:
        with target.open("wb") as out:
            while chunk := response.read(CHUNK):
                received += len(chunk)
                if received > max_bytes:
                    break
                out.write(chunk)
                if on_progress is not None:
                    on_progress(received, total)
    except (TimeoutError, OSError) as exc:
        target.unlink(missing_ok=True)
        raise ServiceUnavailableError(
            f"Téléchargement interrompu depuis {url} après {received} octets : {exc}",
            hint=f"réessayez (délai par lecture : {timeout:g} s)",
            message_en=f"Download from {url} interrupted after {received} bytes: {exc}",
            hint_en=f"try again (time limit per read: {timeout:g} s)",
            details={"url": url, "bytes": received},
        ) from None
    if received > max_bytes:
        target.unlink(missing_ok=True)
        raise _too_large(url, max_bytes)
    if total is not None and received < total:
        target.unlink(missing_ok=True)
        raise ServiceUnavailableError(
            f"Téléchargement incomplet depuis {url} : {received} octets sur {total} annoncés",
            hint="réessayez ; si cela se répète, le serveur distant coupe la connexion",
            message_en=f"Incomplete download from {url}: {received} of {total} bytes announced",
            hint_en="try again; if it happens again, the remote server drops the connection",
            details={"url": url, "bytes": received},
        )
    return received


def _too_large(url: str, max_bytes: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"Fichier distant de plus de {max_bytes // (1 << 20)} Mo refusé : {url}",
        hint="découpez le fichier ou demandez à l'administrateur de relever BEFFROI_UPLOAD_MAX_MB",
        message_en=f"Remote file larger than {max_bytes // (1 << 20)} MB refused: {url}",
        hint_en="split the file or ask the administrator to raise BEFFROI_UPLOAD_MAX_MB",
        details={"url": url, "limit": max_bytes},
    )


def _length(headers: Message) -> int | None:
    value = headers.get("Content-Length")
    if value is None or not value.strip().isdigit():
        return None
    return int(value)


def _name(headers: Message, url: str) -> str:
    """The file's name: ``Content-Disposition``'s, else the URL's last path segment."""
    disposition = headers.get_filename()
    candidate = disposition or unquote(PurePosixPath(urlsplit(url).path).name)
    name = PurePosixPath(candidate.replace("\\", "/")).name.strip()
    return (name or "telechargement")[:200]


__all__ = ["Fetched", "check_url", "fetch", "is_url"]
