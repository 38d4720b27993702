"""Flags shared by every service and the single way a service gives up on its configuration.

The contract is the same in every language, so a harness can start a Rust or a Python service with the same
arguments and read the same one-line error when something is wrong.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from typing import Callable, NoReturn, Sequence, TypeVar

EXIT_CONFIG = 2
EXIT_BIND = 1

_PORT = re.compile(r"[0-9]{1,5}")

T = TypeVar("T")


class ConfigError(Exception):
    """A flag that cannot be used: `what` names the flag (and its value), `why` says what is wrong with it."""

    def __init__(self, what: str, why: str) -> None:
        super().__init__(f"{what}: {why}")
        self.what = what
        self.why = why


def fail(prog: str, what: str, why: str, code: int = EXIT_CONFIG) -> NoReturn:
    """Print one line in argparse's shape (`prog: error: ...`) on stderr and exit."""
    print(f"{prog}: error: {what}: {why}", file=sys.stderr, flush=True)
    raise SystemExit(code)


@dataclass(frozen=True)
class HostPort:
    """A `HOST:PORT` address; `host` is kept without the brackets an IPv6 literal needs on the command line."""

    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def with_port(self, port: int) -> HostPort:
        return HostPort(self.host, port)


def parse_host_port(flag: str, text: str, *, allow_port_zero: bool) -> HostPort:
    """Parse `host:port` or `[v6]:port`, as Go's net.SplitHostPort would, plus a port range check."""

    def bad(why: str) -> ConfigError:
        return ConfigError(f"{flag} {text}", why)

    if text.startswith("["):
        host, sep, port = text[1:].partition("]:")
        if not sep or "]" in host:
            raise bad("expected [IPV6]:PORT")
    else:
        host, sep, port = text.rpartition(":")
        if not sep:
            raise bad("missing port, expected HOST:PORT")
        if ":" in host:
            raise bad("an IPv6 address needs brackets, e.g. [::1]:PORT")
    if not host:
        raise bad("missing host, expected HOST:PORT")
    # fullmatch on an ASCII class: int() alone would accept " 80", "8_0" and non-ASCII digits.
    if not _PORT.fullmatch(port) or int(port) > 65535:
        raise bad(f"port {port!r} is not a number from 0 to 65535")
    if int(port) == 0 and not allow_port_zero:
        raise bad("port 0 cannot be dialled")
    return HostPort(host, int(port))


def positive_int(text: str) -> int:
    """argparse type for counts and durations: a bad value becomes argparse's own usage error."""
    if not re.fullmatch(r"[0-9]+", text) or int(text) == 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return int(text)


class _OneLineParser(argparse.ArgumentParser):
    """argparse, with the contract's usage errors: one line (`prog: error: ...`) and exit 2, as the Rust twins (clap)
    print, instead of argparse's usage block first."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {message}", file=sys.stderr, flush=True)
        raise SystemExit(EXIT_CONFIG)


def new_parser(prog: str, description: str) -> argparse.ArgumentParser:
    # allow_abbrev=False: a harness typo such as --tls must fail, not silently mean --tls-cert.
    return _OneLineParser(prog=prog, description=description, allow_abbrev=False)


def add_server_flags(parser: argparse.ArgumentParser, default_listen: str) -> None:
    """Flags about the socket the service listens on and how it authenticates itself and its clients."""
    parser.add_argument("--listen", default=default_listen, metavar="HOST:PORT",
                        help=f"address to serve on; port 0 picks a free port (default {default_listen})")
    parser.add_argument("--tls-cert", metavar="PATH", help="serve TLS with this certificate chain (PEM)")
    parser.add_argument("--tls-key", metavar="PATH", help="private key of --tls-cert (PEM)")
    parser.add_argument("--client-ca", metavar="PATH",
                        help="require client certificates signed by this CA (mutual TLS); needs --tls-cert")
    parser.add_argument("--exit-on-stdin-eof", action="store_true",
                        help="also stop gracefully when standard input reaches end of file")


def add_upstream_flags(parser: argparse.ArgumentParser) -> None:
    """Flags about how the service calls the services it depends on."""
    parser.add_argument("--ca", metavar="PATH", help="trust roots for upstream calls; upstream calls use TLS iff given")
    parser.add_argument("--cert", metavar="PATH", help="client certificate for upstream mutual TLS; needs --ca")
    parser.add_argument("--key", metavar="PATH", help="private key of --cert (PEM)")


def parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None,
          build: Callable[[argparse.Namespace], T]) -> T:
    """Parse flags, then turn them into a checked configuration, exiting 2 with one line on the first problem."""
    args = parser.parse_args(argv)
    try:
        return build(args)
    except ConfigError as err:
        fail(parser.prog, err.what, err.why)
