//! The stream and its consumers as CloudWatch sees them, for the console on AWS: how far
//! behind each consumer function reads (Lambda's `IteratorAge`), its errors, the stream's
//! incoming records, and how many messages wait in each dead-letter queue
//! (`ApproximateNumberOfMessagesVisible`). The same figures the template's alarms watch,
//! read in one `GetMetricData` call over the last [`WINDOW_MINUTES`] minutes; the latest
//! minute that has a value is shown, and a metric without one says so (`null`), rather
//! than a zero that would look healthy.

use std::collections::BTreeMap;

use aws_sdk_cloudwatch::primitives::DateTime as AwsTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat, ScanBy};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::retry::describe;

/// How far back a value is looked for.
pub const WINDOW_MINUTES: i64 = 15;

/// The stream consumers, each a Lambda function.
pub const CONSUMERS: [&str; 2] = ["stream-index", "stream-store"];
/// The dead-letter queues the template makes.
pub const QUEUES: [&str; 3] = ["stream-index", "stream-store", "jobs"];

#[derive(Debug, thiserror::Error)]
#[error("CloudWatch: {0}")]
pub struct MetricsError(String);

/// What to read: names as the template gives them.
#[derive(Debug, Clone)]
pub struct StreamHealth {
    client: aws_sdk_cloudwatch::Client,
    stream: String,
    /// Consumer and its function's name.
    functions: Vec<(&'static str, String)>,
    /// Queue and its name.
    queues: Vec<(&'static str, String)>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConsumerFigures {
    pub function: String,
    /// How old the last record read was, in milliseconds: the consumer's lag.
    pub iterator_age_ms: Option<f64>,
    /// Failed invocations in the latest minute.
    pub errors: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueFigures {
    pub queue: String,
    /// Messages waiting (the failures Lambda gave up on).
    pub depth: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StreamFigures {
    pub stream: String,
    /// Records put on the stream per second over the latest minute.
    pub incoming_per_second: Option<f64>,
    pub consumers: BTreeMap<&'static str, ConsumerFigures>,
    pub dead_letter_queues: BTreeMap<&'static str, QueueFigures>,
    #[serde(with = "tidemark_core::event::millis_rfc3339")]
    pub read_at: DateTime<Utc>,
    pub window_minutes: i64,
}

impl StreamHealth {
    /// `functions` and `queues` are the template's name patterns, with `{consumer}` and
    /// `{queue}` for the part that varies.
    pub fn new(client: aws_sdk_cloudwatch::Client, stream: &str, functions: &str, queues: &str) -> Self {
        Self {
            client,
            stream: stream.to_owned(),
            functions: CONSUMERS.iter().map(|c| (*c, functions.replace("{consumer}", c))).collect(),
            queues: QUEUES.iter().map(|q| (*q, queues.replace("{queue}", q))).collect(),
        }
    }

    pub async fn read(&self, now: DateTime<Utc>) -> Result<StreamFigures, MetricsError> {
        let mut queries = vec![query("incoming", "AWS/Kinesis", "IncomingRecords", "StreamName", &self.stream, "Sum")];
        for (i, (_, function)) in self.functions.iter().enumerate() {
            queries.push(query(&format!("age{i}"), "AWS/Lambda", "IteratorAge", "FunctionName", function, "Maximum"));
            queries.push(query(&format!("errors{i}"), "AWS/Lambda", "Errors", "FunctionName", function, "Sum"));
        }
        for (i, (_, queue)) in self.queues.iter().enumerate() {
            let name = "ApproximateNumberOfMessagesVisible";
            queries.push(query(&format!("depth{i}"), "AWS/SQS", name, "QueueName", queue, "Maximum"));
        }
        let answer = self
            .client
            .get_metric_data()
            .set_metric_data_queries(Some(queries))
            .start_time(AwsTime::from_secs((now - chrono::Duration::minutes(WINDOW_MINUTES)).timestamp()))
            .end_time(AwsTime::from_secs(now.timestamp() + 60))
            .scan_by(ScanBy::TimestampDescending)
            .send()
            .await
            .map_err(|e| MetricsError(describe(&e)))?;
        // The newest value of each query (the answer is newest first).
        let latest: BTreeMap<&str, f64> =
            answer.metric_data_results().iter().filter_map(|r| Some((r.id()?, *r.values().first()?))).collect();
        let value = |id: String| latest.get(id.as_str()).copied();
        Ok(StreamFigures {
            stream: self.stream.clone(),
            incoming_per_second: value("incoming".into()).map(|sum| sum / 60.0),
            consumers: self
                .functions
                .iter()
                .enumerate()
                .map(|(i, (consumer, function))| {
                    let figures = ConsumerFigures {
                        function: function.clone(),
                        iterator_age_ms: value(format!("age{i}")),
                        errors: value(format!("errors{i}")),
                    };
                    (*consumer, figures)
                })
                .collect(),
            dead_letter_queues: self
                .queues
                .iter()
                .enumerate()
                .map(|(i, (name, queue))| {
                    (*name, QueueFigures { queue: queue.clone(), depth: value(format!("depth{i}")) })
                })
                .collect(),
            read_at: now,
            window_minutes: WINDOW_MINUTES,
        })
    }
}

fn query(id: &str, namespace: &str, metric: &str, dimension: &str, value: &str, stat: &str) -> MetricDataQuery {
    let dimension = Dimension::builder().name(dimension).value(value).build();
    let metric = Metric::builder().namespace(namespace).metric_name(metric).dimensions(dimension).build();
    let stat = MetricStat::builder().metric(metric).period(60).stat(stat).build();
    MetricDataQuery::builder().id(id).metric_stat(stat).return_data(true).build()
}
