"""The interop client (grpc.aio): the spec's client flags, one channel, one case per run.

    python -m interop_services.testing.client --server_host localhost --server_port 8080 --use_tls \
        --use_test_ca --server_host_override foo.test.google.fr --test_case large_unary

Exit 0 when the case passes; exit 1 and one line `<case>: got X, want Y` when it fails; exit 2 and one line
`interop-client: error: ...` when the command line or a certificate file is wrong.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Sequence

import grpc

from interop_services import cli, tls
from interop_services.testing import add_spec_bool
from interop_services.testing.cases import CASES, Cases, Mismatch

PROG = "interop-client"
# What --use_test_ca trusts: the CA `make keys` writes, relative to the working directory (the repository root).
TEST_CA = "keys/ca.pem"
# How long one case may take, start to finish, so a server that never answers fails the case instead of hanging.
CASE_TIMEOUT_SECONDS = 30.0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = cli.new_parser(PROG, "Runs one of the interop spec's test cases against a grpc.testing.TestService.")
    parser.add_argument("--server_host", default="localhost", metavar="HOST", help="the server host to connect to")
    parser.add_argument("--server_port", required=True, type=int, metavar="PORT", help="the server port")
    parser.add_argument("--server_host_override", metavar="HOST",
                        help="the name to verify the server's certificate against and to send as :authority "
                             "(default: --server_host)")
    add_spec_bool(parser, "--use_tls", "connect with TLS")
    add_spec_bool(parser, "--use_test_ca", f"trust the test CA ({TEST_CA}, written by `make keys`) instead of --ca")
    parser.add_argument("--ca", "--ca_file", dest="ca", metavar="PATH", help="CA certificate(s) to trust; implies TLS")
    parser.add_argument("--cert", metavar="PATH", help="client certificate (PEM) for mutual TLS")
    parser.add_argument("--key", metavar="PATH", help="private key (PEM) of --cert")
    parser.add_argument("--test_case", required=True, choices=CASES, metavar="CASE", help="the test case to run")
    return parser.parse_args(argv)


def _target(args: argparse.Namespace) -> tuple[str, grpc.ChannelCredentials | None, list[tuple[str, str]]]:
    """The address, credentials (None: plaintext) and options the flags describe; exits 2 with one line if they
    cannot make a channel."""
    if args.ca is None and args.use_test_ca:
        args.ca = TEST_CA
    address = str(cli.HostPort(args.server_host, args.server_port))
    if not (args.use_tls or args.ca):
        return address, None, []
    if args.ca is None:
        cli.fail(PROG, "--use_tls true", "no trust roots: give --use_test_ca (keys/ca.pem) or --ca PATH")
    try:
        client_tls = tls.client_tls_from_args(args)
    except cli.ConfigError as err:
        cli.fail(PROG, err.what, err.why)
    name = args.server_host_override or args.server_host
    # The spec's override names the server in TLS and in :authority alike.
    options = [("grpc.ssl_target_name_override", name), ("grpc.default_authority", name)]
    return address, client_tls.grpc_credentials(), options


def channel(args: argparse.Namespace) -> grpc.aio.Channel:
    """The asyncio channel the flags describe."""
    address, credentials, options = _target(args)
    if credentials is None:
        return grpc.aio.insecure_channel(address)
    return grpc.aio.secure_channel(address, credentials, options=options)


def sync_channel(args: argparse.Namespace) -> grpc.Channel:
    """The same channel in grpcio's synchronous API (the one case that needs it says why)."""
    address, credentials, options = _target(args)
    if credentials is None:
        return grpc.insecure_channel(address)
    return grpc.secure_channel(address, credentials, options=options)


async def run(args: argparse.Namespace) -> int:
    async with channel(args) as chan:
        case = getattr(Cases(chan, lambda: sync_channel(args)), args.test_case)
        try:
            await asyncio.wait_for(case(), CASE_TIMEOUT_SECONDS)
        except Mismatch as mismatch:
            print(f"{args.test_case}: {mismatch}", file=sys.stderr, flush=True)
            return 1
        except asyncio.TimeoutError:
            print(f"{args.test_case}: got no outcome within {CASE_TIMEOUT_SECONDS:g} s, want the case to finish",
                  file=sys.stderr, flush=True)
            return 1
    return 0


def main() -> None:
    raise SystemExit(asyncio.run(run(parse_args())))


if __name__ == "__main__":
    main()
