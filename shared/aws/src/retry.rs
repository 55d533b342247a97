//! Retries for the AWS adapters: which errors are worth another attempt, and the pause
//! before it (exponential, full jitter, from `backon`).
//!
//! The SDK already retries whole calls that fail with throttling or 5xx. What it cannot
//! retry is a call that *succeeded* with some entries failed (Kinesis `PutRecords`
//! `FailedRecordCount`, DynamoDB `UnprocessedItems`): the adapters resend only those
//! entries, pausing on this schedule, so that a hot shard is not hammered.

use std::time::Duration;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use backon::{BackoffBuilder, ExponentialBuilder};

/// How hard an adapter tries before it reports the remaining entries as failed.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts after the first.
    pub retries: usize,
    pub min_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { retries: 6, min_delay: Duration::from_millis(50), max_delay: Duration::from_secs(2) }
    }
}

impl RetryPolicy {
    /// The pauses between attempts: `retries` of them, growing, jittered.
    pub fn delays(&self) -> impl Iterator<Item = Duration> {
        ExponentialBuilder::new()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(self.retries)
            .with_jitter()
            .build()
    }

    /// For tests: no pause at all.
    pub fn immediate(retries: usize) -> Self {
        Self { retries, min_delay: Duration::ZERO, max_delay: Duration::ZERO }
    }
}

/// Error codes that mean "not now": the same request may succeed later.
const RETRYABLE_CODES: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
    "LimitExceededException",
    "KMSThrottlingException",
    "SlowDown",
    "InternalFailure",
    "InternalServerError",
    "InternalError",
    "ServiceUnavailable",
    "TransactionConflictException",
];

pub fn is_retryable_code(code: Option<&str>) -> bool {
    code.is_some_and(|c| RETRYABLE_CODES.contains(&c))
}

/// Network trouble, timeouts, 5xx and throttling are retryable; a modeled client
/// error (missing resource, validation, access denied) is not.
pub fn is_retryable<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> bool {
    match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => true,
        SdkError::ServiceError(service) => {
            is_retryable_code(service.err().code()) || service.raw().status().is_server_error()
        }
        _ => false,
    }
}

/// An SDK error as one line: the service's code and message where there are some.
pub fn describe<E: ProvideErrorMetadata + std::error::Error + 'static>(err: &SdkError<E, HttpResponse>) -> String {
    match err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            match (e.code(), e.message()) {
                (Some(code), Some(message)) => format!("{code}: {message}"),
                (Some(code), None) => code.to_string(),
                // Not a modeled error: say what came back.
                _ => {
                    let raw = service.raw();
                    let body = raw.body().bytes().map(String::from_utf8_lossy).unwrap_or_default();
                    format!("{e}: HTTP {}: {}", raw.status().as_u16(), body.chars().take(300).collect::<String>())
                }
            }
        }
        other => tidemark_core::causes::with_causes(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_are_bounded_and_counted() {
        let policy =
            RetryPolicy { retries: 5, min_delay: Duration::from_millis(10), max_delay: Duration::from_millis(40) };
        let delays: Vec<Duration> = policy.delays().collect();
        assert_eq!(delays.len(), 5);
        assert!(delays.iter().all(|d| *d <= Duration::from_millis(80)), "{delays:?}");
        assert!(is_retryable_code(Some("ProvisionedThroughputExceededException")));
        assert!(!is_retryable_code(Some("ResourceNotFoundException")));
        assert!(!is_retryable_code(None));
    }
}
