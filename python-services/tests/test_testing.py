"""The interop spec's flags on the Python TestService server and interop client: what they accept, and the one-line
errors when the spec's defaults have nothing to work with."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import child_env

from interop_services.testing import spec_bool


@pytest.mark.parametrize(("text", "value"), [("true", True), ("false", False), ("True", True), ("FALSE", False)])
def test_spec_bools(text: str, value: bool) -> None:
    assert spec_bool(text) is value


def test_spec_bool_refuses_anything_else() -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        spec_bool("yes")


def run(module: str, cwd: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", f"interop_services.testing.{module}", *flags], capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL, env=child_env(), cwd=cwd)


@pytest.mark.parametrize(("module", "flags", "needle"), [
    ("server", ("--port=0", "--use_tls"), "keys/interop-server.pem is missing"),
    ("server", ("--port=0", "--listen=127.0.0.1:0"), "--listen"),
    ("client", ("--server_port=1", "--use_tls", "--test_case=empty_unary"), "no trust roots"),
    ("client", ("--server_port=1", "--use_test_ca", "--test_case=empty_unary"), "keys/ca.pem: cannot read"),
])
def test_one_line_usage_errors(module: str, flags: tuple[str, ...], needle: str, tmp_path: Path) -> None:
    result = run(module, tmp_path, *flags)
    line = result.stderr.rstrip("\n")
    assert result.returncode == 2, result.stderr
    assert "\n" not in line, result.stderr
    assert line.startswith(f"interop-{module}: error: "), line
    assert needle in line, line
