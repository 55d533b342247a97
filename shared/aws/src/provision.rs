//! Creates the stream, table and bucket that the adapters expect, where they are
//! missing: for emulators (moto, LocalStack) and first runs against a bare account. In a
//! real deployment the SAM template owns these resources; this mirrors its settings
//! (on-demand capacity, the pk/sk key schema, the TTL attribute).

use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TableStatus,
    TimeToLiveSpecification,
};
use aws_sdk_kinesis::types::{StreamMode, StreamModeDetails, StreamStatus};
use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};

use crate::config::AwsClients;
use crate::retry::describe;

#[derive(Debug, thiserror::Error)]
#[error("provision {resource}: {message}")]
pub struct ProvisionError {
    pub resource: String,
    pub message: String,
}

fn fail(resource: &str, message: String) -> ProvisionError {
    ProvisionError { resource: resource.to_string(), message }
}

/// An on-demand Kinesis stream, waited for until ACTIVE.
pub async fn stream(clients: &AwsClients, name: &str) -> Result<(), ProvisionError> {
    let mode = StreamModeDetails::builder()
        .stream_mode(StreamMode::OnDemand)
        .build()
        .map_err(|e| fail(name, e.to_string()))?;
    if let Err(e) = clients.kinesis.create_stream().stream_name(name).stream_mode_details(mode).send().await {
        if !e.as_service_error().is_some_and(|s| s.is_resource_in_use_exception()) {
            return Err(fail(name, describe(&e)));
        }
    }
    wait_active(name, "stream", 100, Duration::from_millis(100), || async {
        let summary = clients
            .kinesis
            .describe_stream_summary()
            .stream_name(name)
            .send()
            .await
            .map_err(|e| fail(name, describe(&e)))?;
        Ok(summary.stream_description_summary().is_some_and(|s| s.stream_status() == &StreamStatus::Active))
    })
    .await
}

/// Polls `active` up to `tries` times, `pause` apart, until it says yes.
async fn wait_active<F, Fut>(
    name: &str,
    what: &str,
    tries: u32,
    pause: Duration,
    active: F,
) -> Result<(), ProvisionError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<bool, ProvisionError>>,
{
    for _ in 0..tries {
        if active().await? {
            return Ok(());
        }
        tokio::time::sleep(pause).await;
    }
    Err(fail(name, format!("{what} did not become ACTIVE")))
}

/// The key-value table: `pk` (hash) and `sk` (range) strings, on-demand, TTL on
/// `expires_at`.
pub async fn kv_table(clients: &AwsClients, name: &str) -> Result<(), ProvisionError> {
    let attr =
        |n: &str| AttributeDefinition::builder().attribute_name(n).attribute_type(ScalarAttributeType::S).build();
    let key = |n: &str, t: KeyType| KeySchemaElement::builder().attribute_name(n).key_type(t).build();
    let created = clients
        .dynamodb
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("pk").map_err(|e| fail(name, e.to_string()))?)
        .attribute_definitions(attr("sk").map_err(|e| fail(name, e.to_string()))?)
        .key_schema(key("pk", KeyType::Hash).map_err(|e| fail(name, e.to_string()))?)
        .key_schema(key("sk", KeyType::Range).map_err(|e| fail(name, e.to_string()))?)
        .send()
        .await;
    match created {
        Ok(_) => {
            // A real account answers CREATING first; TTL can be set once it is ACTIVE.
            wait_active(name, "table", 240, Duration::from_millis(500), || async {
                let table = clients
                    .dynamodb
                    .describe_table()
                    .table_name(name)
                    .send()
                    .await
                    .map_err(|e| fail(name, describe(&e)))?;
                Ok(table.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active))
            })
            .await?;
            let ttl = TimeToLiveSpecification::builder()
                .attribute_name("expires_at")
                .enabled(true)
                .build()
                .map_err(|e| fail(name, e.to_string()))?;
            clients
                .dynamodb
                .update_time_to_live()
                .table_name(name)
                .time_to_live_specification(ttl)
                .send()
                .await
                .map_err(|e| fail(name, describe(&e)))?;
            Ok(())
        }
        Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_in_use_exception()) => Ok(()),
        Err(e) => Err(fail(name, describe(&e))),
    }
}

/// An operational table keyed by one text attribute, as a `dynamodb` batch source
/// reads (on-demand; an emulator's, for tests).
pub async fn source_table(clients: &AwsClients, name: &str, hash_key: &str) -> Result<(), ProvisionError> {
    let attr = AttributeDefinition::builder()
        .attribute_name(hash_key)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(|e| fail(name, e.to_string()))?;
    let key = KeySchemaElement::builder()
        .attribute_name(hash_key)
        .key_type(KeyType::Hash)
        .build()
        .map_err(|e| fail(name, e.to_string()))?;
    let create = clients.dynamodb.create_table().table_name(name).billing_mode(BillingMode::PayPerRequest);
    match create.attribute_definitions(attr).key_schema(key).send().await {
        Ok(_) => Ok(()),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_in_use_exception()) => Ok(()),
        Err(e) => Err(fail(name, describe(&e))),
    }
}

/// A bucket in the clients' region (outside us-east-1 S3 wants the region named).
pub async fn bucket(clients: &AwsClients, name: &str) -> Result<(), ProvisionError> {
    let mut create = clients.s3.create_bucket().bucket(name);
    if let Some(region) = clients.sdk.region().map(|r| r.as_ref().to_string()).filter(|r| r != "us-east-1") {
        let constraint = BucketLocationConstraint::from(region.as_str());
        create = create
            .create_bucket_configuration(CreateBucketConfiguration::builder().location_constraint(constraint).build());
    }
    match create.send().await {
        Ok(_) => Ok(()),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_bucket_already_owned_by_you()) => Ok(()),
        Err(e) => Err(fail(name, describe(&e))),
    }
}
