"""What every service does the same way around its real work: logging, the READY line, and when to stop."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
import threading
from typing import Coroutine, NoReturn

from interop_services.cli import EXIT_BIND, HostPort, fail
from interop_services.tls import ClientTls, ServerTls

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class BindError(Exception):
    """The listening socket could not be opened; reported as exit 1, unlike configuration errors (exit 2)."""

    def __init__(self, listen: HostPort, why: str) -> None:
        super().__init__(f"--listen {listen}: cannot bind: {why}")
        self.listen = listen
        self.why = why


def describe_os_error(err: OSError) -> str:
    """`[Errno 98] Address already in use`: the errno's own text, without the wrappers asyncio and others add."""
    if isinstance(err, socket.gaierror) or not err.errno or err.errno < 0:
        return str(err)
    return f"[Errno {err.errno}] {os.strerror(err.errno)}"


def setup_logging() -> None:
    # stdout belongs to the READY line alone; everything a person reads goes to stderr.
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format=LOG_FORMAT)


def run(prog: str, service: Coroutine[object, object, None]) -> NoReturn:
    """Run a service's `serve` coroutine to completion and exit: 0 after a graceful stop, 1 if it cannot bind."""
    setup_logging()
    try:
        asyncio.run(service)
    except BindError as err:
        fail(prog, f"--listen {err.listen}", f"cannot bind: {err.why}", code=EXIT_BIND)
    raise SystemExit(0)


def tls_fields(security: ServerTls | ClientTls | None, prefix: str = "") -> str:
    """`tls=true mtls=false`: lower-case, as the Rust services log the same fields."""
    tls_on = security is not None
    mtls_on = security is not None and security.mutual
    return f"{prefix}tls={str(tls_on).lower()} {prefix}mtls={str(mtls_on).lower()}"


def announce_ready(listen: HostPort, port: int) -> None:
    """Write the one stdout line a harness waits for; the host is echoed as given, the port is the bound one."""
    sys.stdout.write(f"READY {listen.with_port(port)}\n")
    sys.stdout.flush()


def stop_event(exit_on_stdin_eof: bool, log: logging.Logger) -> asyncio.Event:
    """An event set by SIGTERM, SIGINT and, if asked, end of standard input. Call before announcing READY."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, _on_signal, signal.Signals(signum), stop, log)
    if exit_on_stdin_eof:
        # A thread, because a blocking read of a pipe cannot be awaited portably; daemon, so it never holds exit.
        threading.Thread(target=_wait_for_stdin_eof, args=(loop, stop, log), name="stdin-lifeline",
                         daemon=True).start()
    return stop


def _on_signal(signum: signal.Signals, stop: asyncio.Event, log: logging.Logger) -> None:
    log.info("received %s, stopping", signum.name)
    stop.set()


def _wait_for_stdin_eof(loop: asyncio.AbstractEventLoop, stop: asyncio.Event, log: logging.Logger) -> None:
    # os.read on the raw descriptor, not sys.stdin: a daemon thread blocked inside a buffered reader holds its lock
    # and can abort interpreter shutdown with a fatal error.
    try:
        while os.read(0, 65536):
            pass
    except OSError:
        pass  # a closed or unreadable stdin is the harness gone, the same as EOF
    try:
        loop.call_soon_threadsafe(_on_stdin_eof, stop, log)
    except RuntimeError:
        pass  # the loop already closed: the service is stopping anyway


def _on_stdin_eof(stop: asyncio.Event, log: logging.Logger) -> None:
    log.info("standard input closed, stopping")
    stop.set()


def ensure_bindable(listen: HostPort) -> None:
    """Raise BindError if no address of `listen` can be bound.

    grpcio reports a failed bind only as "Failed to bind" plus a C-core log line; trying the address first with a
    plain socket gives the errno a person needs ("Address already in use"). Like grpcio, succeed if any resolved
    address binds.
    """
    try:
        infos = socket.getaddrinfo(listen.host, listen.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as err:
        raise BindError(listen, str(err)) from err
    first_error: OSError | None = None
    for family, kind, proto, _, address in infos:
        try:
            with socket.socket(family, kind, proto) as probe:
                # As grpcio does, so a port in TIME_WAIT is not mistaken for a busy one.
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind(address)
            return
        except OSError as err:
            first_error = first_error or err
    raise BindError(listen, describe_os_error(first_error) if first_error else "no address to bind")
