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
import base64
import binascii
import json
import sys
from typing import Sequence

import grpc
from google.protobuf.message import DecodeError

from interop_services import auth, cli, tls
from interop_services.proto import ecommerce_pb2, ecommerce_pb2_grpc

PROG = "discount-client"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = cli.new_parser(PROG, "Call Discount.ApplyDiscount once and print the outcome as JSON.")
    cli.add_upstream_flags(parser)
    parser.add_argument("--addr", required=True, metavar="HOST:PORT", help="Discount's address")
    parser.add_argument("--server-name", metavar="NAME", help="TLS name to verify (default: host of --addr)")
    parser.add_argument("--token-file", metavar="PATH", help="send the bearer token in this file")
    request = parser.add_mutually_exclusive_group(required=True)
    request.add_argument("--request-b64", metavar="BASE64", help="serialized DiscountRequest, in base64")
    request.add_argument("--request-file", metavar="PATH", help="file holding a serialized DiscountRequest")
    parser.add_argument("--timeout-ms", type=cli.positive_int, default=10_000, metavar="N")
    return parser.parse_args(argv)


def _request(prog: str, args: argparse.Namespace) -> ecommerce_pb2.DiscountRequest:
    if args.request_file:
        try:
            with open(args.request_file, "rb") as file:
                data = file.read()
        except OSError as err:
            cli.fail(prog, f"--request-file {args.request_file}", f"cannot read: [Errno {err.errno}] {err.strerror}")
        what = f"--request-file {args.request_file}"
    else:
        try:
            data = base64.b64decode(args.request_b64, validate=True)
        except (binascii.Error, ValueError) as err:
            cli.fail(prog, f"--request-b64 {args.request_b64}", f"not base64: {err}")
        what = f"--request-b64 {args.request_b64}"
    try:
        return ecommerce_pb2.DiscountRequest.FromString(data)
    except DecodeError as err:
        cli.fail(prog, what, f"not a serialized DiscountRequest: {err}")


async def call(args: argparse.Namespace) -> dict[str, str]:
    try:
        addr = cli.parse_host_port("--addr", args.addr, allow_port_zero=False)
        client_tls = tls.client_tls_from_args(args)
    except cli.ConfigError as err:
        cli.fail(PROG, err.what, err.why)
    request = _request(PROG, args)
    metadata = []
    if args.token_file:
        try:
            metadata.append(("authorization", f"Bearer {auth.read_token('--token-file', args.token_file)}"))
        except cli.ConfigError as err:
            cli.fail(PROG, err.what, err.why)
    if client_tls is None:
        channel = grpc.aio.insecure_channel(str(addr))
    else:
        options = [("grpc.ssl_target_name_override", args.server_name or addr.host)]
        channel = grpc.aio.secure_channel(str(addr), client_tls.grpc_credentials(), options=options)
    async with channel:
        try:
            response = await ecommerce_pb2_grpc.DiscountStub(channel).ApplyDiscount(
                request, timeout=args.timeout_ms / 1000, metadata=metadata
            )
        except grpc.aio.AioRpcError as err:
            return {"code": err.code().name, "details": err.details() or "", "response_b64": ""}
    encoded = base64.b64encode(response.SerializeToString()).decode()
    return {"code": "OK", "details": "", "response_b64": encoded}


def main() -> None:
    outcome = asyncio.run(call(parse_args()))
    sys.stdout.write(json.dumps(outcome) + "\n")


if __name__ == "__main__":
    main()
