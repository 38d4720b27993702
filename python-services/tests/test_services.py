"""Discount and Catalog as real processes on loopback: READY, end-to-end answers, TLS, and how they stop."""

from __future__ import annotations

import base64
import http.client
import json
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import grpc
import pytest
import samples
from conftest import STOP_TIMEOUT_SECONDS, TUTORIAL_SERVER, Pki, Service, child_env, module_args, start
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from interop_services.proto import ecommerce_pb2, ecommerce_pb2_grpc

LOCAL = "127.0.0.1:0"


def get(address: str, path: str = "/products", headers: dict[str, str] | None = None,
        context: ssl.SSLContext | None = None) -> tuple[int, str, str]:
    host, port = address.rsplit(":", 1)
    if context is None:
        connection: http.client.HTTPConnection = http.client.HTTPConnection(host, int(port), timeout=30)
    else:
        connection = http.client.HTTPSConnection(host, int(port), timeout=30, context=context)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read().decode()
    finally:
        connection.close()


def products_for(catalog: Service, user_id: str | None, context: ssl.SSLContext | None = None) -> tuple[int, str]:
    headers = {} if user_id is None else {"X-USER-ID": user_id}
    status, _, body = get(catalog.address, headers=headers, context=context)
    return status, body


@pytest.fixture(scope="module")
def discount() -> Iterator[Service]:
    service = start("discount", module_args("discount", "--listen", LOCAL))
    yield service
    service.close()


@pytest.fixture(scope="module")
def catalog(discount: Service) -> Iterator[Service]:
    service = start("catalog", module_args("catalog", "--listen", LOCAL, "--discount-addr", discount.address))
    yield service
    service.close()


def test_ready_line_names_the_bound_port(discount: Service, catalog: Service) -> None:
    for service in (discount, catalog):
        host, port = service.address.rsplit(":", 1)
        assert host == "127.0.0.1" and int(port) > 0, service.address


@pytest.mark.parametrize(
    ("user_id", "status", "body"),
    [("1", 200, samples.USER_1), ("2", 200, samples.USER_2), (None, 200, samples.NO_DISCOUNT),
     ("abc", 400, samples.NOT_A_NUMBER), ("42", 200, samples.NO_DISCOUNT)],
    ids=["user_1", "user_2", "no_user", "user_abc", "user_42"],
)
def test_catalog_through_discount(catalog: Service, user_id: str | None, status: int, body: str) -> None:
    assert products_for(catalog, user_id) == (status, body), f"catalog log:\n{catalog.log_tail()}"


def test_content_types(catalog: Service) -> None:
    assert get(catalog.address, "/")[1:] == ("text/plain; charset=utf-8", "It is working.")
    assert get(catalog.address, "/products")[1] == "application/json"
    assert get(catalog.address, headers={"X-USER-ID": "abc"})[1] == "text/plain; charset=utf-8"


