"""Request bodies are bounded *before* they are read, and uploads need credentials first.

Starlette parses (and spools to disk) a multipart body before the endpoint runs, so the
endpoint's own size check and permission check come too late to stop a 50 GB upload or an
anonymous one from filling the disk. This ASGI middleware answers 413 from the
``Content-Length`` header alone, counts the bytes of bodies sent without one (chunked) and
stops at the limit, and answers 401 at once to an upload that carries no credentials at all
(no bearer token, no session cookie). The endpoint still checks everything properly.
"""

from __future__ import annotations

import re
from typing import Final

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from beffroi.errors import AuthenticationError, BeffroiError, PayloadTooLargeError
from beffroi.web.errors import render_error
from beffroi.web.security import SESSION_COOKIE

MULTIPART_MARGIN: Final = 1024 * 1024
"""Bytes allowed beyond the file limit for the multipart framing and the other form fields."""

_UPLOAD_PATH: Final = re.compile(r"^/api/v1/datasets/[^/]+/uploads/?$")


class BodyLimitMiddleware:
    """413 for bodies over ``max_bytes``; 401 for credential-less uploads (see module)."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in {"GET", "HEAD", "OPTIONS"}:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        if _UPLOAD_PATH.match(scope["path"]) and not _has_credentials(request):
            await self._refuse(request, send, _no_credentials())
            return
        length = request.headers.get("content-length")
        if length is not None and length.strip().isdigit() and int(length) > self.max_bytes:
            await self._refuse(request, send, self._too_large())
            return
        received = 0
        exceeded = False
        replaced = False

        async def bounded_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    exceeded = True
                    raise self._too_large()  # stops the app's body parsing
            return message

        async def checked_send(message: Message) -> None:
            # The framework turns a failed body parse into its own 400: answer 413 instead.
            nonlocal replaced
            if not exceeded:
                await send(message)
            elif not replaced:
                replaced = True
                await self._refuse(request, send, self._too_large())

        await self.app(scope, bounded_receive, checked_send)

    def _too_large(self) -> PayloadTooLargeError:
        limit_mb = max(1, (self.max_bytes - MULTIPART_MARGIN) // (1024 * 1024))
        return PayloadTooLargeError(
            f"Requête de plus de {limit_mb} Mo refusée",
            hint="découpez le fichier, donnez son adresse (champ url) ou demandez à "
            "l'administrateur de relever BEFFROI_UPLOAD_MAX_MB",
            message_en=f"Request larger than {limit_mb} MB refused",
            hint_en="split the file, give its address (url field) or ask the administrator to "
            "raise BEFFROI_UPLOAD_MAX_MB",
        )

    @staticmethod
    async def _refuse(request: Request, send: Send, error: BeffroiError) -> None:
        response = render_error(request, error)
        response.headers["Connection"] = "close"  # the unread body must not be parsed
        await response(request.scope, _no_receive, send)


def _has_credentials(request: Request) -> bool:
    authorization = request.headers.get("authorization", "")
    return authorization.lower().startswith("bearer ") or SESSION_COOKIE in request.cookies


def _no_credentials() -> AuthenticationError:
    return AuthenticationError(
        "Connexion requise pour déposer un fichier",
        hint="passez un jeton : Authorization: Bearer <jeton> (beffroi token create)",
        message_en="Sign-in required to upload a file",
        hint_en="send a token: Authorization: Bearer <token> (beffroi token create)",
    )


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}
