"""The Catalog HTTP server: the tutorial's Go program on aiohttp, pricing products through Discount over gRPC."""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os
import re
import ssl
from dataclasses import dataclass
from typing import Awaitable, Callable, Sequence

import grpc
from aiohttp import web

from interop_services import cli, lifecycle, rpc, tls
from interop_services.catalog import data, render
from interop_services.proto import ecommerce_pb2, ecommerce_pb2_grpc

PROG = "catalog"
DEFAULT_LISTEN = "0.0.0.0:11080"
DEFAULT_DISCOUNT_ADDR = "localhost:11443"
DISCOUNT_ADDR_ENV = "DISCOUNT_SERVICE_HOST"
DEFAULT_DISCOUNT_TIMEOUT_MS = 10_000
STOP_GRACE_SECONDS = 5.0

TEXT_PLAIN = "text/plain; charset=utf-8"
USER_ID_HEADER = "X-USER-ID"
NOT_A_NUMBER = "Customer ID is not a number.\n"

# The most header bytes (names and values) and fields a request may carry; more gets 431. The tutorial's Go server
# allowed 1 MB; every language here answers the same above 16 KiB, a common proxy limit.
MAX_HEADER_BYTES = 16 * 1024
MAX_HEADER_FIELDS = 100
# What the HTTP parser itself accepts, set explicitly well above those limits, so that the application, not a library
# default, decides (aiohttp and hyper have different defaults, and answer differently).
PARSER_MAX_BYTES = 1024 * 1024
PARSER_MAX_FIELDS = 1000

# What Go's strconv.Atoi accepts: an optional sign and ASCII digits only. int() alone would also take spaces,
# underscores and non-ASCII digits.
_ATOI = re.compile(r"[+-]?[0-9]+")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

log = logging.getLogger("interop.catalog")

# Prices a customer's products; returns them in the same order, each either priced or unchanged.
Pricer = Callable[[ecommerce_pb2.Customer, list[ecommerce_pb2.Product]], Awaitable[list[ecommerce_pb2.Product]]]


@dataclass(frozen=True)
class Config:
    listen: cli.HostPort
    server_tls: tls.ServerTls | None
    discount_addr: cli.HostPort
    discount_server_name: str
    discount_tls: tls.ClientTls | None
    discount_timeout_seconds: float
    exit_on_stdin_eof: bool


def parse_config(argv: Sequence[str] | None = None) -> Config:
    parser = cli.new_parser(PROG, "The tutorial's Catalog HTTP service, priced by the Discount gRPC service.")
    cli.add_server_flags(parser, DEFAULT_LISTEN)
    cli.add_upstream_flags(parser)
    parser.add_argument("--discount-addr", metavar="HOST:PORT",
                        help=f"Discount service address (default: ${DISCOUNT_ADDR_ENV}, else {DEFAULT_DISCOUNT_ADDR})")
    parser.add_argument("--discount-server-name", metavar="NAME",
                        help="TLS name to verify on the Discount certificate (default: host of --discount-addr)")
    parser.add_argument("--discount-timeout-ms", type=cli.positive_int, default=DEFAULT_DISCOUNT_TIMEOUT_MS,
                        metavar="N", help="one deadline for all Discount calls of one HTTP request "
                                          f"(default {DEFAULT_DISCOUNT_TIMEOUT_MS})")
    return cli.parse(parser, argv, _config_from_args)


def _config_from_args(args: argparse.Namespace) -> Config:
    if args.discount_addr:
        flag, addr_text = "--discount-addr", args.discount_addr
    else:
        flag, addr_text = f"${DISCOUNT_ADDR_ENV}", os.environ.get(DISCOUNT_ADDR_ENV) or DEFAULT_DISCOUNT_ADDR
    discount_addr = cli.parse_host_port(flag, addr_text, allow_port_zero=False)
    return Config(
        listen=cli.parse_host_port("--listen", args.listen, allow_port_zero=True),
        server_tls=tls.server_tls_from_args(args),
        discount_addr=discount_addr,
        discount_server_name=args.discount_server_name or discount_addr.host,
        discount_tls=tls.client_tls_from_args(args),
        discount_timeout_seconds=args.discount_timeout_ms / 1000,
        exit_on_stdin_eof=args.exit_on_stdin_eof,
    )


