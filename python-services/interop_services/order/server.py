"""The Order gRPC server (grpcio asyncio): Create runs the saga (price through Discount, store PENDING, charge through
Payment, then PAID or CANCELED), under the caller's deadline, retrying Payment while it is UNAVAILABLE."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
from dataclasses import dataclass
from typing import NoReturn, Sequence

import grpc

from interop_services import cli, deadline, rpc, sqlite, tls
from interop_services.catalog import data
from interop_services.order import validation
from interop_services.order.storage import OrderStore, StoredOrder
from interop_services.payment.charge import Refusal
from interop_services.proto import ecommerce_pb2, ecommerce_pb2_grpc, order_pb2, order_pb2_grpc, payment_pb2, \
    payment_pb2_grpc

PROG = "order"
DEFAULT_LISTEN = "0.0.0.0:11445"
DEFAULT_DISCOUNT_ADDR = "localhost:11443"
DEFAULT_PAYMENT_ADDR = "localhost:11444"
SERVICE_NAME = order_pb2.DESCRIPTOR.services_by_name["Order"].full_name
PAYMENT_SERVICE = payment_pb2.DESCRIPTOR.services_by_name["Payment"].full_name
# How long a Create may take when the caller sets no deadline.
DEFAULT_DEADLINE_SECONDS = 10.0

# grpcio's own retry policy (gRFC A6), not a library: the channel retries Payment.Create on UNAVAILABLE with
# exponential backoff and jitter, never past the call's deadline. 5 attempts is grpcio's cap; the Rust twin's backon
# schedule is the same (50 ms doubling to 1 s, 4 retries).
PAYMENT_RETRY_POLICY = {
    "methodConfig": [{
        "name": [{"service": PAYMENT_SERVICE}],
        "retryPolicy": {
            "maxAttempts": 5,
            "initialBackoff": "0.05s",
            "maxBackoff": "1s",
            "backoffMultiplier": 2,
            "retryableStatusCodes": ["UNAVAILABLE"],
        },
    }],
}
PAYMENT_CHANNEL_OPTIONS = [
    ("grpc.enable_retries", 1),
    ("grpc.service_config", json.dumps(PAYMENT_RETRY_POLICY)),
    # Reconnect soon after Payment comes back: grpcio's default backoff grows to minutes, far past any deadline here.
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
]

log = logging.getLogger("interop.order")


@dataclass(frozen=True)
class Config:
    listen: cli.HostPort
    server_tls: tls.ServerTls | None
    upstream_tls: tls.ClientTls | None
    discount_addr: cli.HostPort
    discount_server_name: str
    payment_addr: cli.HostPort
    payment_server_name: str
    # Opened (and migrated) while the flags are checked, so a bad --db is a usage error like a bad certificate.
    store: OrderStore
    exit_on_stdin_eof: bool


def parse_config(argv: Sequence[str] | None = None) -> Config:
    parser = cli.new_parser(PROG, "The Order gRPC service, pricing through Discount and charging through Payment.")
    cli.add_server_flags(parser, DEFAULT_LISTEN)
    cli.add_upstream_flags(parser)
    parser.add_argument("--discount-addr", default=DEFAULT_DISCOUNT_ADDR, metavar="HOST:PORT",
                        help=f"Discount service address (default {DEFAULT_DISCOUNT_ADDR})")
    parser.add_argument("--discount-server-name", metavar="NAME",
                        help="TLS name to verify on the Discount certificate (default: host of --discount-addr)")
    parser.add_argument("--payment-addr", default=DEFAULT_PAYMENT_ADDR, metavar="HOST:PORT",
                        help=f"Payment service address (default {DEFAULT_PAYMENT_ADDR})")
    parser.add_argument("--payment-server-name", metavar="NAME",
                        help="TLS name to verify on the Payment certificate (default: host of --payment-addr)")
    parser.add_argument("--db", default="order.sqlite3", metavar="PATH",
                        help="SQLite database file, created if missing (default order.sqlite3)")
    return cli.parse(parser, argv, _config_from_args)


def _config_from_args(args: argparse.Namespace) -> Config:
    discount_addr = cli.parse_host_port("--discount-addr", args.discount_addr, allow_port_zero=False)
    payment_addr = cli.parse_host_port("--payment-addr", args.payment_addr, allow_port_zero=False)
    return Config(
        listen=cli.parse_host_port("--listen", args.listen, allow_port_zero=True),
        server_tls=tls.server_tls_from_args(args),
        upstream_tls=tls.client_tls_from_args(args),
        discount_addr=discount_addr,
        discount_server_name=args.discount_server_name or discount_addr.host,
        payment_addr=payment_addr,
        payment_server_name=args.payment_server_name or payment_addr.host,
        store=OrderStore.open(args.db),
        exit_on_stdin_eof=args.exit_on_stdin_eof,
    )


class UpstreamFailed(Exception):
    """An upstream's failure as this service's: the same code, and a message that names the upstream and the code
    but not the transport's words (which differ by language); those go to the log."""

    def __init__(self, upstream: str, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"{upstream} failed: {code.name}")
        log.warning("upstream call failed upstream=%s code=%s details=%s", upstream, code.name, details)
        self.code = code
        self.details = f"{upstream} failed: {code.name}"

    @classmethod
    def of(cls, upstream: str, err: grpc.aio.AioRpcError, until: float) -> UpstreamFailed:
        """A failure at or past the deadline is DEADLINE_EXCEEDED, whichever timer saw it first (a tonic server says
        CANCELLED)."""
        code = grpc.StatusCode.DEADLINE_EXCEEDED if deadline.passed(until) else err.code()
        return cls(upstream, code, err.details() or "")


