"""The interop TestService server (grpc.aio): every server feature of the interop spec the cases need, with health
checking and reflection, following the project's service contract and the spec's flags (`--port`, `--use_tls`).

    python -m interop_services.testing.server --listen 127.0.0.1:0 --tls-cert C --tls-key K [--client-ca CA]
    python -m interop_services.testing.server --port 8080 --use_tls    # serves keys/interop-server.pem
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from dataclasses import dataclass
from typing import AsyncIterator, Sequence

import grpc

from interop_services import cli, lifecycle, rpc, tls
from interop_services.proto import empty_pb2, messages_pb2, test_pb2_grpc
from interop_services.testing import ECHO_INITIAL, ECHO_TRAILING_BIN, add_spec_bool, zeros

PROG = "interop-server"
DEFAULT_LISTEN = "127.0.0.1:0"
# Where --port listens: every interface, as the spec's servers do.
PORT_HOST = "0.0.0.0"
# What --use_tls serves without --tls-cert: the files `make keys` writes, relative to the working directory.
DEFAULT_TLS_CERT = "keys/interop-server.pem"
DEFAULT_TLS_KEY = "keys/interop-server-key.pem"
SERVICE_NAME = "grpc.testing.TestService"

log = logging.getLogger("interop.interop-server")

_STATUS_BY_CODE = {status.value[0]: status for status in grpc.StatusCode}


@dataclass(frozen=True)
class Config:
    listen: cli.HostPort
    server_tls: tls.ServerTls | None
    exit_on_stdin_eof: bool


def parse_config(argv: Sequence[str] | None = None) -> Config:
    parser = cli.new_parser(PROG, "gRPC's interop TestService (grpc.testing), for the interop spec's test cases.")
    cli.add_server_flags(parser, DEFAULT_LISTEN)
    # No default in the parser, so that --listen given alongside --port is seen, whatever its value.
    parser.set_defaults(listen=None)
    parser.add_argument("--port", type=int, metavar="PORT",
                        help="the spec's flag: the port to listen on, on every interface (same as --listen 0.0.0.0:PORT)")
    add_spec_bool(parser, "--use_tls",
                  f"the spec's flag: serve TLS; without --tls-cert it serves {DEFAULT_TLS_CERT} (written by `make keys`)")
    return cli.parse(parser, argv, _config_from_args)


def _config_from_args(args: argparse.Namespace) -> Config:
    listen = args.listen or DEFAULT_LISTEN
    if args.port is not None:
        if args.listen is not None:
            raise cli.ConfigError(f"--port {args.port}", "the argument '--port' cannot be used with '--listen'")
        listen = f"{PORT_HOST}:{args.port}"
    if args.use_tls and not args.tls_cert:
        for path in (DEFAULT_TLS_CERT, DEFAULT_TLS_KEY):
            if not os.path.isfile(path):
                raise cli.ConfigError("--use_tls true", f"no --tls-cert given and {path} is missing: run `make keys` in "
                                                         "the repository root, or pass --tls-cert/--tls-key")
        args.tls_cert, args.tls_key = DEFAULT_TLS_CERT, DEFAULT_TLS_KEY
    return Config(
        listen=cli.parse_host_port("--listen", listen, allow_port_zero=True),
        server_tls=tls.server_tls_from_args(args),
        exit_on_stdin_eof=args.exit_on_stdin_eof,
    )


async def _echo_status(status: messages_pb2.EchoStatus | None, context: grpc.aio.ServicerContext) -> None:
    """The spec's Echo Status feature: a non-zero code ends the call with that code and message."""
    if status is not None and status.code != 0:
        await context.abort(_STATUS_BY_CODE.get(status.code, grpc.StatusCode.UNKNOWN), status.message)


async def _echo_metadata(context: grpc.aio.ServicerContext) -> bool:
    """The spec's Echo Metadata feature, before any response is sent; True if the initial metadata went out."""
    metadata = dict(context.invocation_metadata() or ())
    if ECHO_TRAILING_BIN in metadata:
        context.set_trailing_metadata(((ECHO_TRAILING_BIN, metadata[ECHO_TRAILING_BIN]),))
    if ECHO_INITIAL in metadata:
        await context.send_initial_metadata(((ECHO_INITIAL, metadata[ECHO_INITIAL]),))
        return True
    return False


