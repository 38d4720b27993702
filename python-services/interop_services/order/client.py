"""A one-shot Order client, so tests can make the grpcio client side of an Order call from any language's harness.

    python -m interop_services.order.client --method Create|Get --addr HOST:PORT [--ca ... [--cert ... --key ...]]
        [--server-name NAME] (--request-b64 BASE64 | --request-file PATH) [--timeout-ms N]

The request arrives serialized (CreateOrderRequest or GetOrderRequest), so the caller controls every byte. One JSON
line on stdout answers, as every one-shot client does (see `interop_services.oneshot`), the google.rpc details of a
failed call included.
"""

from __future__ import annotations

import argparse
from typing import Sequence

from interop_services import oneshot
from interop_services.proto import order_pb2, order_pb2_grpc

PROG = "order-client"
REQUESTS = {"Create": order_pb2.CreateOrderRequest, "Get": order_pb2.GetOrderRequest}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = oneshot.new_parser(PROG, "Call one Order method once and print the outcome as JSON.", "Order")
    parser.add_argument("--method", required=True, choices=sorted(REQUESTS), help="which Order method to call")
    return parser.parse_args(argv)


async def call(args: argparse.Namespace) -> dict[str, object]:
    channel = oneshot.channel(PROG, args)
    request = oneshot.read_request(PROG, args, REQUESTS[args.method])
    async with channel:
        method = getattr(order_pb2_grpc.OrderStub(channel), args.method)
        return await oneshot.outcome(method(request, timeout=args.timeout_ms / 1000))


def main() -> None:
    oneshot.print_outcome(call(parse_args()))


if __name__ == "__main__":
    main()
