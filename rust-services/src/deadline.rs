//! The caller's deadline, read from the incoming `grpc-timeout` header and passed on to every upstream call, so a
//! chain of services gives up together instead of working for a caller that has already gone.

use std::time::Duration;

use tokio::time::Instant;
use tonic::metadata::MetadataMap;

/// The `grpc-timeout` header: at most 8 digits and a unit (gRPC over HTTP/2, "Timeout").
const HEADER: &str = "grpc-timeout";

/// The time the caller allows, if it said; a malformed header counts as none, as tonic's own server treats it.
pub fn incoming_timeout(metadata: &MetadataMap) -> Option<Duration> {
    let value = metadata.get(HEADER)?.to_str().ok()?;
    let unit_at = value.len().checked_sub(1)?;
    let (digits, unit) = value.split_at(unit_at);
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let amount: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount * 3600),
        "M" => Duration::from_secs(amount * 60),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

/// The time kept back from a caller's timeout to answer in: a tenth of it, at most 200 ms. Without it, the service's
/// own answer races the transport's timers, and tonic's (client and server) report a lapse as CANCELLED where gRPC
/// says DEADLINE_EXCEEDED.
pub fn answer_margin(timeout: Duration) -> Duration {
    (timeout / 10).min(Duration::from_millis(200))
}

/// When the work for this request must be done: the caller's deadline (or `default` from now when it set none),
/// less the [`answer_margin`].
pub fn of<T>(request: &tonic::Request<T>, default: Duration) -> Instant {
    let timeout = incoming_timeout(request.metadata()).unwrap_or(default);
    Instant::now() + timeout - answer_margin(timeout)
}

/// Runs an upstream call under `deadline`. A failure at or past the deadline is DEADLINE_EXCEEDED, whichever timer
/// saw it first (tonic's own says CANCELLED, a tonic server's too).
pub async fn bounded<T>(
    deadline: Instant,
    call: impl std::future::Future<Output = Result<T, tonic::Status>>,
) -> Result<T, tonic::Status> {
    match tokio::time::timeout_at(deadline, call).await {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(status)) if Instant::now() < deadline => Err(status),
        _ => Err(tonic::Status::deadline_exceeded("deadline exceeded")),
    }
}

/// An upstream request that carries what is left of `deadline` (tonic sends it as `grpc-timeout`).
pub fn request<T>(message: T, deadline: Instant) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.set_timeout(deadline.saturating_duration_since(Instant::now()));
    request
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timeout(value: &str) -> Option<Duration> {
        let mut metadata = MetadataMap::new();
        metadata.insert(HEADER, value.parse().unwrap());
        incoming_timeout(&metadata)
    }

    #[test]
    fn units() {
        assert_eq!(timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(timeout("2M"), Some(Duration::from_secs(120)));
        assert_eq!(timeout("3S"), Some(Duration::from_secs(3)));
        assert_eq!(timeout("250m"), Some(Duration::from_millis(250)));
        assert_eq!(
            timeout("99999999u"),
            Some(Duration::from_micros(99_999_999))
        );
        assert_eq!(timeout("7n"), Some(Duration::from_nanos(7)));
    }

    #[test]
    fn the_margin_is_a_tenth_up_to_200_ms() {
        assert_eq!(
            answer_margin(Duration::from_millis(100)),
            Duration::from_millis(10)
        );
        assert_eq!(
            answer_margin(Duration::from_secs(1)),
            Duration::from_millis(100)
        );
        assert_eq!(
            answer_margin(Duration::from_secs(30)),
            Duration::from_millis(200)
        );
    }

    #[test]
    fn malformed_is_none() {
        for bad in ["", "m", "123456789m", "12x", "1.5S", "-1S", " 1S"] {
            assert_eq!(timeout(bad), None, "{bad:?}");
        }
        assert_eq!(incoming_timeout(&MetadataMap::new()), None);
    }
}
