"""A one-shot Order client, so tests can make the grpcio client side of an Order call from any language's harness.

    python -m interop_services.order.client --method Create|Get --addr HOST:PORT [--ca ... [--cert ... --key ...]]
        [--server-name NAME] (--request-b64 BASE64 | --request-file PATH) [--timeout-ms N]

The request arrives serialized (CreateOrderRequest or GetOrderRequest), so the caller controls every byte. One JSON
line on stdout answers what grpcio understood:

    {"code": "OK", "message": "", "response_b64": "...", "details": []}
    {"code": "INVALID_ARGUMENT", "message": "invalid request", "response_b64": "",
     "details": [{"type": "google.rpc.BadRequest", "field_violations": [{"field": ..., "description": ...}]}]}

The response is what grpcio decoded, serialized again; the details are the google.rpc messages of the status,
decoded through grpc_status as a grpcio user would. Exit 0 whatever the RPC status; exit 2 for bad flags.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Sequence

import grpc

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
        try:
            response = await method(request, timeout=args.timeout_ms / 1000)
        except grpc.aio.AioRpcError as err:
            return {"code": err.code().name, "message": err.details() or "", "response_b64": "",
                    "details": oneshot.details(err)}
    return {"code": "OK", "message": "", "response_b64": oneshot.encoded(response), "details": []}


def main() -> None:
    outcome = asyncio.run(call(parse_args()))
    sys.stdout.write(json.dumps(outcome) + "\n")


if __name__ == "__main__":
    main()
