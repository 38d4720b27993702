"""A one-shot Discount client, so tests can make the grpcio client side of a call from any language's harness.

    python -m interop_services.discount.client --addr HOST:PORT [--ca ... [--cert ... --key ...]]
        [--server-name NAME] [--token-file PATH] (--request-b64 BASE64 | --request-file PATH) [--timeout-ms N]

The request arrives serialized (as base64, or in a file for one too large for a command line), so the caller controls
every byte. One JSON line
on stdout answers: {"code": "OK", "details": "", "response_b64": "..."}; the response is what this client decoded,
serialized again, so a caller can compare what each client language understood. Exit 0 whatever the RPC status;
exit 2 for bad flags.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Sequence

import grpc

from interop_services import auth, cli, oneshot
from interop_services.proto import ecommerce_pb2, ecommerce_pb2_grpc

PROG = "discount-client"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = oneshot.new_parser(PROG, "Call Discount.ApplyDiscount once and print the outcome as JSON.", "Discount")
    parser.add_argument("--token-file", metavar="PATH", help="send the bearer token in this file")
    return parser.parse_args(argv)


async def call(args: argparse.Namespace) -> dict[str, str]:
    channel = oneshot.channel(PROG, args)
    request = oneshot.read_request(PROG, args, ecommerce_pb2.DiscountRequest)
    metadata = []
    if args.token_file:
        try:
            metadata.append(("authorization", f"Bearer {auth.read_token('--token-file', args.token_file)}"))
        except cli.ConfigError as err:
            oneshot.fail(PROG, err)
    async with channel:
        try:
            response = await ecommerce_pb2_grpc.DiscountStub(channel).ApplyDiscount(
                request, timeout=args.timeout_ms / 1000, metadata=metadata
            )
        except grpc.aio.AioRpcError as err:
            return {"code": err.code().name, "details": err.details() or "", "response_b64": ""}
    return {"code": "OK", "details": "", "response_b64": oneshot.encoded(response)}


def main() -> None:
    outcome = asyncio.run(call(parse_args()))
    sys.stdout.write(json.dumps(outcome) + "\n")


if __name__ == "__main__":
    main()
