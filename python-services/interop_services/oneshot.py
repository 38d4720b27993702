"""What the one-shot gRPC clients share: the request as serialized bytes (base64 or a file), the channel the flags
describe, and the outcome as one JSON line. A harness in any language drives them to make the grpcio client side of
a call; each prints what grpcio understood, so the caller can compare it with its own client's understanding:

    {"code": "OK", "message": "", "response_b64": "...", "details": []}
    {"code": "INVALID_ARGUMENT", "message": "invalid request", "response_b64": "",
     "details": [{"type": "google.rpc.BadRequest", "field_violations": [{"field": ..., "description": ...}]}]}

The response is what grpcio decoded, serialized again; the details are the google.rpc messages of the status, decoded
through grpc_status as a grpcio user would. A client exits 0 whatever the RPC status, 2 for bad flags."""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import json
import sys
from typing import Awaitable, Coroutine, NoReturn, TypeVar

import grpc
from google.protobuf.message import DecodeError, Message
from google.rpc import error_details_pb2

from interop_services import cli, rpc, tls

M = TypeVar("M", bound=Message)


def new_parser(prog: str, description: str, service: str) -> argparse.ArgumentParser:
    """A parser with the flags every one-shot client takes: where, how secured, what to send, how long to wait."""
    parser = cli.new_parser(prog, description)
    cli.add_upstream_flags(parser)
    parser.add_argument("--addr", required=True, metavar="HOST:PORT", help=f"{service}'s address")
    parser.add_argument("--server-name", metavar="NAME", help="TLS name to verify (default: host of --addr)")
    request = parser.add_mutually_exclusive_group(required=True)
    request.add_argument("--request-b64", metavar="BASE64", help="the serialized request, in base64")
    request.add_argument("--request-file", metavar="PATH", help="a file holding the serialized request")
    parser.add_argument("--timeout-ms", type=cli.positive_int, default=10_000, metavar="N")
    return parser


def fail(prog: str, err: cli.ConfigError) -> NoReturn:
    cli.fail(prog, err.what, err.why)


def read_request(prog: str, args: argparse.Namespace, message_type: type[M]) -> M:
    """The request the flags carry, decoded as `message_type`; a usage error (exit 2) saying why if it cannot be."""
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
        return message_type.FromString(data)
    except DecodeError as err:
        cli.fail(prog, what, f"not a serialized {message_type.DESCRIPTOR.name}: {err}")


def channel(prog: str, args: argparse.Namespace) -> grpc.aio.Channel:
    """The channel the flags describe: TLS iff --ca, verifying --server-name (default: the host dialled)."""
    try:
        addr = cli.parse_host_port("--addr", args.addr, allow_port_zero=False)
        client_tls = tls.client_tls_from_args(args)
    except cli.ConfigError as err:
        fail(prog, err)
    if client_tls is None:
        return grpc.aio.insecure_channel(str(addr))
    options = [("grpc.ssl_target_name_override", args.server_name or addr.host)]
    return grpc.aio.secure_channel(str(addr), client_tls.grpc_credentials(), options=options)


async def outcome(call: Awaitable[Message]) -> dict[str, object]:
    """The JSON line's content for one call: its response, or its status and decoded details."""
    try:
        response = await call
    except grpc.aio.AioRpcError as err:
        return {"code": err.code().name, "message": err.details() or "", "response_b64": "", "details": _details(err)}
    encoded = base64.b64encode(response.SerializeToString()).decode()
    return {"code": "OK", "message": "", "response_b64": encoded, "details": []}


def print_outcome(call: Coroutine[object, object, dict[str, object]]) -> None:
    """Run a client's call and print its outcome as the one JSON line."""
    sys.stdout.write(json.dumps(asyncio.run(call)) + "\n")


def _details(error: grpc.aio.AioRpcError) -> list[dict[str, object]]:
    """The google.rpc details of a failed call, decoded as grpcio's users decode them (grpc_status), in order."""
    status = rpc.details_of(error)
    if status is None:
        return []
    decoded: list[dict[str, object]] = []
    for detail in status.details:
        bad_request = error_details_pb2.BadRequest()
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(bad_request):
            decoded.append({
                "type": "google.rpc.BadRequest",
                "field_violations": [{"field": v.field, "description": v.description}
                                     for v in bad_request.field_violations],
            })
        elif detail.Unpack(info):
            decoded.append({
                "type": "google.rpc.ErrorInfo",
                "reason": info.reason,
                "domain": info.domain,
                "metadata": dict(sorted(info.metadata.items())),
            })
        else:
            decoded.append({"type": "unexpected", "type_url": detail.type_url})
    return decoded
