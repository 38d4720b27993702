"""What every gRPC service here serves besides its own (Rust twin: `interop_services::grpc_server`): the standard
health service, reflection, the listening port (TLS when asked), and a graceful stop that turns health NOT_SERVING
before connections close.
"""

from __future__ import annotations

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from interop_services.cli import HostPort
from interop_services.lifecycle import BindError
from interop_services.tls import ServerTls


async def start(server: grpc.aio.Server, service_name: str, listen: HostPort,
                server_tls: ServerTls | None) -> tuple[int, health.aio.HealthServicer]:
    """Adds health (SERVING for `service_name`) and reflection, binds `listen`, starts; returns the bound port."""
    health_servicer = health.aio.HealthServicer()
    await health_servicer.set(service_name, health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection([service_name, health.SERVICE_NAME, reflection.SERVICE_NAME], server)
    address = str(listen)
    try:
        if server_tls is None:
            port = server.add_insecure_port(address)
        else:
            port = server.add_secure_port(address, server_tls.grpc_credentials())
    except RuntimeError as err:
        raise BindError(listen, str(err)) from err
    await server.start()
    return port, health_servicer


async def stop(server: grpc.aio.Server, health_servicer: health.aio.HealthServicer, grace_seconds: float) -> None:
    # NOT_SERVING first, so health watchers learn about the stop before connections close. A Watch stream never ends
    # by itself: an open one holds the stop for the whole grace period, then grpcio cancels it (and logs that).
    await health_servicer.enter_graceful_shutdown()
    await server.stop(grace_seconds)
