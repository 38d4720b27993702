"""Certificates and keys: read and checked once at start, then turned into gRPC credentials or an SSLContext.

Checking with Python's ssl module up front means a wrong file is reported as `--flag path: why` before anything
listens, instead of as a failed handshake much later (grpcio only parses PEM when the first connection arrives).

The HTTPS server accepts TLS itself (`handshaking`) rather than through asyncio's built-in server TLS, for one reason:
to log why a handshake failed. A refused client often cannot tell why (TLS 1.3 lets it send its request before the
server has checked its certificate, and asyncio closes without an alert), so the server's log is where the reason is
read. grpcio does its own TLS and logs failed handshakes itself ("Handshake failed with error ...").
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import ssl
from dataclasses import dataclass
from typing import Callable, NoReturn

import grpc

from interop_services.cli import ConfigError

_SSL_SOURCE_LOCATION = re.compile(r"\s*\(_ssl\.c:\d+\)$")

# How long a client may take to finish its TLS handshake; a connection that says nothing is closed after that.
HANDSHAKE_TIMEOUT_SECONDS = 10.0

log = logging.getLogger("interop.tls")


@dataclass(frozen=True)
class PemFile:
    """The bytes of a PEM file plus where they came from, so later errors can still name the flag and path."""

    flag: str
    path: str
    data: bytes

    @property
    def what(self) -> str:
        return f"{self.flag} {self.path}"


@dataclass(frozen=True)
class ServerTls:
    cert: PemFile
    key: PemFile
    client_ca: PemFile | None

    @property
    def mutual(self) -> bool:
        return self.client_ca is not None

    def grpc_credentials(self) -> grpc.ServerCredentials:
        return grpc.ssl_server_credentials(
            [(self.key.data, self.cert.data)],
            root_certificates=self.client_ca.data if self.client_ca else None,
            require_client_auth=self.mutual,
        )

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert.path, self.key.path, password=_refuse_password)
        if self.client_ca:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(cafile=self.client_ca.path)
        return context


@dataclass(frozen=True)
class ClientTls:
    ca: PemFile
    cert: PemFile | None
    key: PemFile | None

    @property
    def mutual(self) -> bool:
        return self.cert is not None

    def grpc_credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(
            root_certificates=self.ca.data,
            private_key=self.key.data if self.key else None,
            certificate_chain=self.cert.data if self.cert else None,
        )

    def ssl_context(self) -> ssl.SSLContext:
        """For HTTPS clients (aiohttp): trust only `ca`, verify the server's name, present `cert` if given."""
        context = ssl.create_default_context(cadata=self.ca.data.decode())
        if self.cert is not None and self.key is not None:
            context.load_cert_chain(self.cert.path, self.key.path, password=_refuse_password)
        return context


def server_tls_from_args(args: argparse.Namespace) -> ServerTls | None:
    """`--tls-cert/--tls-key/--client-ca`, checked for consistency and content. None means plaintext."""
    if args.tls_cert and not args.tls_key:
        raise ConfigError(f"--tls-cert {args.tls_cert}", "--tls-key is required with --tls-cert")
    if args.tls_key and not args.tls_cert:
        raise ConfigError(f"--tls-key {args.tls_key}", "--tls-cert is required with --tls-key")
    if args.client_ca and not args.tls_cert:
        raise ConfigError(f"--client-ca {args.client_ca}", "mutual TLS requires --tls-cert and --tls-key")
    if not args.tls_cert:
        return None
    cert = _read_certificates("--tls-cert", args.tls_cert)
    key = _read_key_for("--tls-key", args.tls_key, cert, ssl.PROTOCOL_TLS_SERVER)
    client_ca = _read_certificates("--client-ca", args.client_ca) if args.client_ca else None
    return ServerTls(cert, key, client_ca)


def client_tls_from_args(args: argparse.Namespace) -> ClientTls | None:
    """`--ca/--cert/--key` for upstream calls. None means upstream calls are plaintext."""
    return client_tls(args.ca, args.cert, args.key)