def test_discount_health_and_reflection(discount: Service) -> None:
    with grpc.insecure_channel(discount.address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for name in ("", "ecommerce.Discount"):
            status = health.Check(health_pb2.HealthCheckRequest(service=name), timeout=10).status
            assert status == health_pb2.HealthCheckResponse.SERVING, f"health {name!r}"
        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        answer = next(iter(reflection.ServerReflectionInfo(iter([request]), timeout=10)))
        names = {service.name for service in answer.list_services_response.service}
        assert {"ecommerce.Discount", "grpc.health.v1.Health"} <= names


def test_discount_answers_grpc_directly(discount: Service) -> None:
    with grpc.insecure_channel(discount.address) as channel:
        stub = ecommerce_pb2_grpc.DiscountStub(channel)
        request = ecommerce_pb2.DiscountRequest(customer=ecommerce_pb2.Customer(id=2),
                                                product=ecommerce_pb2.Product(id=5, price_in_cents=1000))
        product = stub.ApplyDiscount(request, timeout=10).product
        assert product.id == 5 and product.HasField("discount_value")


def test_discount_down_gives_plain_list(services: list[Service]) -> None:
    discount = start("discount", module_args("discount", "--listen", LOCAL))
    services.append(discount)
    catalog = start("catalog", module_args("catalog", "--listen", LOCAL, "--discount-addr", discount.address,
                                           "--discount-timeout-ms", "5000"))
    services.append(catalog)
    assert products_for(catalog, "1") == (200, samples.USER_1)
    assert discount.stop() == 0
    assert products_for(catalog, "1") == (200, samples.NO_DISCOUNT)
    assert "discount failed product_id=1 customer_id=1 code=UNAVAILABLE" in catalog.log()


def test_silent_discount_hits_the_request_deadline(services: list[Service]) -> None:
    # A listener that never answers: the TCP handshake completes, the HTTP/2 one never does.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        address = f"127.0.0.1:{silent.getsockname()[1]}"
        catalog = start("catalog", module_args("catalog", "--listen", LOCAL, "--discount-addr", address,
                                               "--discount-timeout-ms", "500"))
        services.append(catalog)
        started = time.monotonic()
        assert products_for(catalog, "1") == (200, samples.NO_DISCOUNT)
        elapsed = time.monotonic() - started
    assert 0.4 < elapsed < 5, f"one 500 ms deadline for three calls took {elapsed:.2f}s"
    assert catalog.log().count("code=DEADLINE_EXCEEDED") == 3


def test_catalog_against_tutorial_style_server(services: list[Service]) -> None:
    tutorial = start("tutorial-discount", [str(TUTORIAL_SERVER), "--listen", LOCAL])
    services.append(tutorial)
    catalog = start("catalog", module_args("catalog", "--listen", LOCAL, "--discount-addr", tutorial.address))
    services.append(catalog)
    assert products_for(catalog, "1") == (200, samples.USER_1)
    assert products_for(catalog, "2") == (200, samples.USER_2)
    assert tutorial.stop() == 0


@pytest.mark.parametrize("service", ["discount", "catalog"])
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_stops_gracefully(services: list[Service], service: str, signum: int) -> None:
    running = start(service, module_args(service, "--listen", LOCAL))
    services.append(running)
    assert running.stop(signum) == 0, running.log_tail()
    assert running.stdout_after_ready == b"", "nothing but the READY line may go to stdout"


@pytest.mark.parametrize("service", ["discount", "catalog"])
def test_stdin_eof_stops_gracefully(services: list[Service], service: str) -> None:
    running = start(service, module_args(service, "--listen", LOCAL, "--exit-on-stdin-eof"))
    services.append(running)
    assert running.proc.stdin is not None
    running.proc.stdin.close()
    assert running.wait_exit() == 0, running.log_tail()
    assert "standard input closed" in running.log()


def test_stdin_eof_ignored_without_flag(services: list[Service]) -> None:
    running = start("discount", module_args("discount", "--listen", LOCAL))
    services.append(running)
    assert running.proc.stdin is not None
    running.proc.stdin.close()
    with pytest.raises(subprocess.TimeoutExpired):
        running.proc.wait(1.0)
    assert running.stop() == 0


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback on this machine")
@pytest.mark.parametrize("service", ["discount", "catalog"])
def test_ipv6_ready_line_keeps_brackets(services: list[Service], service: str) -> None:
    running = start(service, module_args(service, "--listen", "[::1]:0"))
    services.append(running)
    assert running.address.startswith("[::1]:") and running.port > 0, running.address


# --- TLS, with certificates from the openssl command (skipped where it is missing) ---


@pytest.fixture(scope="module")
def mtls_stack(pki: Pki) -> Iterator[tuple[Service, Service]]:
    """Catalog (HTTPS, client certificates required) -> Discount (gRPC, mutual TLS), dialled by IP, verified by name."""
    discount = start("discount", module_args("discount", "--listen", LOCAL, "--tls-cert", str(pki.server_cert),
                                             "--tls-key", str(pki.server_key), "--client-ca", str(pki.ca)))
    catalog = None
    try:
        catalog = start("catalog", module_args(
            "catalog", "--listen", LOCAL, "--tls-cert", str(pki.server_cert), "--tls-key", str(pki.server_key),
            "--client-ca", str(pki.ca), "--discount-addr", discount.address, "--discount-server-name", "localhost",
            "--ca", str(pki.ca), "--cert", str(pki.client_cert), "--key", str(pki.client_key)))
        yield discount, catalog
    finally:
        if catalog:
            catalog.close()
        discount.close()


def https_context(pki: Pki, *, with_client_cert: bool = True) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki.ca))
    if with_client_cert:
        context.load_cert_chain(str(pki.client_cert), str(pki.client_key))
    return context