def parse_customer_id(text: str) -> int | None:
    """The header value as Go's strconv.Atoi reads it on a 64-bit machine; None where Atoi returns an error."""
    if not _ATOI.fullmatch(text):
        return None
    value = int(text)
    return value if _INT64_MIN <= value <= _INT64_MAX else None


class DiscountPricer:
    """Prices products through the Discount service: all calls at once, under one deadline per request."""

    def __init__(self, stub: ecommerce_pb2_grpc.DiscountStub, timeout_seconds: float) -> None:
        self._stub = stub
        self._timeout_seconds = timeout_seconds

    async def __call__(
        self, customer: ecommerce_pb2.Customer, products: list[ecommerce_pb2.Product]
    ) -> list[ecommerce_pb2.Product]:
        deadline = asyncio.get_running_loop().time() + self._timeout_seconds
        return list(await asyncio.gather(*(self._price(customer, product, deadline) for product in products)))

    async def _price(
        self, customer: ecommerce_pb2.Customer, product: ecommerce_pb2.Product, deadline: float
    ) -> ecommerce_pb2.Product:
        remaining = max(0.0, deadline - asyncio.get_running_loop().time())
        request = ecommerce_pb2.DiscountRequest(customer=customer, product=product)
        try:
            response = await self._stub.ApplyDiscount(request, timeout=remaining)
        except grpc.aio.AioRpcError as err:
            # Unlike the tutorial, which dropped the product, keep it unpriced: a list that loses items is worse.
            return _unpriced(product, customer, err.code().name, err.details() or "")
        invalid = _invalid_answer(response)
        if invalid:
            return _unpriced(product, customer, grpc.StatusCode.INTERNAL.name, invalid)
        return response.product


def _invalid_answer(response: ecommerce_pb2.DiscountResponse) -> str | None:
    """Why an answer cannot be shown: no product, or a pct JSON cannot carry (Go's encoder refuses NaN and inf)."""
    if not response.HasField("product"):
        return "invalid answer: no product"
    pct = response.product.discount_value.pct
    if not math.isfinite(pct):
        return f"invalid answer: pct {pct} is not a finite number"
    return None


def _unpriced(product: ecommerce_pb2.Product, customer: ecommerce_pb2.Customer, code: str, details: str
              ) -> ecommerce_pb2.Product:
    log.warning("discount failed product_id=%d customer_id=%d code=%s details=%s", product.id, customer.id, code, details)
    return product


def _text(body: str, status: int = 200) -> web.Response:
    return web.Response(body=body.encode(), status=status, headers={"Content-Type": TEXT_PLAIN})


def _json(body: str) -> web.Response:
    return web.Response(body=body.encode(), headers={"Content-Type": "application/json"})


@web.middleware
async def _limit_headers(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                         ) -> web.StreamResponse:
    """431 for a request with too many header bytes or fields, with the body Go's net/http answers past its limit."""
    size = sum(len(name) + len(value) for name, value in request.raw_headers)
    if size > MAX_HEADER_BYTES or len(request.raw_headers) > MAX_HEADER_FIELDS:
        return _text("431 Request Header Fields Too Large", status=431)
    return await handler(request)


@web.middleware
async def _go_style_errors(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                           ) -> web.StreamResponse:
    """Answer unknown paths and methods with the bodies Go's net/http uses, so every language matches."""
    try:
        return await handler(request)
    except web.HTTPNotFound:
        return _text("404 page not found\n", status=404)
    except web.HTTPMethodNotAllowed as err:
        response = _text("Method Not Allowed\n", status=405)
        response.headers["Allow"] = err.headers.get("Allow", "")
        return response