def _canceled(stored: StoredOrder) -> grpc.Status:
    """The answer for a canceled order: Payment's refusal, naming the order."""
    refusal = stored.refusal or Refusal("", "", "")
    return Refusal(f"order canceled: {refusal.message}", refusal.reason, refusal.domain,
                   {**refusal.metadata, "order_id": stored.order.id}).to_status()


class OrderServicer(order_pb2_grpc.OrderServicer):
    def __init__(self, store: OrderStore, discount: ecommerce_pb2_grpc.DiscountStub,
                 payment: payment_pb2_grpc.PaymentStub) -> None:
        self._store = store
        self._discount = discount
        self._payment = payment
        self._catalog = data.products()

    async def Create(self, request: order_pb2.CreateOrderRequest,
                     context: grpc.aio.ServicerContext) -> order_pb2.CreateOrderResponse:
        until = deadline.of(context, DEFAULT_DEADLINE_SECONDS)
        try:
            lines = validation.validate_create(request, self._catalog)
        except validation.Invalid as invalid:
            await context.abort_with_status(rpc.invalid(invalid.violations))
        key = request.idempotency_key or None
        try:
            if key is not None:
                first = await self._store.find_by_key(request.user_id, key)
                if first is not None:
                    log.info("same idempotency key: first order order_id=%s", first.order.id)
                    return order_pb2.CreateOrderResponse(order=await self._settle(first, until, context))
            items = await self._price(request.user_id, lines, until)
            total = validation.total_cents((item.unit_price_cents, item.quantity) for item in items)
            if total is None:
                await context.abort_with_status(rpc.invalid([rpc.Violation("items", validation.TOTAL_OVERFLOWS)]))
            order = order_pb2.OrderDetails(id=sqlite.new_id("ord"), user_id=request.user_id, items=items,
                                           status=order_pb2.ORDER_STATUS_PENDING, total_price_cents=total,
                                           created_at_unix_ms=sqlite.now_unix_ms())
            stored = await self._store.insert(order, key)
            log.info("order stored order_id=%s total_cents=%d", stored.order.id, total)
            return order_pb2.CreateOrderResponse(order=await self._settle(stored, until, context))
        except UpstreamFailed as failed:
            await context.abort(failed.code, failed.details)

    async def Get(self, request: order_pb2.GetOrderRequest,
                  context: grpc.aio.ServicerContext) -> order_pb2.GetOrderResponse:
        if not request.order_id:
            await context.abort_with_status(rpc.invalid([rpc.Violation("order_id", validation.ORDER_ID_EMPTY)]))
        stored = await self._store.find(request.order_id)
        if stored is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f'order "{request.order_id}" not found')
        return order_pb2.GetOrderResponse(order=stored.order)

    async def _price(self, user_id: int, lines: list[tuple[ecommerce_pb2.Product, int]],
                     until: float) -> list[order_pb2.OrderItem]:
        """Each line's unit price for `user_id`, all Discount calls at once, each under the deadline."""
        customer = ecommerce_pb2.Customer(id=user_id)

        async def price(product: ecommerce_pb2.Product, quantity: int) -> order_pb2.OrderItem:
            request = ecommerce_pb2.DiscountRequest(customer=customer, product=product)
            try:
                answer = await self._discount.ApplyDiscount(request, timeout=deadline.left(until))
            except grpc.aio.AioRpcError as err:
                raise UpstreamFailed.of("discount", err, until) from err
            discount = answer.product.discount_value if answer.product.HasField("discount_value") else None
            return order_pb2.OrderItem(product_code=product.slug, quantity=quantity,
                                       unit_price_cents=validation.unit_price(product.price_in_cents, discount))

        return list(await asyncio.gather(*(price(product, quantity) for product, quantity in lines)))

    async def _settle(self, stored: StoredOrder, until: float,
                      context: grpc.aio.ServicerContext) -> order_pb2.OrderDetails:
        """Charge a PENDING order and settle it: PAID, or CANCELED with Payment's refusal."""
        order = stored.order
        if order.status == order_pb2.ORDER_STATUS_PAID:
            return order
        if order.status == order_pb2.ORDER_STATUS_CANCELED:
            await _abort(context, _canceled(stored))
        request = payment_pb2.CreatePaymentRequest(user_id=order.user_id, order_id=order.id,
                                                   total_price_cents=order.total_price_cents)
        try:
            response = await self._payment.Create(request, timeout=deadline.left(until))
        except grpc.aio.AioRpcError as err:
            if err.code() != grpc.StatusCode.FAILED_PRECONDITION:
                # The payment may or may not have happened: the order stays PENDING, and a Create with the same
                # idempotency key charges it again (Payment keys charges by order, so never twice).
                raise UpstreamFailed.of("payment", err, until) from err
            refusal = Refusal.from_status(rpc.details_of(err), err.details() or "")
            canceled = await self._store.mark_canceled(order.id, refusal)
            log.info("order canceled order_id=%s reason=%s", order.id, refusal.message)
            await _abort(context, _canceled(canceled))
        paid = await self._store.mark_paid(order.id, response.payment_id)
        log.info("order paid order_id=%s payment_id=%s", order.id, paid.order.payment_id)
        return paid.order


async def _abort(context: grpc.aio.ServicerContext, status: grpc.Status) -> NoReturn:
    await context.abort_with_status(status)
    raise AssertionError("abort_with_status returned")


async def serve(config: Config) -> None:
    """Serve until SIGTERM/SIGINT (or stdin EOF when asked), then drain in-flight calls and return."""
    discount_channel = rpc.upstream_channel("discount", config.discount_addr, config.discount_server_name,
                                            config.upstream_tls)
    payment_channel = rpc.upstream_channel("payment", config.payment_addr, config.payment_server_name,
                                           config.upstream_tls, PAYMENT_CHANNEL_OPTIONS)
    try:
        servicer = OrderServicer(config.store, ecommerce_pb2_grpc.DiscountStub(discount_channel),
                                 payment_pb2_grpc.PaymentStub(payment_channel))
        log.info("order upstreams discount=%s payment=%s", config.discount_addr, config.payment_addr)
        await rpc.serve(PROG, config.listen, config.server_tls, config.exit_on_stdin_eof, SERVICE_NAME,
                        lambda server: order_pb2_grpc.add_OrderServicer_to_server(servicer, server), log)
    finally:
        await discount_channel.close()
        await payment_channel.close()
