"""gRPC's interop test cases (grpc/grpc doc/interop-test-descriptions.md): the TestService server, the interop client
and its cases, named and sized as the spec names and sizes them. The Rust twin is `interop_services::testing`.

    python -m interop_services.testing.server --port 8080 --use_tls
    python -m interop_services.testing.client --server_port 8080 --use_tls --use_test_ca --test_case large_unary
"""

from __future__ import annotations

import argparse

from interop_services.proto import messages_pb2

# Metadata the server echoes: the first in its response headers, the second (binary) in its trailers.
ECHO_INITIAL = "x-grpc-test-echo-initial"
ECHO_TRAILING_BIN = "x-grpc-test-echo-trailing-bin"

_BOOLS = {"true": True, "false": False}


def spec_bool(text: str) -> bool:
    """The spec's BOOLEAN flags, gflags style: `--use_tls`, `--use_tls=true`, `--use_tls=false`."""
    try:
        return _BOOLS[text.lower()]
    except KeyError:
        raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}") from None


def add_spec_bool(parser: argparse.ArgumentParser, flag: str, help: str) -> None:
    parser.add_argument(flag, type=spec_bool, nargs="?", const=True, default=False, metavar="BOOL", help=help)


def zeros(size: int) -> messages_pb2.Payload:
    """A payload of `size` zero bytes, the only payload the spec asks for."""
    return messages_pb2.Payload(type=messages_pb2.COMPRESSABLE, body=bytes(size))
