//! The notify port: where the anomalies an analysis finds are sent. A webhook locally
//! (`--notify-webhook`), an SNS topic on AWS. Optional: a deployment without one still
//! writes every anomaly to the warehouse.

use async_trait::async_trait;
use serde::Serialize;

use crate::analysis::Anomaly;

/// What one run of one analysis found that had not been sent before.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notice {
    pub analysis: String,
    pub run_id: String,
    pub anomalies: Vec<Anomaly>,
}

impl Notice {
    /// A subject line: the worst anomaly's sentence, and how many more there are.
    pub fn subject(&self) -> String {
        let first = self.anomalies.first().map_or("no anomaly", |a| a.sentence.as_str());
        match self.anomalies.len() {
            0 | 1 => format!("Tidemark {}: {first}", self.analysis),
            n => format!("Tidemark {}: {first} (and {} more)", self.analysis, n - 1),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("notify {target}: {message}")]
pub struct NotifyError {
    /// The webhook's host or the topic's ARN: never a secret part of the URL.
    pub target: String,
    pub message: String,
}

#[async_trait]
pub trait Notifier: Send + Sync {
    async fn notify(&self, notice: &Notice) -> Result<(), NotifyError>;
}
