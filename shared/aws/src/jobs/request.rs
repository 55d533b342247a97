//! The payload a scheduled job is invoked with, in either shape EventBridge sends:
//!
//! - an EventBridge event (a rule's `"detail-type": "Scheduled Event"`, or any event
//!   routed to the job): the options are its `detail`, the time is its `time`;
//! - EventBridge Scheduler's target input, as the template sets it:
//!   `{"scheduled_time": "<aws.scheduler.scheduled-time>"}` plus options.
//!
//! Options: `only` (one source, table, report or analysis), `day` (realtime-compact's day,
//! `YYYY-MM-DD`), `lookback_days` (reconcile): [`JobOptions`], whose defaults and checks
//! per job are the domain's. Unknown options are refused here: a misspelt `only` must
//! not quietly run every source.
//!
//! Who started it, for the job history: a schedule (an EventBridge event, or scheduler
//! input with `scheduled_time`), the console (`"run_id"`: the run the console began in
//! the history, which this invocation carries out), or a person invoking it by hand.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Map, Value};
use tidemark_core::job::{JobOptions, Trigger};

const OPTIONS: [&str; 5] = ["only", "day", "lookback_days", "scheduled_time", "run_id"];

#[derive(Debug, Clone, PartialEq)]
pub struct JobRequest {
    /// When the schedule fired; the invocation time when the payload does not say.
    pub scheduled_at: DateTime<Utc>,
    pub options: JobOptions,
    pub trigger: Trigger,
    /// The run the console began for this invocation.
    pub run_id: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("scheduled event: field {field}: {reason}")]
pub struct RequestError {
    pub field: String,
    pub reason: String,
}

fn invalid(field: &str, reason: impl Into<String>) -> RequestError {
    RequestError { field: field.to_string(), reason: reason.into() }
}

impl JobRequest {
    pub fn parse(payload: &Value, now: DateTime<Utc>) -> Result<Self, RequestError> {
        if payload.get("detail-type").is_some() {
            let event: EventBridgeEvent<Value> =
                serde_json::from_value(payload.clone()).map_err(|e| invalid("detail-type", e.to_string()))?;
            let options = match &event.detail {
                Value::Null => Map::new(),
                Value::Object(map) => map.clone(),
                _ => return Err(invalid("detail", "must be a JSON object")),
            };
            let mut request = Self::from_options(&options, event.time.unwrap_or(now), "detail.")?;
            if request.run_id.is_none() {
                request.trigger = Trigger::Schedule;
            }
            return Ok(request);
        }
        match payload {
            Value::Null => Self::from_options(&Map::new(), now, ""),
            Value::Object(map) => Self::from_options(map, now, ""),
            _ => Err(invalid("payload", "must be a JSON object (EventBridge event or scheduler input)")),
        }
    }

    fn from_options(options: &Map<String, Value>, at: DateTime<Utc>, path: &str) -> Result<Self, RequestError> {
        let field = |name: &str| format!("{path}{name}");
        if let Some(unknown) = options.keys().find(|k| !OPTIONS.contains(&k.as_str())) {
            return Err(invalid(&field(unknown), format!("unknown option; expected one of {}", OPTIONS.join(", "))));
        }
        let text = |name: &str| -> Result<Option<&str>, RequestError> {
            match options.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim())),
                Some(_) => Err(invalid(&field(name), "must be a non-empty string")),
            }
        };
        let scheduled_at = match text("scheduled_time")? {
            None => at,
            Some(t) => DateTime::parse_from_rfc3339(t)
                .map_err(|e| invalid(&field("scheduled_time"), format!("{t:?} is not an RFC 3339 time: {e}")))?
                .with_timezone(&Utc),
        };
        let day = text("day")?
            .map(|d| {
                NaiveDate::parse_from_str(d, "%Y-%m-%d")
                    .map_err(|_| invalid(&field("day"), format!("{d:?} is not a date (YYYY-MM-DD)")))
            })
            .transpose()?;
        let lookback_days = match options.get("lookback_days") {
            None | Some(Value::Null) => None,
            Some(v) => match v.as_i64() {
                Some(n) => Some(n),
                None => return Err(invalid(&field("lookback_days"), "must be a whole number of days")),
            },
        };
        let run_id = text("run_id")?.map(str::to_string);
        let trigger = match (&run_id, options.contains_key("scheduled_time")) {
            (Some(_), _) => Trigger::Console,
            (None, true) => Trigger::Schedule,
            (None, false) => Trigger::Invoke,
        };
        let options = JobOptions { only: text("only")?.map(str::to_string), day, lookback_days };
        Ok(JobRequest { scheduled_at, options, trigger, run_id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-30T09:00:00Z").map(|t| t.with_timezone(&Utc)).unwrap_or_default()
    }

    #[test]
    fn an_eventbridge_scheduled_event_gives_its_time_and_detail() {
        let event = json!({
            "version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa", "detail-type": "Scheduled Event",
            "source": "aws.events", "account": "123456789012", "time": "2026-11-29T02:30:00Z",
            "region": "eu-west-1", "resources": ["arn:aws:events:eu-west-1:123456789012:rule/nightly"],
            "detail": {"only": "orders"}
        });
        let r = JobRequest::parse(&event, now()).expect("parses");
        assert_eq!(r.scheduled_at.to_rfc3339(), "2026-11-29T02:30:00+00:00");
        assert_eq!(r.options.only.as_deref(), Some("orders"));
        assert_eq!(r.trigger, Trigger::Schedule);
    }

    #[test]
    fn the_trigger_says_who_started_the_run() {
        let parse = |v: Value| JobRequest::parse(&v, now()).expect("parses");
        assert_eq!(parse(json!({"scheduled_time": "2026-11-29T02:30:00Z"})).trigger, Trigger::Schedule);
        assert_eq!(parse(json!({"only": "orders"})).trigger, Trigger::Invoke);
        let console = parse(json!({"run_id": "0193-abc", "only": "orders"}));
        assert_eq!((console.trigger, console.run_id.as_deref()), (Trigger::Console, Some("0193-abc")));
    }

    #[test]
    fn scheduler_input_and_empty_payloads() {
        let r = JobRequest::parse(&json!({"scheduled_time": "2026-11-29T02:30:00Z", "day": "2026-11-20"}), now())
            .expect("parses");
        assert_eq!(r.options.day.map(|d| d.to_string()).as_deref(), Some("2026-11-20"));
        let r = JobRequest::parse(&json!({}), now()).expect("parses");
        assert_eq!((r.scheduled_at, r.options), (now(), JobOptions::default()));
        assert_eq!(JobRequest::parse(&Value::Null, now()).expect("parses").scheduled_at, now());
    }

    #[test]
    fn bad_options_name_their_field() {
        let err = |v: Value| JobRequest::parse(&v, now()).map(|_| ()).expect_err("refused").to_string();
        assert!(err(json!({"onyl": "orders"})).contains("field onyl: unknown option"));
        assert!(err(json!({"day": "yesterday"})).contains("field day: \"yesterday\" is not a date"));
        assert!(err(json!({"lookback_days": "7"})).contains("field lookback_days"));
        assert!(err(json!({"only": 3})).contains("field only: must be a non-empty string"));
        let event = json!({"detail-type": "Scheduled Event", "source": "aws.events", "time": "2026-11-29T02:30:00Z",
                           "detail": {"days": 2}});
        assert!(err(event).contains("field detail.days: unknown option"));
        assert!(err(json!([1])).contains("field payload"));
    }
}
