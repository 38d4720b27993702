"""A one-shot Discount client, so tests can make the grpcio client side of a call from any language's harness.

    python -m interop_services.discount.client --addr HOST:PORT [--ca ... [--cert ... --key ...]]
        [--server-name NAME] [--token-file PATH] (--request-b64 BASE64 | --request-file PATH) [--timeout-ms N]

The request arrives serialized (as base64, or in a file for one too large for a command line), so the caller controls
every byte. One JSON line on stdout answers, as every one-shot client does (see `interop_services.oneshot`).
"""

from __future__ import annotations

import argparse
from typing import Sequence

from interop_services import auth, cli, oneshot
from interop_services.proto import ecommerce_pb2, ecommerce_pb2_grpc

PROG = "discount-client"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = oneshot.new_parser(PROG, "Call Discount.ApplyDiscount once and print the outcome as JSON.", "Discount")
    parser.add_argument("--token-file", metavar="PATH", help="send the bearer token in this file")
    return parser.parse_args(argv)


async def call(args: argparse.Namespace) -> dict[str, object]:
    channel = oneshot.channel(PROG, args)
    request = oneshot.read_request(PROG, args, ecommerce_pb2.DiscountRequest)
    metadata = []
    if args.token_file:
        try:
            metadata.append(("authorization", f"Bearer {auth.read_token('--token-file', args.token_file)}"))
        except cli.ConfigError as err:
            oneshot.fail(PROG, err)
    async with channel:
        stub = ecommerce_pb2_grpc.DiscountStub(channel)
        return await oneshot.outcome(stub.ApplyDiscount(request, timeout=args.timeout_ms / 1000, metadata=metadata))


def main() -> None:
    oneshot.print_outcome(call(parse_args()))


if __name__ == "__main__":
    main()
