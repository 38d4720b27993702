"""Who may call a service: the allowed client identities and the bearer token, checked without a server."""

from __future__ import annotations

import argparse
from pathlib import Path

import grpc
import pytest

from interop_services import auth
from interop_services.cli import ConfigError

SERVICE = "ecommerce.Discount"


def args(*flags: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    auth.add_auth_flags(parser)
    return parser.parse_args(list(flags))


def test_the_default_allows_the_callers_of_discount() -> None:
    guard = auth.Guard.from_args(args(), mutual=True, service=SERVICE)
    assert guard.allowed == ("catalog", "order")
    assert auth.Guard.from_args(args(), mutual=False, service=SERVICE).allowed is None


def test_allow_client_replaces_the_default() -> None:
    guard = auth.Guard.from_args(args("--allow-client", "client", "--allow-client", "order"), mutual=True,
                                 service=SERVICE)
    assert guard.allowed == ("client", "order")


def test_allow_client_needs_client_certificates() -> None:
    with pytest.raises(ConfigError, match="--client-ca"):
        auth.Guard.from_args(args("--allow-client", "client"), mutual=False, service=SERVICE)


def test_identities() -> None:
    guard = auth.Guard(SERVICE, allowed=("catalog", "order"), token=None)
    assert guard.refusal((), ["catalog", "localhost"]) is None
    assert guard.refusal((), ["localhost", "order"]) is None
    assert guard.refusal((), ["payment", "localhost"]) == (
        grpc.StatusCode.PERMISSION_DENIED, 'client identity "payment" is not allowed to call ecommerce.Discount')
    assert guard.refusal((), []) == (
        grpc.StatusCode.PERMISSION_DENIED, 'client identity "" is not allowed to call ecommerce.Discount')


@pytest.mark.parametrize("authorization", [None, "Bearer s3cre", "Bearer s3cret ", "Basic s3cret", "s3cret"])
def test_a_missing_or_wrong_token_is_unauthenticated(authorization: str | None) -> None:
    guard = auth.Guard(SERVICE, allowed=None, token="s3cret")
    metadata = [] if authorization is None else [("authorization", authorization)]
    assert guard.refusal(metadata, []) == (grpc.StatusCode.UNAUTHENTICATED, "missing or invalid bearer token")


def test_the_right_token_passes_and_the_scheme_ignores_case() -> None:
    guard = auth.Guard(SERVICE, allowed=None, token="s3cret")
    assert guard.refusal([("authorization", "Bearer s3cret")], []) is None
    assert guard.refusal([("authorization", "bearer s3cret")], []) is None


def test_the_token_is_checked_before_the_identity() -> None:
    guard = auth.Guard(SERVICE, allowed=("catalog",), token="s3cret")
    refusal = guard.refusal([], ["payment"])
    assert refusal is not None and refusal[0] == grpc.StatusCode.UNAUTHENTICATED


def test_token_files(tmp_path: Path) -> None:
    good = tmp_path / "good"
    good.write_text("  s3cret\n")
    assert auth.read_token("--token-file", str(good)) == "s3cret"
    for content, why in [("", "holds no token"), ("two words", "printable ASCII"), ("naïve", "printable ASCII")]:
        bad = tmp_path / "bad"
        bad.write_text(content)
        with pytest.raises(ConfigError, match=why):
            auth.read_token("--token-file", str(bad))
    with pytest.raises(ConfigError, match="cannot read"):
        auth.read_token("--token-file", str(tmp_path / "missing"))
