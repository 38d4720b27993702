"""`python -m interop_services.call` as the harness drives it: JSON calls on stdin, one outcome line each, against
the Python services as real processes (plaintext, TLS and mutual TLS with the conftest certificates)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest
import samples
from conftest import Pki, Service, _ec_key, _openssl, child_env, module_args, start

LOCAL = "127.0.0.1:0"
SNAPSHOTS = Path(__file__).resolve().parents[2] / "tests" / "snapshots"
APPLY = "ecommerce.Discount/ApplyDiscount"
CUSTOMER_1 = {"customer": {"id": 1}, "product": {"id": 1, "priceInCents": 99999}}
DISCOUNTED = {"product": {"id": 1, "priceInCents": 99999, "discountValue": {"pct": 0.1, "valueInCents": 89999}}}


def run_calls(*lines: str | dict[str, object]) -> subprocess.CompletedProcess[str]:
    text = "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
    return subprocess.run([sys.executable, "-m", "interop_services.call"], input=text, capture_output=True, text=True,
                          timeout=120, env=child_env())


def outcomes(*calls: dict[str, object]) -> list[dict[str, object]]:
    result = run_calls(*calls)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def grpc_call(call_id: str, addr: str, method: str, request: dict[str, object], **more: object) -> dict[str, object]:
    return {"id": call_id, "addr": addr, "timeout_ms": 10000, "grpc": {"method": method, "request": request}, **more}


@pytest.fixture(scope="module")
def discount() -> Iterator[Service]:
    service = start("discount", module_args("discount", "--listen", LOCAL))
    yield service
    service.close()


@pytest.fixture(scope="module")
def tls_discount(pki: Pki) -> Iterator[Service]:
    service = start("discount", module_args("discount", "--listen", LOCAL, "--tls-cert", str(pki.server_cert),
                                            "--tls-key", str(pki.server_key)))
    yield service
    service.close()


@pytest.fixture(scope="module")
def mtls_discount(pki: Pki) -> Iterator[Service]:
    service = start("discount", module_args("discount", "--listen", LOCAL, "--tls-cert", str(pki.server_cert),
                                            "--tls-key", str(pki.server_key), "--client-ca", str(pki.ca)))
    yield service
    service.close()


@pytest.fixture(scope="module")
def catalog(discount: Service) -> Iterator[Service]:
    service = start("catalog", module_args("catalog", "--listen", LOCAL, "--discount-addr", discount.address))
    yield service
    service.close()


@pytest.fixture
def wrong_ca(tmp_path: Path) -> Path:
    key = _ec_key(tmp_path / "wrong-ca.key")
    ca = tmp_path / "wrong-ca.pem"
    _openssl("req", "-x509", "-new", "-key", key, "-subj", "/CN=another CA", "-days", "2", "-out", ca)
    return ca


def test_customer_1_plaintext(discount: Service) -> None:
    [outcome] = outcomes(grpc_call("7", discount.address, APPLY, CUSTOMER_1))
    assert outcome == {"id": "7", "code": "OK", "message": "", "response": DISCOUNTED, "details": []}


def test_customer_1_over_tls_and_mtls(tls_discount: Service, mtls_discount: Service, pki: Pki) -> None:
    server_tls = {"ca": str(pki.ca)}
    mutual = {"ca": str(pki.ca), "cert": str(pki.client_cert), "key": str(pki.client_key)}
    answers = outcomes(
        grpc_call("tls", tls_discount.address, APPLY, CUSTOMER_1, server_name="localhost", tls=server_tls),
        grpc_call("mtls", mtls_discount.address, APPLY, CUSTOMER_1, server_name="localhost", tls=mutual),
    )
    assert [(a["id"], a["code"], a["response"]) for a in answers] == [("tls", "OK", DISCOUNTED),
                                                                      ("mtls", "OK", DISCOUNTED)], answers


def test_wrong_ca_is_unavailable_with_the_reason(tls_discount: Service, wrong_ca: Path, pki: Pki) -> None:
    [refused, fresh, good] = outcomes(
        grpc_call("1", tls_discount.address, APPLY, CUSTOMER_1, server_name="localhost", tls={"ca": str(wrong_ca)}),
        grpc_call("2", tls_discount.address, APPLY, CUSTOMER_1, server_name="localhost", tls={"ca": str(wrong_ca)},
                  fresh=True),
        grpc_call("3", tls_discount.address, APPLY, CUSTOMER_1, server_name="localhost", tls={"ca": str(pki.ca)}),
    )
    for outcome in (refused, fresh):
        assert outcome["code"] == "UNAVAILABLE" and outcome["response"] is None, outcome
        assert "CERTIFICATE_VERIFY_FAILED" in str(outcome["error"]), outcome
    assert good["code"] == "OK", good


def test_order_validation_error_carries_bad_request(tmp_path: Path, services: list[Service]) -> None:
    discount = start("discount", module_args("discount", "--listen", LOCAL, "--delay-ms", "0"))
    services.append(discount)
    payment = start("payment", module_args("payment", "--listen", LOCAL, "--db", str(tmp_path / "payment.sqlite3")))
    services.append(payment)
    order = start("order", module_args("order", "--listen", LOCAL, "--db", str(tmp_path / "order.sqlite3"),
                                       "--discount-addr", discount.address, "--payment-addr", payment.address))
    services.append(order)
    request = {"userId": 0, "items": [{"productCode": "ipad", "quantity": 1}]}
    [outcome] = outcomes(grpc_call("9", order.address, "order.Order/Create", request))
    assert (outcome["code"], outcome["message"], outcome["response"]) == ("INVALID_ARGUMENT", "invalid request", None)
    assert outcome["details"] == [{
        "@type": "type.googleapis.com/google.rpc.BadRequest",
        "fieldViolations": [{"field": "user_id", "description": "must be from 1 to 2147483647"},
                            {"field": "items[0].product_code", "description": 'unknown product code "ipad"'}],
    }], outcome
    assert "INVALID_ARGUMENT" in str(outcome["error"])


def test_http_products_for_user_1(catalog: Service) -> None:
    snapshot = (SNAPSHOTS / "catalog__user_1.snap").read_text()
    body = snapshot.split("\n\n", 1)[1]
    assert body == samples.USER_1
    [outcome] = outcomes({"id": "8", "addr": catalog.address, "server_name": "catalog", "timeout_ms": 10000,
                          "http": {"method": "GET", "path": "/products", "headers": [["X-USER-ID", "1"]],
                                   "body": ""}})
    assert outcome["id"] == "8"
    answer = outcome["http"]
    assert isinstance(answer, dict)
    assert (answer["status"], answer["headers"]["content-type"], answer["body"]) == (200, "application/json", body)


def test_http_transport_failure_is_unavailable(catalog: Service, pki: Pki) -> None:
    # TLS to a plaintext server: no response, and the error says why.
    [outcome] = outcomes({"id": "x", "addr": catalog.address, "server_name": "localhost", "tls": {"ca": str(pki.ca)},
                          "http": {"method": "GET", "path": "/healthz", "headers": [], "body": ""}})
    assert outcome["code"] == "UNAVAILABLE" and outcome["http"] is None, outcome
    assert "WRONG_VERSION_NUMBER" in str(outcome["error"]), outcome


def test_many_calls_answer_in_order(discount: Service) -> None:
    calls = [grpc_call(str(n), discount.address, APPLY,
                       {"customer": {"id": 1 + n % 2}, "product": {"id": n, "priceInCents": 1000}})
             for n in range(20)]
    calls.insert(5, {"id": "bad", "addr": discount.address, "grpc": {"method": "ecommerce.Discount/Nope"}})
    answers = outcomes(*calls)
    assert [a["id"] for a in answers] == [c["id"] for c in calls]
    assert answers[5]["code"] == "CLIENT_ERROR" and "has no method Nope" in str(answers[5]["message"])
    for answer in answers[:5] + answers[6:]:
        assert answer["code"] == "OK", answer
        product = answer["response"]["product"]  # type: ignore[index]
        assert product.get("id", 0) == int(str(answer["id"]))  # proto3 JSON omits a zero id


@pytest.mark.parametrize("line", ["{not json", "[1, 2]"], ids=["not_json", "not_an_object"])
def test_unparseable_line_exits_2(discount: Service, line: str) -> None:
    result = run_calls(grpc_call("1", discount.address, APPLY, CUSTOMER_1), line)
    assert result.returncode == 2, result
    assert json.loads(result.stdout)["code"] == "OK"  # the line before it was answered
    [error] = [l for l in result.stderr.splitlines() if l.startswith("interop_services.call: error: ")]
    assert error.startswith("interop_services.call: error: line 2: "), result.stderr


def test_calls_that_cannot_be_made_are_client_errors(discount: Service, tmp_path: Path) -> None:
    answers = outcomes(
        {"id": "a", "addr": "nowhere", "grpc": {"method": APPLY}},
        {"id": "b", "addr": discount.address, "grpc": {"method": APPLY, "request": {"nope": 1}}},
        {"id": "c", "addr": discount.address, "tls": {"ca": str(tmp_path / "missing.pem")}, "grpc": {"method": APPLY}},
        {"id": "d", "addr": discount.address},
    )
    assert [a["code"] for a in answers] == ["CLIENT_ERROR"] * 4, answers
    assert "tls.ca" in str(answers[2]["message"]) and "cannot read" in str(answers[2]["message"])


def test_server_streaming_answers_every_response(services: list[Service]) -> None:
    server = start("interop-server", module_args("testing.server", "--port", "0"))
    services.append(server)
    request = {"responseParameters": [{"size": 1}, {"size": 2}]}
    [outcome] = outcomes(grpc_call("s", f"127.0.0.1:{server.port}", "grpc.testing.TestService/StreamingOutputCall",
                                   request))
    assert outcome == {"id": "s", "code": "OK", "message": "", "response": None,
                       "responses": [{"payload": {"body": "AA=="}}, {"payload": {"body": "AAA="}}], "details": []}
