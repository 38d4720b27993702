"""The Discount gRPC server: the tutorial's service plus standard health checking and reflection."""

from __future__ import annotations

import argparse
import asyncio
import logging
from dataclasses import dataclass
from typing import Sequence

import grpc

from interop_services import auth, cli, rpc, tls
from interop_services.discount import pricing
from interop_services.proto import ecommerce_pb2, ecommerce_pb2_grpc

PROG = "discount"
DEFAULT_LISTEN = "0.0.0.0:11443"
SERVICE_NAME = ecommerce_pb2.DESCRIPTOR.services_by_name["Discount"].full_name
# The largest request Discount decodes: gRPC's customary 4 MiB, set explicitly so that every language refuses the
# same sizes (RESOURCE_EXHAUSTED).
MAX_REQUEST_BYTES = 4 * 1024 * 1024

log = logging.getLogger("interop.discount")


@dataclass(frozen=True)
class Config:
    listen: cli.HostPort
    server_tls: tls.ServerTls | None
    # Discount calls nothing upstream; the flags are accepted and checked so every service takes the same set.
    upstream_tls: tls.ClientTls | None
    exit_on_stdin_eof: bool
    guard: auth.Guard
    delay_ms: int = 0


def parse_config(argv: Sequence[str] | None = None) -> Config:
    parser = cli.new_parser(PROG, "The tutorial's Discount gRPC service.")
    cli.add_server_flags(parser, DEFAULT_LISTEN)
    cli.add_upstream_flags(parser)
    auth.add_auth_flags(parser)
    parser.add_argument("--delay-ms", type=int, default=0, metavar="MS",
                        help="TEST ONLY: wait this long before every answer, so tests can make a slow Discount "
                             "without a mock (default 0)")
    return cli.parse(parser, argv, _config_from_args)


def _config_from_args(args: argparse.Namespace) -> Config:
    if args.delay_ms < 0:
        raise cli.ConfigError(f"--delay-ms {args.delay_ms}", "must not be negative")
    server_tls = tls.server_tls_from_args(args)
    mutual = server_tls is not None and server_tls.mutual
    return Config(
        listen=cli.parse_host_port("--listen", args.listen, allow_port_zero=True),
        server_tls=server_tls,
        upstream_tls=tls.client_tls_from_args(args),
        exit_on_stdin_eof=args.exit_on_stdin_eof,
        guard=auth.Guard.from_args(args, mutual, SERVICE_NAME),
        delay_ms=args.delay_ms,
    )


class DiscountServicer(ecommerce_pb2_grpc.DiscountServicer):
    def __init__(self, delay_ms: int = 0) -> None:
        self._delay_ms = delay_ms

    async def ApplyDiscount(
        self, request: ecommerce_pb2.DiscountRequest, context: grpc.aio.ServicerContext
    ) -> ecommerce_pb2.DiscountResponse:
        if self._delay_ms:
            # Whether the caller passed a deadline on: tests read this line to see deadlines propagate.
            caller_deadline = context.time_remaining() is not None
            log.info("delaying the answer delay_ms=%d caller_deadline=%s", self._delay_ms,
                     str(caller_deadline).lower())
            await asyncio.sleep(self._delay_ms / 1000)
        return pricing.discount_response(request)


async def serve(config: Config) -> None:
    """Serve until SIGTERM/SIGINT (or stdin EOF when asked), then drain in-flight calls and return."""
    servicer = DiscountServicer(config.delay_ms)
    await rpc.serve(PROG, config.listen, config.server_tls, config.exit_on_stdin_eof, SERVICE_NAME,
                    lambda server: ecommerce_pb2_grpc.add_DiscountServicer_to_server(servicer, server), log,
                    interceptors=[auth.GuardInterceptor(config.guard)],
                    options=[("grpc.max_receive_message_length", MAX_REQUEST_BYTES)])
