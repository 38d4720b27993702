"""A one-shot HTTP(S) client (aiohttp), so tests can make the Python client side of a Catalog request.

    python -m interop_services.catalog.client --url URL [--ca ... [--cert ... --key ...]]
        [--server-name NAME] [--method GET] [--header NAME:VALUE ...] [--timeout-ms N]

One JSON line on stdout answers: {"status": 200, "content_type": "...", "body": "...", "error": ""} when a response
arrived, {"status": 0, ..., "error": "..."} when none did (the error names every exception in the chain, so a caller
can tell a refused certificate from a closed connection). An https URL uses TLS with --ca as the only trust root
(and --cert/--key as the client identity); an http URL is plaintext. Exit 0 whatever happened to the request; exit 2
for bad flags.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
import sys
from typing import Sequence

import aiohttp

from interop_services import cli, tls

PROG = "catalog-client"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = cli.new_parser(PROG, "Make one HTTP request and print the outcome as JSON.")
    cli.add_upstream_flags(parser)
    parser.add_argument("--url", required=True, help="http://HOST:PORT/PATH or https://HOST:PORT/PATH")
    parser.add_argument("--server-name", metavar="NAME", help="TLS name to verify (default: host of --url)")
    parser.add_argument("--method", default="GET")
    parser.add_argument("--header", action="append", default=[], metavar="NAME:VALUE",
                        help="a request header; repeat for more (a name may repeat)")
    parser.add_argument("--timeout-ms", type=cli.positive_int, default=10_000, metavar="N")
    return parser.parse_args(argv)


def _headers(prog: str, pairs: list[str]) -> list[tuple[str, str]]:
    headers = []
    for pair in pairs:
        name, sep, value = pair.partition(":")
        if not sep or not name:
            cli.fail(prog, f"--header {pair}", "expected NAME:VALUE")
        headers.append((name, value))
    return headers


def describe(err: BaseException) -> str:
    """`Type: message` for the error and each cause under it: aiohttp wraps the ssl or socket error that says why."""
    parts = []
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        parts.append(f"{type(current).__name__}: {current}")
        current = current.__cause__ or current.__context__
    return " <- ".join(parts)


async def fetch(args: argparse.Namespace) -> dict[str, object]:
    try:
        client_tls = tls.client_tls_from_args(args)
    except cli.ConfigError as err:
        cli.fail(PROG, err.what, err.why)
    headers = _headers(PROG, args.header)
    context: ssl.SSLContext | bool = False
    if client_tls is not None:
        context = client_tls.ssl_context()
    timeout = aiohttp.ClientTimeout(total=args.timeout_ms / 1000)
    # No pooling, no proxy from the environment: one request, straight to the address given.
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout, trust_env=False) as session:
        try:
            # skip_auto_headers keeps the request to exactly what the caller asked for (plus Host).
            async with session.request(args.method, args.url, headers=headers, ssl=context,
                                       server_hostname=args.server_name if client_tls else None,
                                       skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding")) as response:
                body = await response.read()
                return {
                    "status": response.status,
                    "content_type": response.headers.get("Content-Type", ""),
                    "body": body.decode("utf-8", errors="replace"),
                    "error": "",
                }
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as err:
            return {"status": 0, "content_type": "", "body": "", "error": describe(err)}


def main() -> None:
    outcome = asyncio.run(fetch(parse_args()))
    sys.stdout.write(json.dumps(outcome) + "\n")


if __name__ == "__main__":
    main()
