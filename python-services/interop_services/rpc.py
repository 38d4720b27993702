"""What every gRPC service here shares: health and reflection, the READY line, a graceful stop, channels to
upstreams, and the google.rpc error model (BadRequest field violations in the status details)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Sequence

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from grpc_status import rpc_status

from interop_services import cli, lifecycle, tls

INVALID_REQUEST = "invalid request"
STOP_GRACE_SECONDS = 5.0


@dataclass(frozen=True)
class Violation:
    """One google.rpc.BadRequest field violation: the field's path (`items[0].quantity`) and what is wrong."""

    field: str
    description: str


def rich_status(code: int, message: str, *details: object) -> grpc.Status:
    """A status with google.rpc detail messages, as grpcio sends it (`grpc-status-details-bin`)."""
    packed = []
    for detail in details:
        wrapper = any_pb2.Any()
        wrapper.Pack(detail)
        packed.append(wrapper)
    return rpc_status.to_status(status_pb2.Status(code=code, message=message, details=packed))


def invalid(violations: Sequence[Violation]) -> grpc.Status:
    """INVALID_ARGUMENT carrying `violations` as a google.rpc.BadRequest, in their order."""
    bad_request = error_details_pb2.BadRequest(field_violations=[
        error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description) for v in violations
    ])
    return rich_status(code_pb2.INVALID_ARGUMENT, INVALID_REQUEST, bad_request)


def details_of(error: grpc.aio.AioRpcError) -> status_pb2.Status | None:
    """The google.rpc.Status an upstream sent with its error, if any (None if absent or inconsistent)."""
    try:
        return rpc_status.from_call(error)
    except ValueError:
        return None


def upstream_channel(name: str, addr: cli.HostPort, server_name: str, client_tls: tls.ClientTls | None,
                     options: Sequence[tuple[str, object]] = ()) -> grpc.aio.Channel:
    """A long-lived channel to an upstream, over TLS iff `client_tls`; grpcio connects lazily and reconnects."""
    target = str(addr)
    if client_tls is None:
        return grpc.aio.insecure_channel(target, options=list(options))
    # Override the verified name only when it differs from the dialled host (loopback addresses); a peer dialled by
    # its own name (a container's) is verified by that name, as any client would.
    override = [("grpc.ssl_target_name_override", server_name)] if server_name != addr.host else []
    return grpc.aio.secure_channel(target, client_tls.grpc_credentials(), options=[*override, *options])


async def serve(prog: str, listen: cli.HostPort, server_tls: tls.ServerTls | None, exit_on_stdin_eof: bool,
                service_name: str, register: Callable[[grpc.aio.Server], None], log: logging.Logger,
                interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
                options: Sequence[tuple[str, object]] = ()) -> None:
    """Serve until SIGTERM/SIGINT (or stdin EOF when asked), then drain in-flight calls and return. `interceptors`
    and `options` are the service's own additions to grpcio's server."""
    stop = lifecycle.stop_event(exit_on_stdin_eof, log)
    lifecycle.ensure_bindable(listen)
    server = grpc.aio.server(interceptors=list(interceptors), options=[
        # so_reuseport off: grpcio sets it by default, which lets a second server "bind" a port already taken.
        ("grpc.so_reuseport", 0),
        # As the Rust services: a connection that has not finished its TLS handshake by then is closed (grpcio's
        # default is 120 s).
        ("grpc.server_handshake_timeout_ms", int(tls.HANDSHAKE_TIMEOUT_SECONDS * 1000)),
        *options,
    ])
    register(server)
    health_servicer = health.aio.HealthServicer()
    await health_servicer.set(service_name, health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection([service_name, health.SERVICE_NAME, reflection.SERVICE_NAME], server)

    port = _bind(server, listen, server_tls)
    await server.start()
    log.info("serving %s on %s %s", prog, listen.with_port(port), lifecycle.tls_fields(server_tls))
    lifecycle.announce_ready(listen, port)

    await stop.wait()
    # NOT_SERVING first, so health watchers learn about the stop before connections close. A Watch stream never ends
    # by itself: an open one holds the stop for the whole grace period, then grpcio cancels it (and logs that).
    await health_servicer.enter_graceful_shutdown()
    await server.stop(STOP_GRACE_SECONDS)
    log.info("%s stopped", prog)


def _bind(server: grpc.aio.Server, listen: cli.HostPort, server_tls: tls.ServerTls | None) -> int:
    address = str(listen)
    try:
        if server_tls is None:
            return server.add_insecure_port(address)
        return server.add_secure_port(address, server_tls.grpc_credentials())
    except RuntimeError as err:
        raise lifecycle.BindError(listen, str(err)) from err
