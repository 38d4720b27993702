"""The Payment gRPC server (grpcio asyncio), with standard health checking and reflection."""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from typing import Sequence

import grpc

from interop_services import cli, rpc, tls
from interop_services.payment import charge
from interop_services.payment.storage import PaymentStore
from interop_services.proto import payment_pb2, payment_pb2_grpc

PROG = "payment"
DEFAULT_LISTEN = "0.0.0.0:11444"
SERVICE_NAME = payment_pb2.DESCRIPTOR.services_by_name["Payment"].full_name

log = logging.getLogger("interop.payment")


@dataclass(frozen=True)
class Config:
    listen: cli.HostPort
    server_tls: tls.ServerTls | None
    # Payment calls nothing upstream; the flags are accepted and checked so every service takes the same set.
    upstream_tls: tls.ClientTls | None
    exit_on_stdin_eof: bool
    # Opened (and migrated) while the flags are checked, so a bad --db is a usage error like a bad certificate.
    store: PaymentStore
    limit_cents: int


def parse_config(argv: Sequence[str] | None = None) -> Config:
    parser = cli.new_parser(PROG, "The Payment gRPC service: one charge per order, up to a limit.")
    cli.add_server_flags(parser, DEFAULT_LISTEN)
    cli.add_upstream_flags(parser)
    parser.add_argument("--db", default="payment.sqlite3", metavar="PATH",
                        help="SQLite database file, created if missing (default payment.sqlite3)")
    parser.add_argument("--limit-cents", type=int, default=charge.DEFAULT_LIMIT_CENTS, metavar="CENTS",
                        help=f"refuse totals above this many cents (default {charge.DEFAULT_LIMIT_CENTS})")
    return cli.parse(parser, argv, _config_from_args)


def _config_from_args(args: argparse.Namespace) -> Config:
    return Config(
        listen=cli.parse_host_port("--listen", args.listen, allow_port_zero=True),
        server_tls=tls.server_tls_from_args(args),
        upstream_tls=tls.client_tls_from_args(args),
        exit_on_stdin_eof=args.exit_on_stdin_eof,
        store=PaymentStore.open(args.db),
        limit_cents=args.limit_cents,
    )


class PaymentServicer(payment_pb2_grpc.PaymentServicer):
    def __init__(self, store: PaymentStore, limit_cents: int) -> None:
        self._store = store
        self._limit_cents = limit_cents

    async def Create(
        self, request: payment_pb2.CreatePaymentRequest, context: grpc.aio.ServicerContext
    ) -> payment_pb2.CreatePaymentResponse:
        violations = charge.validate(request)
        if violations:
            await context.abort_with_status(rpc.invalid(violations))
        refusal = charge.check_limit(request.total_price_cents, self._limit_cents)
        if refusal is not None:
            log.info("payment refused order_id=%s total_cents=%d reason=%s", request.order_id,
                     request.total_price_cents, refusal.reason)
            await context.abort_with_status(refusal.to_status())
        recorded = await self._store.record(request.user_id, request.order_id, request.total_price_cents)
        if recorded.conflict:
            await context.abort(grpc.StatusCode.ALREADY_EXISTS,
                                f"order {request.order_id} already has a payment with other details")
        if recorded.charged:
            log.info("charged order_id=%s total_cents=%d payment_id=%s", request.order_id,
                     request.total_price_cents, recorded.payment_id)
        else:
            log.info("already paid, not charged again order_id=%s payment_id=%s", request.order_id,
                     recorded.payment_id)
        return payment_pb2.CreatePaymentResponse(payment_id=recorded.payment_id)


async def serve(config: Config) -> None:
    """Serve until SIGTERM/SIGINT (or stdin EOF when asked), then drain in-flight calls and return."""
    servicer = PaymentServicer(config.store, config.limit_cents)
    await rpc.serve(PROG, config.listen, config.server_tls, config.exit_on_stdin_eof, SERVICE_NAME,
                    lambda server: payment_pb2_grpc.add_PaymentServicer_to_server(servicer, server), log)
