"""The command-line contract's failure side: exit 2 (or 1 for a bind) with one line naming the flag and path."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Pki, child_env, module_args

SERVICES = ["discount", "catalog"]


def run(service: str, *flags: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *module_args(service, *map(str, flags))], capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL, env=child_env())


def assert_one_line_error(result: subprocess.CompletedProcess[str], service: str, code: int, *parts: str) -> str:
    line = result.stderr.rstrip("\n")
    assert result.returncode == code, f"{service}: exit {result.returncode}, want {code}; stderr:\n{result.stderr}"
    assert result.stdout == "", f"{service}: stdout must stay empty, got {result.stdout!r}"
    assert "\n" not in line, f"{service}: want one stderr line, got:\n{result.stderr}"
    assert line.startswith(f"{service}: error: "), line
    for part in parts:
        assert part in line, f"{service}: {part!r} missing from {line!r}"
    return line


@pytest.fixture
def garbage(tmp_path: Path) -> Path:
    path = tmp_path / "garbage.pem"
    path.write_text("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
    return path


@pytest.mark.parametrize("service", SERVICES)
def test_missing_cert_file(service: str, tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    line = assert_one_line_error(run(service, "--tls-cert", missing, "--tls-key", missing), service, 2,
                                 f"--tls-cert {missing}: cannot read")
    assert line.endswith("[Errno 2] No such file or directory"), line


@pytest.mark.parametrize("service", SERVICES)
def test_tls_cert_without_key(service: str, garbage: Path) -> None:
    assert_one_line_error(run(service, "--tls-cert", garbage), service, 2, f"--tls-cert {garbage}", "--tls-key")


@pytest.mark.parametrize("service", SERVICES)
def test_tls_key_without_cert(service: str, garbage: Path) -> None:
    assert_one_line_error(run(service, "--tls-key", garbage), service, 2, f"--tls-key {garbage}", "--tls-cert")


@pytest.mark.parametrize("service", SERVICES)
def test_client_ca_without_tls(service: str, garbage: Path) -> None:
    assert_one_line_error(run(service, "--client-ca", garbage), service, 2, f"--client-ca {garbage}", "--tls-cert")


@pytest.mark.parametrize("service", SERVICES)
def test_garbage_pem(service: str, garbage: Path) -> None:
    assert_one_line_error(run(service, "--tls-cert", garbage, "--tls-key", garbage), service, 2,
                          f"--tls-cert {garbage}: not a PEM certificate")


@pytest.mark.parametrize("service", SERVICES)
def test_garbage_ca(service: str, garbage: Path) -> None:
    assert_one_line_error(run(service, "--ca", garbage), service, 2, f"--ca {garbage}: not a PEM certificate")


@pytest.mark.parametrize("service", SERVICES)
def test_client_cert_without_ca(service: str, garbage: Path) -> None:
    assert_one_line_error(run(service, "--cert", garbage, "--key", garbage), service, 2, f"--cert {garbage}", "--ca")


@pytest.mark.parametrize("service", SERVICES)
def test_key_not_matching_cert(service: str, pki: Pki) -> None:
    assert_one_line_error(run(service, "--tls-cert", pki.server_cert, "--tls-key", pki.other_key), service, 2,
                          f"--tls-key {pki.other_key}: not a PEM private key matching --tls-cert")


@pytest.mark.parametrize("service", SERVICES)
def test_client_key_not_matching_cert(service: str, pki: Pki) -> None:
    assert_one_line_error(run(service, "--ca", pki.ca, "--cert", pki.client_cert, "--key", pki.other_key),
                          service, 2, f"--key {pki.other_key}: not a PEM private key matching --cert")


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("listen", ["127.0.0.1", "127.0.0.1:http", "127.0.0.1:65536", "::1:80", ":80", "[::1]80"])
def test_bad_listen(service: str, listen: str) -> None:
    assert_one_line_error(run(service, "--listen", listen), service, 2, f"--listen {listen}: ")


@pytest.mark.parametrize("addr", ["localhost", "localhost:0", "localhost:x"])
def test_bad_discount_addr(addr: str) -> None:
    assert_one_line_error(run("catalog", "--discount-addr", addr), "catalog", 2, f"--discount-addr {addr}: ")


@pytest.mark.parametrize("service", SERVICES)
def test_unknown_flag_is_a_one_line_usage_error(service: str) -> None:
    assert_one_line_error(run(service, "--tls", "x"), service, 2, "unrecognized arguments: --tls x")


def test_bad_timeout_is_argparse_usage_error() -> None:
    result = run("catalog", "--discount-timeout-ms", "0")
    assert result.returncode == 2 and "--discount-timeout-ms" in result.stderr


@pytest.mark.parametrize("service", SERVICES)
def test_port_in_use_is_exit_1(service: str) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        assert_one_line_error(run(service, "--listen", f"127.0.0.1:{port}"), service, 1,
                              f"--listen 127.0.0.1:{port}: cannot bind", "Address already in use")


def test_allow_client_needs_client_ca() -> None:
    assert_one_line_error(run("discount", "--allow-client", "catalog"), "discount", 2,
                          "--allow-client catalog: client identities need --client-ca")


def test_missing_token_file(tmp_path: Path) -> None:
    missing = tmp_path / "token"
    assert_one_line_error(run("discount", "--token-file", missing), "discount", 2,
                          f"--token-file {missing}: cannot read: [Errno 2] No such file or directory")


def test_empty_token_file(tmp_path: Path) -> None:
    empty = tmp_path / "token"
    empty.write_text("\n")
    assert_one_line_error(run("discount", "--token-file", empty), "discount", 2,
                          f"--token-file {empty}: holds no token")


@pytest.mark.parametrize(("client", "prog", "method"), [("discount.client", "discount-client", []),
                                                        ("order.client", "order-client", ["--method", "Get"])])
def test_one_shot_client_request_errors(client: str, prog: str, method: list[str], tmp_path: Path) -> None:
    """A request the client cannot read or decode is a usage error naming the flag, before any call is made."""
    addr = ["--addr", "127.0.0.1:9", *method]
    assert_one_line_error(run(client, *addr, "--request-b64", "!!"), prog, 2, "--request-b64 !!", "not base64")
    not_proto = tmp_path / "request.bin"
    not_proto.write_bytes(b"\xff\xff\xff")
    assert_one_line_error(run(client, *addr, "--request-file", not_proto), prog, 2,
                          f"--request-file {not_proto}", "not a serialized")
    missing = tmp_path / "missing.bin"
    assert_one_line_error(run(client, *addr, "--request-file", missing), prog, 2, f"--request-file {missing}",
                          "cannot read")