async def _index(_: web.Request) -> web.Response:
    return _text("It is working.")


async def _healthz(_: web.Request) -> web.Response:
    return _text("ok")


def _products_handler(pricer: Pricer) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def products(request: web.Request) -> web.Response:
        items = data.products()
        # .get returns the first of repeated headers, as Go's Header.Get does. Whitespace around a value is not part
        # of it (RFC 9110 section 5.5); the Rust service drops it too, as its HTTP/2 clients send it verbatim.
        user_id = request.headers.get(USER_ID_HEADER, "").strip(" \t")
        if not user_id:
            return _json(render.render_products(items))
        customer_id = parse_customer_id(user_id)
        if customer_id is None:
            return _text(NOT_A_NUMBER, status=400)
        customer = data.find_customer(customer_id)
        if customer is None:
            return _json(render.render_products(items))
        return _json(render.render_products(await pricer(customer, items)))

    return products


def build_app(pricer: Pricer) -> web.Application:
    """The HTTP routes, separate from any socket so tests can drive them in-process."""
    app = web.Application(middlewares=[_limit_headers, _go_style_errors])
    app.router.add_get("/", _index)  # add_get also answers HEAD
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/products", _products_handler(pricer))
    return app


def open_discount_channel(config: Config) -> grpc.aio.Channel:
    """The one long-lived channel to Discount; grpcio connects lazily and reconnects by itself."""
    return rpc.upstream_channel("discount", config.discount_addr, config.discount_server_name, config.discount_tls)


async def serve(config: Config) -> None:
    """Serve until SIGTERM/SIGINT (or stdin EOF when asked), then finish in-flight requests and return."""
    stop = lifecycle.stop_event(config.exit_on_stdin_eof, log)
    channel = open_discount_channel(config)
    try:
        pricer = DiscountPricer(ecommerce_pb2_grpc.DiscountStub(channel), config.discount_timeout_seconds)
        runner = web.AppRunner(build_app(pricer), max_line_size=PARSER_MAX_BYTES, max_field_size=PARSER_MAX_BYTES,
                               max_headers=PARSER_MAX_FIELDS)
        await runner.setup()
        try:
            port = await _start_site(runner, config)
            log.info("serving catalog on %s %s discount=%s %s", config.listen.with_port(port),
                     lifecycle.tls_fields(config.server_tls), config.discount_addr,
                     lifecycle.tls_fields(config.discount_tls, prefix="discount_"))
            lifecycle.announce_ready(config.listen, port)
            await stop.wait()
        finally:
            await runner.cleanup()
    finally:
        await channel.close()
    log.info("catalog stopped")


async def _start_site(runner: web.AppRunner, config: Config) -> int:
    site: web.BaseSite
    if config.server_tls is None:
        site = web.TCPSite(runner, config.listen.host, config.listen.port, shutdown_timeout=STOP_GRACE_SECONDS)
    else:
        site = _TlsSite(runner, config.listen, config.server_tls.ssl_context())
    try:
        await site.start()
    except OSError as err:
        raise lifecycle.BindError(config.listen, lifecycle.describe_os_error(err)) from err
    return runner.addresses[0][1]


class _TlsSite(web.BaseSite):
    """aiohttp's TCPSite, except that TLS is accepted by `tls.handshaking`, which logs why a handshake failed."""

    def __init__(self, runner: web.AppRunner, listen: cli.HostPort, context: ssl.SSLContext) -> None:
        super().__init__(runner, shutdown_timeout=STOP_GRACE_SECONDS)
        self._listen = listen
        self._context = context

    @property
    def name(self) -> str:
        return f"https://{self._listen}"

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None
        self._server = await asyncio.get_running_loop().create_server(
            tls.handshaking(server, self._context), self._listen.host, self._listen.port)
