//! The notify port on AWS: an SNS topic (the template's `AnomalyTopic`). One message per
//! run that found something new: the subject is the worst anomaly's sentence, the body
//! the notice as JSON, so an email subscription reads well and a queue or Lambda
//! subscription can parse it.

use async_trait::async_trait;
use tidemark_core::ports::notify::{Notice, Notifier, NotifyError};

/// SNS subjects are at most 100 printable ASCII characters without line breaks.
const SUBJECT_MAX: usize = 100;

pub struct SnsNotifier {
    client: aws_sdk_sns::Client,
    topic_arn: String,
}

impl SnsNotifier {
    pub fn new(client: aws_sdk_sns::Client, topic_arn: String) -> Self {
        SnsNotifier { client, topic_arn }
    }
}

/// A subject SNS accepts: ASCII, no control characters, cut to its limit.
fn subject(text: &str) -> String {
    let ascii: String = text
        .chars()
        .map(|c| match c {
            '–' | '—' => '-',
            c if c.is_ascii() && !c.is_ascii_control() => c,
            _ => ' ',
        })
        .collect();
    match ascii.char_indices().nth(SUBJECT_MAX - 3) {
        Some((cut, _)) if ascii.len() > SUBJECT_MAX => format!("{}...", &ascii[..cut]),
        _ => ascii,
    }
}

#[async_trait]
impl Notifier for SnsNotifier {
    async fn notify(&self, notice: &Notice) -> Result<(), NotifyError> {
        let failed = |message: String| NotifyError { target: self.topic_arn.clone(), message };
        let body = serde_json::to_string_pretty(notice).map_err(|e| failed(e.to_string()))?;
        self.client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(subject(&notice.subject()))
            .message(body)
            .send()
            .await
            .map_err(|e| failed(aws_sdk_sns::error::DisplayErrorContext(e).to_string()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_are_ascii_and_short() {
        let long = "EU sales 14:00–15:00 UTC on 2026-12-01 is 63 % below its forecast (expected 4,100–5,300 EUR, got 1,720) and more";
        let said = subject(long);
        assert!(said.len() <= SUBJECT_MAX && said.is_ascii() && said.ends_with("..."), "{said}");
        assert!(said.starts_with("EU sales 14:00-15:00 UTC"), "{said}");
        assert_eq!(subject("line\nbreak"), "line break");
    }
}
