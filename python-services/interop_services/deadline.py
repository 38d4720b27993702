"""The caller's deadline, passed on to every upstream call, so a chain of services gives up together instead of
working for a caller that has already gone. grpcio reads the incoming `grpc-timeout` itself; a call made with
`timeout=` sends what is left."""

from __future__ import annotations

import asyncio

import grpc


MAX_MARGIN_SECONDS = 0.2


def answer_margin(timeout: float) -> float:
    """The time kept back from a caller's timeout to answer in: a tenth of it, at most 200 ms. Without it, the
    service's own answer races the transport's timers (the Rust twin's tonic reports a lapse as CANCELLED)."""
    return min(timeout / 10, MAX_MARGIN_SECONDS)


def of(context: grpc.aio.ServicerContext, default_seconds: float) -> float:
    """When the work for this call must be done, on the event loop's clock: the caller's deadline (or
    `default_seconds` from now when it set none), less the answer margin."""
    remaining = context.time_remaining()
    timeout = default_seconds if remaining is None else max(0.0, remaining)
    return asyncio.get_running_loop().time() + timeout - answer_margin(timeout)


def passed(deadline: float) -> bool:
    return asyncio.get_running_loop().time() >= deadline


def left(deadline: float) -> float:
    """Seconds left until `deadline` (never negative): the `timeout=` of an upstream call."""
    return max(0.0, deadline - asyncio.get_running_loop().time())