def _payload(size: int) -> messages_pb2.Payload:
    if size < 0:
        raise ValueError(f"negative payload size {size}")
    return zeros(size)


class TestService(test_pb2_grpc.TestServiceServicer):
    """grpc.testing.TestService; UnimplementedCall is deliberately left to the generated base class.

    The spec's CompressedRequest feature (`expect_compressed`) is not implemented: grpcio decompresses before the
    handler and keeps both the message flag and the `grpc-encoding` header from it (invocation_metadata() holds
    only user-agent for a gzip call), so there is nothing to check. A client probing for the feature finds it
    missing, as the spec intends (docs/grpc-interop.md).
    """

    async def EmptyCall(self, request: empty_pb2.Empty, context: grpc.aio.ServicerContext) -> empty_pb2.Empty:
        return empty_pb2.Empty()

    async def UnaryCall(self, request: messages_pb2.SimpleRequest,
                        context: grpc.aio.ServicerContext) -> messages_pb2.SimpleResponse:
        compress = request.response_compressed.value
        if compress:
            context.set_compression(grpc.Compression.Gzip)
        # grpcio compresses a unary response only if its initial metadata went out before it (seen with 1.85: set
        # alone, the response leaves uncompressed), so send them now if the echo did not.
        if not await _echo_metadata(context) and compress:
            await context.send_initial_metadata(())
        await _echo_status(request.response_status if request.HasField("response_status") else None, context)
        return messages_pb2.SimpleResponse(payload=_payload(request.response_size))

    async def StreamingOutputCall(self, request: messages_pb2.StreamingOutputCallRequest,
                                  context: grpc.aio.ServicerContext
                                  ) -> AsyncIterator[messages_pb2.StreamingOutputCallResponse]:
        await _echo_metadata(context)
        async for response in _answer(request, context):
            yield response

    async def StreamingInputCall(self, request_iterator: AsyncIterator[messages_pb2.StreamingInputCallRequest],
                                 context: grpc.aio.ServicerContext) -> messages_pb2.StreamingInputCallResponse:
        await _echo_metadata(context)
        total = 0
        async for request in request_iterator:
            total += len(request.payload.body)
        return messages_pb2.StreamingInputCallResponse(aggregated_payload_size=total)

    async def FullDuplexCall(self, request_iterator: AsyncIterator[messages_pb2.StreamingOutputCallRequest],
                             context: grpc.aio.ServicerContext
                             ) -> AsyncIterator[messages_pb2.StreamingOutputCallResponse]:
        await _echo_metadata(context)
        async for request in request_iterator:
            async for response in _answer(request, context):
                yield response

    async def HalfDuplexCall(self, request_iterator: AsyncIterator[messages_pb2.StreamingOutputCallRequest],
                             context: grpc.aio.ServicerContext
                             ) -> AsyncIterator[messages_pb2.StreamingOutputCallResponse]:
        await _echo_metadata(context)
        requests = [request async for request in request_iterator]
        for request in requests:
            async for response in _answer(request, context):
                yield response


async def _answer(request: messages_pb2.StreamingOutputCallRequest,
                  context: grpc.aio.ServicerContext) -> AsyncIterator[messages_pb2.StreamingOutputCallResponse]:
    """The responses one streaming request asks for, each compressed or not as asked, or the status it asks for."""
    await _echo_status(request.response_status if request.HasField("response_status") else None, context)
    if any(parameters.compressed.value for parameters in request.response_parameters):
        context.set_compression(grpc.Compression.Gzip)
    for parameters in request.response_parameters:
        if parameters.interval_us > 0:
            await asyncio.sleep(parameters.interval_us / 1_000_000)
        if not parameters.compressed.value:
            context.disable_next_message_compression()
        yield messages_pb2.StreamingOutputCallResponse(payload=_payload(parameters.size))


async def serve(config: Config) -> None:
    """Serve until SIGTERM/SIGINT (or stdin EOF when asked), then drain in-flight calls and return."""
    if config.server_tls is not None:
        log.info("TLS certificate cert=%s", config.server_tls.cert.path)
    await rpc.serve("interop TestService", config.listen, config.server_tls, config.exit_on_stdin_eof,
                    SERVICE_NAME, lambda server: test_pb2_grpc.add_TestServiceServicer_to_server(TestService(), server),
                    log)


def main() -> None:
    lifecycle.run(PROG, serve(parse_config()))


if __name__ == "__main__":
    main()
