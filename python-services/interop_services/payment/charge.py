"""Payment's rules, free of any server: what a valid request is, the limit, and the refusal both languages send
(the exact strings are in docs/order-payment.md)."""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc
from google.rpc import code_pb2, error_details_pb2, status_pb2

from interop_services import rpc
from interop_services.proto import payment_pb2

DOMAIN = "payment.interop"
REASON_TOTAL_ABOVE_LIMIT = "TOTAL_ABOVE_LIMIT"
DEFAULT_LIMIT_CENTS = 100_000


def validate(request: payment_pb2.CreatePaymentRequest) -> list[rpc.Violation]:
    """Field violations of `request`, in field order; empty when it is valid."""
    violations = []
    if request.user_id < 1:
        violations.append(rpc.Violation("user_id", "must be at least 1"))
    if not request.order_id:
        violations.append(rpc.Violation("order_id", "must not be empty"))
    if request.total_price_cents < 0:
        violations.append(rpc.Violation("total_price_cents", "must not be negative"))
    return violations


@dataclass(frozen=True)
class Refusal:
    """A refused payment: FAILED_PRECONDITION with a message and a google.rpc.ErrorInfo."""

    message: str
    reason: str
    domain: str
    metadata: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_status(cls, status: status_pb2.Status | None, message: str) -> Refusal:
        """The refusal a FAILED_PRECONDITION carries (an empty ErrorInfo if it has none)."""
        info = error_details_pb2.ErrorInfo()
        for detail in status.details if status is not None else []:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                detail.Unpack(info)
                break
        return cls(message, info.reason, info.domain, dict(info.metadata))

    def to_status(self) -> grpc.Status:
        info = error_details_pb2.ErrorInfo(reason=self.reason, domain=self.domain, metadata=self.metadata)
        return rpc.rich_status(code_pb2.FAILED_PRECONDITION, self.message, info)


def check_limit(total_cents: int, limit_cents: int) -> Refusal | None:
    """The refusal of a total above `limit_cents`, or None."""
    if total_cents <= limit_cents:
        return None
    return Refusal(
        message=f"payment refused: the total of {total_cents} cents is above the limit of {limit_cents} cents",
        reason=REASON_TOTAL_ABOVE_LIMIT,
        domain=DOMAIN,
        metadata={"limit_cents": str(limit_cents), "total_cents": str(total_cents)},
    )
