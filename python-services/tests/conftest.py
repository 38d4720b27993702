"""Starting services as real child processes, the way the harness does: spawn, wait for READY, stop on teardown."""

from __future__ import annotations

import os
import re
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Iterator

import pytest

SERVICES_DIR = Path(__file__).resolve().parent.parent
TUTORIAL_SERVER = SERVICES_DIR.parent / "implementations" / "tutorial-grpcio" / "tutorial_server.py"
READY_TIMEOUT_SECONDS = 20.0
STOP_TIMEOUT_SECONDS = 15.0
READY_LINE = re.compile(r"READY (?P<address>\S+:(?P<port>[0-9]+))\n")


def child_env() -> dict[str, str]:
    """The test's environment minus what would steer a service away from the flags a test passes."""
    env = dict(os.environ)
    env.pop("DISCOUNT_SERVICE_HOST", None)
    return env


@dataclass
class Service:
    """A running service process; `address` is the `host:port` of its READY line."""

    name: str
    proc: subprocess.Popen[bytes]
    stderr: IO[bytes]
    address: str = ""
    stdout_after_ready: bytes = field(default=b"")

    @property
    def port(self) -> int:
        return int(self.address.rsplit(":", 1)[1])

    def log(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def wait_exit(self, timeout: float = STOP_TIMEOUT_SECONDS) -> int:
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{self.name}: did not exit within {timeout}s; last log lines:\n{self.log_tail()}")
        assert self.proc.stdout is not None
        self.stdout_after_ready += self.proc.stdout.read()
        return code

    def stop(self, signum: int = signal.SIGTERM) -> int:
        """Signal the process and return its exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        return self.wait_exit()

    def close(self) -> None:
        """Teardown: never leave a child behind, whatever the test did."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout, self.stderr):
            if stream is not None:
                stream.close()


def spawn(name: str, args: list[str]) -> Service:
    """Start `python <args>` with piped stdin/stdout and stderr kept in a file (a pipe nobody reads could fill)."""
    stderr = tempfile.TemporaryFile()
    proc = subprocess.Popen([sys.executable, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
                            env=child_env())
    return Service(name, proc, stderr)


def wait_ready(service: Service, timeout: float = READY_TIMEOUT_SECONDS) -> Service:
    """Read stdout until the READY line, failing with the service's log if it exits or takes too long."""
    assert service.proc.stdout is not None
    fd = service.proc.stdout.fileno()
    buffer = b""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while b"\n" not in buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                service.close()
                pytest.fail(f"{service.name}: no READY line within {timeout}s; log:\n{service.log_tail()}")
            if not selector.select(remaining):
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                code = service.proc.wait()
                pytest.fail(f"{service.name}: exited with {code} before READY; log:\n{service.log_tail()}")
            buffer += chunk
    line, _, rest = buffer.partition(b"\n")
    match = READY_LINE.fullmatch(line.decode() + "\n")
    assert match, f"{service.name}: first stdout line is {line!r}, want 'READY host:port'"
    service.address = match["address"]
    service.stdout_after_ready = rest
    return service


def start(name: str, args: list[str]) -> Service:
    return wait_ready(spawn(name, args))


def module_args(service: str, *flags: str) -> list[str]:
    return ["-m", f"interop_services.{service}", *flags]


@pytest.fixture
def services() -> Iterator[list[Service]]:
    """Collects services a test starts itself, and stops them all at teardown."""
    started: list[Service] = []
    yield started
    for service in started:
        service.close()


@dataclass(frozen=True)
class Pki:
    """A throwaway CA with server and client leaves, all ECDSA P-256 (what grpcio handles), as PEM paths."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_key: Path  # a valid key that matches no certificate
    payment_cert: Path  # a client from the same CA whose identity, payment, Discount does not let in by default
    payment_key: Path


def _openssl(*args: str | Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)


def _ec_key(path: Path) -> Path:
    _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", path)
    return path


def _leaf(directory: Path, name: str, ca: Path, ca_key: Path, extensions: str) -> tuple[Path, Path]:
    key = _ec_key(directory / f"{name}.key")
    csr = directory / f"{name}.csr"
    ext = directory / f"{name}.ext"
    cert = directory / f"{name}.pem"
    ext.write_text(extensions)
    _openssl("req", "-new", "-key", key, "-subj", f"/CN={name}", "-out", csr)
    _openssl("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-days", "2",
             "-out", cert, "-extfile", ext)
    return cert, key


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """Real certificates made with the openssl command line, so TLS needs no extra Python dependency."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed; TLS is covered by the Rust harness")
    directory = tmp_path_factory.mktemp("pki")
    ca_key = _ec_key(directory / "ca.key")
    ca = directory / "ca.pem"
    _openssl("req", "-x509", "-new", "-key", ca_key, "-subj", "/CN=interop test CA", "-days", "2", "-out", ca,
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    leaf = "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
    server_cert, server_key = _leaf(directory, "localhost", ca, ca_key,
                                    leaf + "extendedKeyUsage=serverAuth\n"
                                           "subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    # The client carries the identity catalog: the name Discount lets in by default.
    client_cert, client_key = _leaf(directory, "catalog-client", ca, ca_key,
                                    leaf + "extendedKeyUsage=clientAuth\nsubjectAltName=DNS:catalog\n")
    payment_cert, payment_key = _leaf(directory, "payment-client", ca, ca_key,
                                      leaf + "extendedKeyUsage=clientAuth\nsubjectAltName=DNS:payment\n")
    return Pki(ca, server_cert, server_key, client_cert, client_key, _ec_key(directory / "other.key"), payment_cert,
               payment_key)