def client_tls(ca_path: str | None, cert_path: str | None, key_path: str | None,
               names: tuple[str, str, str] = ("--ca", "--cert", "--key")) -> ClientTls | None:
    """Trust roots and an optional client identity, checked for consistency and content; errors name each file as
    `names` say (flags by default, the fields of a JSON call for `interop_services.call`). None means plaintext."""
    ca_name, cert_name, key_name = names
    if cert_path and not key_path:
        raise ConfigError(f"{cert_name} {cert_path}", f"{key_name} is required with {cert_name}")
    if key_path and not cert_path:
        raise ConfigError(f"{key_name} {key_path}", f"{cert_name} is required with {key_name}")
    if cert_path and not ca_path:
        raise ConfigError(f"{cert_name} {cert_path}", f"a client certificate requires {ca_name} (upstream TLS)")
    if not ca_path:
        return None
    ca = _read_certificates(ca_name, ca_path)
    if not cert_path:
        return ClientTls(ca, None, None)
    assert key_path is not None
    cert = _read_certificates(cert_name, cert_path)
    key = _read_key_for(key_name, key_path, cert, ssl.PROTOCOL_TLS_CLIENT)
    return ClientTls(ca, cert, key)


def _read(flag: str, path: str) -> PemFile:
    try:
        with open(path, "rb") as file:
            return PemFile(flag, path, file.read())
    except OSError as err:
        # Not str(err): it repeats the path, which the message already names once.
        raise ConfigError(f"{flag} {path}", f"cannot read: [Errno {err.errno}] {err.strerror}") from err


def _read_certificates(flag: str, path: str) -> PemFile:
    """Read a file that must hold at least one PEM certificate (a chain or a CA bundle)."""
    pem = _read(flag, path)
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=path)
    except ssl.SSLError as err:
        raise ConfigError(pem.what, f"not a PEM certificate: {_ssl_reason(err)}") from err
    return pem


def _read_key_for(flag: str, path: str, cert: PemFile, protocol: int) -> PemFile:
    """Read a private key and prove it belongs to `cert` (the certificate was checked already, so blame the key)."""
    pem = _read(flag, path)
    try:
        ssl.SSLContext(protocol).load_cert_chain(cert.path, path, password=_refuse_password)
    except ssl.SSLError as err:
        raise ConfigError(pem.what, f"not a PEM private key matching {cert.flag}: {_ssl_reason(err)}") from err
    except _EncryptedKey as err:
        raise ConfigError(pem.what, "encrypted private keys are not supported") from err
    return pem


class _EncryptedKey(Exception):
    pass


def _refuse_password() -> NoReturn:
    # Without a callback OpenSSL would prompt on the terminal for a passphrase and hang a headless harness.
    raise _EncryptedKey()


def _ssl_reason(err: ssl.SSLError) -> str:
    text = err.args[1] if len(err.args) > 1 and isinstance(err.args[1], str) else str(err)
    return _SSL_SOURCE_LOCATION.sub("", text)


def handshaking(app_factory: Callable[[], asyncio.Protocol], context: ssl.SSLContext
                ) -> Callable[[], asyncio.Protocol]:
    """A protocol factory for `loop.create_server` that does the TLS handshake of each connection, hands it to a
    protocol from `app_factory` once it succeeds, and logs why when it fails (the same line as the Rust services:
    `tls handshake failed peer=... error=...`). Each handshake runs on its own, so a silent client delays nobody."""
    return lambda: _Handshake(app_factory, context)


class _Handshake(asyncio.Protocol):
    def __init__(self, app_factory: Callable[[], asyncio.Protocol], context: ssl.SSLContext) -> None:
        self._app_factory = app_factory
        self._context = context
        self._task: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        # Nothing may be read before start_tls takes the connection over: it resumes reading itself.
        transport.pause_reading()
        self._task = asyncio.get_running_loop().create_task(self._upgrade(transport))

    async def _upgrade(self, transport: asyncio.Transport) -> None:
        peer = transport.get_extra_info("peername")
        app = self._app_factory()
        try:
            tls_transport = await asyncio.get_running_loop().start_tls(
                transport, app, self._context, server_side=True, ssl_handshake_timeout=HANDSHAKE_TIMEOUT_SECONDS)
        except (OSError, asyncio.TimeoutError) as err:  # ssl.SSLError and ConnectionError are OSErrors
            where = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else "?"
            log.warning("tls handshake failed peer=%s error=%s", where, _error_text(err))
            transport.abort()
            return
        app.connection_made(tls_transport)


def _error_text(err: BaseException) -> str:
    if isinstance(err, ssl.SSLError):
        return _ssl_reason(err)
    return str(err) or type(err).__name__
