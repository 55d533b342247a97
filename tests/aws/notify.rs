//! analyze's notifier on AWS: a notice published to an SNS topic (moto) arrives in a
//! queue subscribed to it with the worst sentence as the subject and the notice as the
//! message. The queue is read over SQS's query API: the functions link no SQS client.

use chrono::{TimeZone, Utc};
use tidemark_aws::emulator::Emulator;
use tidemark_aws::SnsNotifier;
use tidemark_core::analysis::{Anomaly, Direction};
use tidemark_core::ports::notify::{Notice, Notifier};

/// One SQS query-API call to moto, answered as XML text.
async fn sqs(moto: &Emulator, form: &[(&str, &str)]) -> String {
    let mut params = vec![("Version", "2012-11-05")];
    params.extend_from_slice(form);
    let encode = |text: &str| -> String {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    let body: Vec<String> = params.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect();
    let response = reqwest::Client::new()
        .post(moto.url())
        .header("content-type", "application/x-www-form-urlencoded")
        // moto routes a request by the service in its credential scope; it checks no signature.
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=test/20261203/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0",
        )
        .body(body.join("&"))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{:?}", response.status());
    response.text().await.unwrap()
}

fn between<'t>(text: &'t str, open: &str, close: &str) -> &'t str {
    let start = text.find(open).unwrap_or_else(|| panic!("no {open} in {text}")) + open.len();
    &text[start..start + text[start..].find(close).unwrap_or_else(|| panic!("no {close} in {text}"))]
}

#[tokio::test]
#[ignore = "needs the AWS emulators: pip install 'moto[server]' osmem-server cargo-lambda; run with -- --include-ignored"]
async fn anomalies_are_published_to_the_topic() {
    let moto = Emulator::moto();
    let clients = moto.clients().await;
    let topic = clients.sns.create_topic().name("tidemark-anomalies-test").send().await.unwrap();
    let topic_arn = topic.topic_arn().unwrap().to_owned();
    let created = sqs(&moto, &[("Action", "CreateQueue"), ("QueueName", "anomalies")]).await;
    let queue_url = between(&created, "<QueueUrl>", "</QueueUrl>").to_owned();
    let queue_arn = "arn:aws:sqs:us-east-1:123456789012:anomalies";
    clients.sns.subscribe().topic_arn(&topic_arn).protocol("sqs").endpoint(queue_arn).send().await.unwrap();

    let start = Utc.with_ymd_and_hms(2026, 12, 1, 14, 0, 0).unwrap();
    let sentence =
        "EU sales 14:00–15:00 UTC on 2026-12-01 is 63 % below its forecast (expected 4,100–5,300 EUR, got 1,720)";
    let anomaly = Anomaly {
        start,
        end: start + chrono::Duration::hours(1),
        group: Some("EU".into()),
        actual: 1_720.0,
        expected: 4_700.0,
        lower: 4_100.0,
        upper: 5_300.0,
        direction: Direction::Below,
        score: 3.97,
        sentence: sentence.into(),
    };
    let notice =
        Notice { analysis: "sales_watch".into(), run_id: "analyze:sales_watch:1".into(), anomalies: vec![anomaly] };
    SnsNotifier::new(clients.sns.clone(), topic_arn).notify(&notice).await.unwrap();

    let received =
        sqs(&moto, &[("Action", "ReceiveMessage"), ("QueueUrl", &queue_url), ("WaitTimeSeconds", "2")]).await;
    let body = between(&received, "<Body>", "</Body>").replace("&quot;", "\"").replace("&amp;", "&");
    let envelope: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        envelope["Subject"],
        "Tidemark sales_watch: EU sales 14:00-15:00 UTC on 2026-12-01 is 63 % below its forecast (expected..."
    );
    let message: serde_json::Value = serde_json::from_str(envelope["Message"].as_str().unwrap()).unwrap();
    assert_eq!(message["anomalies"][0]["sentence"], sentence);
    assert_eq!(message["anomalies"][0]["group"], "EU");
}
