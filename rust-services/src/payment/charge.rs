//! Payment's rules, free of any server: what a valid request is, the limit, and the refusal both languages send
//! (the exact strings are in docs/order-payment.md).

use std::collections::BTreeMap;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::proto::payment::CreatePaymentRequest;
use crate::rpc::Violation;

/// The google.rpc.ErrorInfo domain of Payment's errors.
pub const DOMAIN: &str = "payment.interop";

/// The ErrorInfo reason of a total above the limit.
pub const REASON_TOTAL_ABOVE_LIMIT: &str = "TOTAL_ABOVE_LIMIT";

/// The default `--limit-cents`.
pub const DEFAULT_LIMIT_CENTS: i64 = 100_000;

/// Field violations of `request`, in field order; empty when it is valid.
pub fn validate(request: &CreatePaymentRequest) -> Vec<Violation> {
    let mut violations = Vec::new();
    if request.user_id < 1 {
        violations.push(Violation::new("user_id", "must be at least 1"));
    }
    if request.order_id.is_empty() {
        violations.push(Violation::new("order_id", "must not be empty"));
    }
    if request.total_price_cents < 0 {
        violations.push(Violation::new("total_price_cents", "must not be negative"));
    }
    violations
}

/// A refused payment: FAILED_PRECONDITION with a message and a google.rpc.ErrorInfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The status message.
    pub message: String,
    /// ErrorInfo.reason.
    pub reason: String,
    /// ErrorInfo.domain.
    pub domain: String,
    /// ErrorInfo.metadata.
    pub metadata: BTreeMap<String, String>,
}

impl Refusal {
    /// The refusal a FAILED_PRECONDITION status carries (an empty ErrorInfo if it has none).
    pub fn from_status(status: &Status) -> Self {
        let details = status.get_error_details();
        let info = details.error_info();
        Refusal {
            message: status.message().to_string(),
            reason: info.map(|i| i.reason.clone()).unwrap_or_default(),
            domain: info.map(|i| i.domain.clone()).unwrap_or_default(),
            metadata: info
                .map(|i| i.metadata.clone().into_iter().collect())
                .unwrap_or_default(),
        }
    }

    /// As a status.
    pub fn to_status(&self) -> Status {
        Status::with_error_details(
            Code::FailedPrecondition,
            self.message.clone(),
            ErrorDetails::with_error_info(
                self.reason.clone(),
                self.domain.clone(),
                self.metadata
                    .clone()
                    .into_iter()
                    .collect::<std::collections::HashMap<_, _>>(),
            ),
        )
    }
}

/// Refuses a total above `limit_cents`.
pub fn check_limit(total_cents: i64, limit_cents: i64) -> Result<(), Refusal> {
    if total_cents <= limit_cents {
        return Ok(());
    }
    Err(Refusal {
        message: format!(
            "payment refused: the total of {total_cents} cents is above the limit of {limit_cents} cents"
        ),
        reason: REASON_TOTAL_ABOVE_LIMIT.into(),
        domain: DOMAIN.into(),
        metadata: BTreeMap::from([
            ("limit_cents".to_string(), limit_cents.to_string()),
            ("total_cents".to_string(), total_cents.to_string()),
        ]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(user_id: i64, order_id: &str, total_price_cents: i64) -> CreatePaymentRequest {
        CreatePaymentRequest {
            user_id,
            order_id: order_id.into(),
            total_price_cents,
        }
    }

    #[test]
    fn valid_requests() {
        assert!(validate(&request(1, "ord-1", 0)).is_empty());
        assert!(validate(&request(i64::MAX, "x", i64::MAX)).is_empty());
    }

    #[test]
    fn every_violation_in_field_order() {
        assert_eq!(
            validate(&request(0, "", -1)),
            vec![
                Violation::new("user_id", "must be at least 1"),
                Violation::new("order_id", "must not be empty"),
                Violation::new("total_price_cents", "must not be negative"),
            ]
        );
    }

    #[test]
    fn the_limit_is_inclusive() {
        assert_eq!(check_limit(100_000, DEFAULT_LIMIT_CENTS), Ok(()));
        let refusal = check_limit(100_001, DEFAULT_LIMIT_CENTS).unwrap_err();
        assert_eq!(
            refusal.message,
            "payment refused: the total of 100001 cents is above the limit of 100000 cents"
        );
        assert_eq!(refusal.reason, "TOTAL_ABOVE_LIMIT");
        assert_eq!(refusal.domain, "payment.interop");
        assert_eq!(refusal.metadata["limit_cents"], "100000");
        assert_eq!(refusal.metadata["total_cents"], "100001");
    }

    #[test]
    fn a_refusal_survives_the_status_round_trip() {
        let refusal = check_limit(150_000, 100_000).unwrap_err();
        let status = refusal.to_status();
        assert_eq!(status.code(), Code::FailedPrecondition);
        assert_eq!(Refusal::from_status(&status), refusal);
    }
}
