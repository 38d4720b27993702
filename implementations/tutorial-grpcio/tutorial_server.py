"""The tutorial's Discount server, written the tutorial's way: synchronous grpcio, a thread pool, decimal maths.

It shares no code with interop_services on purpose (only the generated `ecommerce` modules): it stands for "any
grpcio server implementing the tutorial's proto", so a Catalog that works against it works against the original.

    python examples/tutorial_server.py --listen 127.0.0.1:0 [--tls-cert cert.pem --tls-key key.pem]
"""

from __future__ import annotations

import argparse
import decimal
import signal
import sys
import threading
from concurrent import futures
from types import FrameType

import grpc

from ecommerce import ecommerce_pb2, ecommerce_pb2_grpc


class Ecommerce(ecommerce_pb2_grpc.DiscountServicer):
    def ApplyDiscount(
        self, request: ecommerce_pb2.DiscountRequest, context: grpc.ServicerContext
    ) -> ecommerce_pb2.DiscountResponse:
        customer = request.customer
        product = request.product
        discount = ecommerce_pb2.DiscountValue()
        if customer.id == 1 and product.price_in_cents > 0:
            percentual = decimal.Decimal(10) / 100  # 10%
            price = decimal.Decimal(product.price_in_cents) / 100
            new_price = price - (price * percentual)
            value_in_cents = int(new_price * 100)
            # The tutorial hands the Decimal straight to the float field; protobuf converts it.
            discount = ecommerce_pb2.DiscountValue(pct=percentual, value_in_cents=value_in_cents)  # type: ignore[arg-type]
        product_with_discount = ecommerce_pb2.Product(
            id=product.id,
            slug=product.slug,
            description=product.description,
            price_in_cents=product.price_in_cents,
            discount_value=discount,
        )
        return ecommerce_pb2.DiscountResponse(product=product_with_discount)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--listen", default="[::]:11443", metavar="HOST:PORT")
    parser.add_argument("--tls-cert", metavar="PATH")
    parser.add_argument("--tls-key", metavar="PATH")
    # The harness's lifeline: it holds our stdin and closes it when it goes, so this process never outlives it.
    parser.add_argument("--exit-on-stdin-eof", action="store_true")
    args = parser.parse_args()
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together")
    return args


def add_port(server: grpc.Server, args: argparse.Namespace) -> int:
    if not args.tls_cert:
        return server.add_insecure_port(args.listen)
    with open(args.tls_key, "rb") as f:
        private_key = f.read()
    with open(args.tls_cert, "rb") as f:
        certificate_chain = f.read()
    server_credentials = grpc.ssl_server_credentials(((private_key, certificate_chain),))
    return server.add_secure_port(args.listen, server_credentials)


def main() -> None:
    args = parse_args()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=5))
    ecommerce_pb2_grpc.add_DiscountServicer_to_server(Ecommerce(), server)
    port = add_port(server, args)

    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if args.exit_on_stdin_eof:
        threading.Thread(target=lambda: (sys.stdin.buffer.read(), stopping.set()), daemon=True).start()

    server.start()
    host = args.listen.rsplit(":", 1)[0]  # keeps IPv6 brackets as given
    print(f"READY {host}:{port}", flush=True)
    print(f"Running Discount service on {host}:{port}", file=sys.stderr, flush=True)
    # The tutorial slept in a loop; waiting on the event wakes up as soon as a signal or the lifeline sets it.
    stopping.wait()
    server.stop(5).wait()


if __name__ == "__main__":
    main()
