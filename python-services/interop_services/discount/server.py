"""The Discount gRPC server: the tutorial's service plus standard health checking and reflection."""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from typing import Sequence

import grpc

from interop_services import cli, grpc_server, lifecycle, tls
from interop_services.discount import pricing
from interop_services.proto import ecommerce_pb2, ecommerce_pb2_grpc

PROG = "discount"
DEFAULT_LISTEN = "0.0.0.0:11443"
SERVICE_NAME = ecommerce_pb2.DESCRIPTOR.services_by_name["Discount"].full_name
STOP_GRACE_SECONDS = 5.0

log = logging.getLogger("interop.discount")


@dataclass(frozen=True)
class Config:
    listen: cli.HostPort
    server_tls: tls.ServerTls | None
    # Discount calls nothing upstream; the flags are accepted and checked so every service takes the same set.
    upstream_tls: tls.ClientTls | None
    exit_on_stdin_eof: bool


def parse_config(argv: Sequence[str] | None = None) -> Config:
    parser = cli.new_parser(PROG, "The tutorial's Discount gRPC service.")
    cli.add_server_flags(parser, DEFAULT_LISTEN)
    cli.add_upstream_flags(parser)
    return cli.parse(parser, argv, _config_from_args)


def _config_from_args(args: argparse.Namespace) -> Config:
    return Config(
        listen=cli.parse_host_port("--listen", args.listen, allow_port_zero=True),
        server_tls=tls.server_tls_from_args(args),
        upstream_tls=tls.client_tls_from_args(args),
        exit_on_stdin_eof=args.exit_on_stdin_eof,
    )


class DiscountServicer(ecommerce_pb2_grpc.DiscountServicer):
    async def ApplyDiscount(
        self, request: ecommerce_pb2.DiscountRequest, context: grpc.aio.ServicerContext
    ) -> ecommerce_pb2.DiscountResponse:
        return pricing.discount_response(request)


async def serve(config: Config) -> None:
    """Serve until SIGTERM/SIGINT (or stdin EOF when asked), then drain in-flight calls and return."""
    stop = lifecycle.stop_event(config.exit_on_stdin_eof, log)
    lifecycle.ensure_bindable(config.listen)
    # so_reuseport off: grpcio sets it by default, which lets a second server "bind" a port that is already taken.
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    ecommerce_pb2_grpc.add_DiscountServicer_to_server(DiscountServicer(), server)
    port, health_servicer = await grpc_server.start(server, SERVICE_NAME, config.listen, config.server_tls)
    log.info("serving discount on %s %s", config.listen.with_port(port), lifecycle.tls_fields(config.server_tls))
    lifecycle.announce_ready(config.listen, port)

    await stop.wait()
    await grpc_server.stop(server, health_servicer, STOP_GRACE_SECONDS)
    log.info("discount stopped")

