"""Who may call a service: the identity in the client's certificate (under mutual TLS) and, optionally, a bearer
token. Both are checked by one server interceptor on the service's own RPCs; health and reflection stay open to any
client the TLS layer let in, so that probes need no special identity.

The Rust twin, `rust-services/src/auth.rs`, takes the same flags and answers with the same codes and messages.
"""

from __future__ import annotations

import argparse
import hmac
import logging
from typing import Awaitable, Callable, Sequence

import grpc

from interop_services.cli import ConfigError

# The identities allowed to call Discount unless --allow-client says otherwise: the services that call it.
DEFAULT_ALLOWED_CLIENTS = ("catalog", "order")

# One message for a missing and a wrong token: a caller learns nothing about which tokens exist.
BAD_TOKEN = "missing or invalid bearer token"

log = logging.getLogger("interop.auth")


def add_auth_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--allow-client", action="append", default=[], metavar="NAME",
                        help="a client identity (a DNS name in its certificate) allowed to call; repeat for more. "
                             f"Replaces the default ({', '.join(DEFAULT_ALLOWED_CLIENTS)}). Needs --client-ca")
    parser.add_argument("--token-file", metavar="PATH",
                        help="require 'authorization: Bearer TOKEN' on every call, TOKEN being this file's content")


def denied_message(client: str, service: str) -> str:
    """What a client whose certificate names `client` (its first DNS name; empty if none) is told."""
    return f'client identity "{client}" is not allowed to call {service}'


def read_token(flag: str, path: str) -> str:
    """A token file's content without surrounding whitespace: printable ASCII without spaces, as a header carries."""
    try:
        with open(path, "rb") as file:
            raw = file.read()
    except OSError as err:
        raise ConfigError(f"{flag} {path}", f"cannot read: [Errno {err.errno}] {err.strerror}") from err
    try:
        token = raw.decode("utf-8").strip()
    except UnicodeDecodeError as err:
        raise ConfigError(f"{flag} {path}", "the token must be printable ASCII without spaces") from err
    if not token:
        raise ConfigError(f"{flag} {path}", "holds no token")
    if not all(0x21 <= ord(c) <= 0x7E for c in token):
        raise ConfigError(f"{flag} {path}", "the token must be printable ASCII without spaces")
    return token


class Guard:
    """The checks one service makes on every call to it."""

    def __init__(self, service: str, allowed: Sequence[str] | None, token: str | None) -> None:
        self.service = service
        # None when clients present no certificate (no mutual TLS).
        self.allowed = tuple(allowed) if allowed is not None else None
        self.token = token

    @classmethod
    def from_args(cls, args: argparse.Namespace, mutual: bool, service: str) -> Guard:
        if args.allow_client and not mutual:
            raise ConfigError(f"--allow-client {args.allow_client[0]}", "client identities need --client-ca")
        token = read_token("--token-file", args.token_file) if args.token_file else None
        allowed = args.allow_client or DEFAULT_ALLOWED_CLIENTS
        return cls(service, allowed if mutual else None, token)

    def refusal(self, metadata: Sequence[tuple[str, str | bytes]], client_names: Sequence[str]
                ) -> tuple[grpc.StatusCode, str] | None:
        """Authentication first (the token says who may call at all), then authorization (whether this identity
        may); None lets the call through."""
        if self.token is not None and not self._bearer_matches(metadata):
            log.warning("call refused service=%s code=UNAUTHENTICATED", self.service)
            return grpc.StatusCode.UNAUTHENTICATED, BAD_TOKEN
        if self.allowed is not None and not any(name in self.allowed for name in client_names):
            client = client_names[0] if client_names else ""
            log.warning("call refused service=%s code=PERMISSION_DENIED client=%s", self.service, client)
            return grpc.StatusCode.PERMISSION_DENIED, denied_message(client, self.service)
        return None

    def _bearer_matches(self, metadata: Sequence[tuple[str, str | bytes]]) -> bool:
        assert self.token is not None
        value = next((v for k, v in metadata if k == "authorization"), None)
        if not isinstance(value, str):
            return False
        scheme, sep, given = value.partition(" ")
        # The scheme is case-insensitive (RFC 9110 section 11.1); the token is not. compare_digest takes the same
        # time however much of a guess was right.
        return bool(sep) and scheme.lower() == "bearer" and hmac.compare_digest(given.encode(), self.token.encode())


def dns_names(context: grpc.aio.ServicerContext) -> list[str]:
    """The DNS names in the client certificate's subject alternative names, in order (none without one)."""
    return [name.decode() for name in context.auth_context().get("peer_dns", [])]


class GuardInterceptor(grpc.aio.ServerInterceptor):
    """Applies a Guard to the unary methods of its service; other services (health, reflection) pass untouched."""

    def __init__(self, guard: Guard) -> None:
        self._guard = guard
        self._prefix = f"/{guard.service}/"

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None or not handler_call_details.method.startswith(self._prefix) or handler.unary_unary is None:
            return handler
        guard, inner = self._guard, handler.unary_unary

        # The certificate is known only inside the call (the context), so the check runs there, before the method.
        async def guarded(request: object, context: grpc.aio.ServicerContext) -> object:
            refusal = guard.refusal(context.invocation_metadata() or (), dns_names(context))
            if refusal is not None:
                await context.abort(*refusal)
            return await inner(request, context)

        return grpc.unary_unary_rpc_method_handler(
            guarded,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
