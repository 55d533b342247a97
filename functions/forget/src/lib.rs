//! forget: one person's events and rows out of every store of the AWS deployment, on
//! request (`aws lambda invoke --function-name tidemark-forget-<stage> --payload
//! '{"user_id": "U"}'`): DynamoDB, the OpenSearch indices, the Redshift tables with a
//! person column, the raw extract files in the interim bucket. The answer says what
//! each store removed.
//!
//! Kinesis cannot delete a record: the person's records leave the stream when its
//! retention ends (the answer says when). A replay from the stream before then (a
//! consumer reset to `TRIM_HORIZON`) would bring them back; forget again after one.

use serde::Serialize;
use serde_json::Value;
use tidemark_aws::jobs::{self, JobFailure, RequestError};
use tidemark_core::forget::{self, Forgotten, Person, PersonField, PersonRequest};

pub const JOB: &str = "forget";

pub struct Env<'a> {
    pub stores: forget::Stores<'a>,
    /// How long the stream keeps a record (the template's `StreamRetentionHours`).
    pub stream_retention_hours: u32,
}

#[derive(Debug, Serialize)]
pub struct ForgetAnswer {
    pub field: PersonField,
    pub stores: Vec<Forgotten>,
}

fn invalid(field: &str, reason: impl Into<String>) -> JobFailure {
    JobFailure::Request(RequestError { field: field.to_owned(), reason: reason.into() })
}

pub fn person(payload: &Value) -> Result<Person, JobFailure> {
    let request: PersonRequest =
        serde_json::from_value(payload.clone()).map_err(|e| invalid("payload", e.to_string()))?;
    request.person().map_err(|e| invalid(e.field, e.rule))
}

pub async fn handle(env: &Env<'_>, payload: &Value) -> Result<Value, JobFailure> {
    let person = person(payload)?;
    let mut stores = vec![Forgotten {
        store: "kinesis".into(),
        removed: 0,
        note: Some(format!(
            "a stream record cannot be deleted; the person's records expire within {} hours",
            env.stream_retention_hours
        )),
    }];
    stores.extend(forget::forget_in(&env.stores, &person).await.map_err(|e| JobFailure::run(JOB, e))?);
    jobs::answer(JOB, &ForgetAnswer { field: person.field(), stores })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_payload_names_one_person_by_one_id() {
        assert_eq!(person(&json!({"user_id": "u1"})).unwrap().id(), "u1");
        assert_eq!(person(&json!({"anonymous_id": "a1"})).unwrap().field(), PersonField::AnonymousId);
        for bad in
            [json!({}), json!({"user_id": "u", "anonymous_id": "a"}), json!({"user": "u"}), json!({"user_id": ""})]
        {
            assert!(matches!(person(&bad), Err(JobFailure::Request(_))), "{bad}");
        }
    }
}