def test_mtls_catalog_through_discount(mtls_stack: tuple[Service, Service], pki: Pki) -> None:
    _, catalog = mtls_stack
    assert products_for(catalog, "1", context=https_context(pki)) == (200, samples.USER_1), catalog.log_tail()
    assert products_for(catalog, "2", context=https_context(pki)) == (200, samples.USER_2)


def test_https_requires_client_certificate(mtls_stack: tuple[Service, Service], pki: Pki) -> None:
    _, catalog = mtls_stack
    with pytest.raises((ssl.SSLError, ConnectionError)):
        products_for(catalog, None, context=https_context(pki, with_client_cert=False))


def test_https_logs_why_it_refused_a_handshake(mtls_stack: tuple[Service, Service], pki: Pki) -> None:
    _, catalog = mtls_stack
    with pytest.raises((ssl.SSLError, ConnectionError)):
        products_for(catalog, None, context=https_context(pki, with_client_cert=False))
    # Logged before the connection was closed, so it is there once the client has failed.
    refusals = [line for line in catalog.log().splitlines() if "tls handshake failed peer=127.0.0.1:" in line]
    assert any("PEER_DID_NOT_RETURN_A_CERTIFICATE" in line for line in refusals), catalog.log_tail()


def test_discount_refuses_identities_it_does_not_know(mtls_stack: tuple[Service, Service], pki: Pki) -> None:
    discount, _ = mtls_stack
    request = ecommerce_pb2.DiscountRequest(customer=ecommerce_pb2.Customer(id=1),
                                            product=ecommerce_pb2.Product(id=1, price_in_cents=100))
    payment = grpc.ssl_channel_credentials(pki.ca.read_bytes(), pki.payment_key.read_bytes(),
                                           pki.payment_cert.read_bytes())
    with grpc.secure_channel(discount.address, payment, [("grpc.ssl_target_name_override", "localhost")]) as channel:
        with pytest.raises(grpc.RpcError) as failure:
            ecommerce_pb2_grpc.DiscountStub(channel).ApplyDiscount(request, timeout=10)
    assert failure.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert failure.value.details() == 'client identity "payment" is not allowed to call ecommerce.Discount'
    assert "call refused service=ecommerce.Discount code=PERMISSION_DENIED client=payment" in discount.log()


def test_discount_checks_the_bearer_token(services: list[Service], tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    discount = start("discount", module_args("discount", "--listen", LOCAL, "--token-file", str(token)))
    services.append(discount)
    request = ecommerce_pb2.DiscountRequest(customer=ecommerce_pb2.Customer(id=1),
                                            product=ecommerce_pb2.Product(id=1, price_in_cents=100))
    with grpc.insecure_channel(discount.address) as channel:
        stub = ecommerce_pb2_grpc.DiscountStub(channel)
        for metadata in [(), (("authorization", "Bearer wrong"),)]:
            with pytest.raises(grpc.RpcError) as failure:
                stub.ApplyDiscount(request, timeout=10, metadata=metadata)
            assert failure.value.code() == grpc.StatusCode.UNAUTHENTICATED
            assert failure.value.details() == "missing or invalid bearer token"
        reply = stub.ApplyDiscount(request, timeout=10, metadata=(("authorization", "Bearer s3cret"),))
        assert reply.product.discount_value.value_in_cents == 90
        # Health stays open: probes need no token.
        health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
        assert health.status == health_pb2.HealthCheckResponse.SERVING


def test_one_shot_clients_print_one_json_line(discount: Service, catalog: Service, tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "interop_services.catalog.client", "--url",
                          f"http://{catalog.address}/products", "--header", "X-USER-ID:1"],
                         capture_output=True, text=True, timeout=60, env=child_env())
    answer = json.loads(out.stdout)
    assert (answer["status"], answer["body"], answer["error"]) == (200, samples.USER_1, "")
    request = tmp_path / "request.bin"
    request.write_bytes(ecommerce_pb2.DiscountRequest(customer=ecommerce_pb2.Customer(id=1),
                                                      product=ecommerce_pb2.Product(price_in_cents=100))
                        .SerializeToString())
    out = subprocess.run([sys.executable, "-m", "interop_services.discount.client", "--addr", discount.address,
                          "--request-file", str(request)], capture_output=True, text=True, timeout=60, env=child_env())
    answer = json.loads(out.stdout)
    reply = ecommerce_pb2.DiscountResponse.FromString(base64.b64decode(answer["response_b64"]))
    assert (answer["code"], reply.product.discount_value.value_in_cents) == ("OK", 90)


