"""The Discount gRPC server: the tutorial's service plus standard health checking and reflection."""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from typing import Sequence

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from interop_services import auth, cli, lifecycle, tls
from interop_services.discount import pricing
from interop_services.proto import ecommerce_pb2, ecommerce_pb2_grpc

PROG = "discount"
DEFAULT_LISTEN = "0.0.0.0:11443"
SERVICE_NAME = ecommerce_pb2.DESCRIPTOR.services_by_name["Discount"].full_name
STOP_GRACE_SECONDS = 5.0
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
    guard: auth.Guard
    exit_on_stdin_eof: bool


def parse_config(argv: Sequence[str] | None = None) -> Config:
    parser = cli.new_parser(PROG, "The tutorial's Discount gRPC service.")
    cli.add_server_flags(parser, DEFAULT_LISTEN)
    cli.add_upstream_flags(parser)
    auth.add_auth_flags(parser)
    return cli.parse(parser, argv, _config_from_args)


def _config_from_args(args: argparse.Namespace) -> Config:
    server_tls = tls.server_tls_from_args(args)
    mutual = server_tls is not None and server_tls.mutual
    return Config(
        listen=cli.parse_host_port("--listen", args.listen, allow_port_zero=True),
        server_tls=server_tls,
        upstream_tls=tls.client_tls_from_args(args),
        guard=auth.Guard.from_args(args, mutual, SERVICE_NAME),
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
    server = grpc.aio.server(
        interceptors=[auth.GuardInterceptor(config.guard)],
        options=[
            ("grpc.so_reuseport", 0),
            ("grpc.max_receive_message_length", MAX_REQUEST_BYTES),
            ("grpc.server_handshake_timeout_ms", int(tls.HANDSHAKE_TIMEOUT_SECONDS * 1000)),
        ],
    )
    ecommerce_pb2_grpc.add_DiscountServicer_to_server(DiscountServicer(), server)
    health_servicer = health.aio.HealthServicer()
    await health_servicer.set(SERVICE_NAME, health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection([SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME], server)

    port = _bind(server, config)
    await server.start()
    allowed = ",".join(config.guard.allowed) if config.guard.allowed is not None else "any"
    log.info("serving discount on %s %s allowed_clients=%s token=%s", config.listen.with_port(port),
             lifecycle.tls_fields(config.server_tls), allowed, str(config.guard.token is not None).lower())
    lifecycle.announce_ready(config.listen, port)

    await stop.wait()
    # NOT_SERVING first, so health watchers learn about the stop before connections close. A Watch stream never ends
    # by itself: an open one holds the stop for the whole grace period, then grpcio cancels it (and logs that).
    await health_servicer.enter_graceful_shutdown()
    await server.stop(STOP_GRACE_SECONDS)
    log.info("discount stopped")


def _bind(server: grpc.aio.Server, config: Config) -> int:
    address = str(config.listen)
    try:
        if config.server_tls is None:
            return server.add_insecure_port(address)
        return server.add_secure_port(address, config.server_tls.grpc_credentials())
    except RuntimeError as err:
        raise lifecycle.BindError(config.listen, str(err)) from err