def test_one_shot_http_client_reports_a_refusal(catalog: Service, pki: Pki) -> None:
    # TLS to a plaintext server: no response, and the error says why.
    out = subprocess.run([sys.executable, "-m", "interop_services.catalog.client", "--url",
                          f"https://{catalog.address}/healthz", "--ca", str(pki.ca)],
                         capture_output=True, text=True, timeout=60, env=child_env())
    answer = json.loads(out.stdout)
    assert answer["status"] == 0 and "WRONG_VERSION_NUMBER" in answer["error"], answer


def test_grpc_requires_client_certificate(mtls_stack: tuple[Service, Service], pki: Pki) -> None:
    discount, _ = mtls_stack
    request = ecommerce_pb2.DiscountRequest(customer=ecommerce_pb2.Customer(id=1),
                                            product=ecommerce_pb2.Product(id=1, price_in_cents=100))
    options = [("grpc.ssl_target_name_override", "localhost")]
    with_cert = grpc.ssl_channel_credentials(pki.ca.read_bytes(), pki.client_key.read_bytes(),
                                             pki.client_cert.read_bytes())
    with grpc.secure_channel(discount.address, with_cert, options) as channel:
        reply = ecommerce_pb2_grpc.DiscountStub(channel).ApplyDiscount(request, timeout=10)
        assert reply.product.discount_value.value_in_cents == 90
    without_cert = grpc.ssl_channel_credentials(pki.ca.read_bytes())
    with grpc.secure_channel(discount.address, without_cert, options) as channel:
        with pytest.raises(grpc.RpcError) as failure:
            ecommerce_pb2_grpc.DiscountStub(channel).ApplyDiscount(request, timeout=10)
        assert failure.value.code() == grpc.StatusCode.UNAVAILABLE


def test_wrong_discount_server_name_fails_calls(mtls_stack: tuple[Service, Service], pki: Pki,
                                                services: list[Service]) -> None:
    discount, _ = mtls_stack
    catalog = start("catalog", module_args(
        "catalog", "--listen", LOCAL, "--discount-addr", discount.address, "--discount-server-name", "other.test",
        "--discount-timeout-ms", "5000", "--ca", str(pki.ca), "--cert", str(pki.client_cert),
        "--key", str(pki.client_key)))
    services.append(catalog)
    assert products_for(catalog, "1") == (200, samples.NO_DISCOUNT)
    assert "code=UNAVAILABLE" in catalog.log()


def test_catalog_against_tutorial_style_server_over_tls(pki: Pki, services: list[Service]) -> None:
    tutorial = start("tutorial-discount", [str(TUTORIAL_SERVER), "--listen", LOCAL, "--tls-cert", str(pki.server_cert),
                                           "--tls-key", str(pki.server_key)])
    services.append(tutorial)
    # No --discount-server-name: the certificate's IP address entry must match the dialled 127.0.0.1.
    catalog = start("catalog", module_args("catalog", "--listen", LOCAL, "--discount-addr", tutorial.address,
                                           "--ca", str(pki.ca)))
    services.append(catalog)
    assert products_for(catalog, "1") == (200, samples.USER_1), catalog.log_tail()


@pytest.mark.parametrize("service", ["discount", "catalog", "order", "payment"])
@pytest.mark.parametrize("how", ["SIGTERM", "end of stdin"])
def test_a_service_whose_stderr_is_gone_still_stops(service: str, how: str, tmp_path: Path) -> None:
    """The harness that read its logs may be gone: a log line meeting a broken pipe must not block the stop."""
    flags = ["--listen", LOCAL, "--exit-on-stdin-eof"]
    if service in ("order", "payment"):
        flags += ["--db", str(tmp_path / f"{service}.sqlite3")]
    proc = subprocess.Popen([sys.executable, *module_args(service, *flags)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=child_env())
    try:
        assert proc.stdout is not None and proc.stderr is not None and proc.stdin is not None
        assert proc.stdout.readline().startswith(b"READY "), f"{service}: no READY line"
        proc.stderr.close()  # nobody reads its logs any more
        if how == "SIGTERM":
            proc.send_signal(signal.SIGTERM)
        else:
            proc.stdin.close()
        assert proc.wait(STOP_TIMEOUT_SECONDS) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()
