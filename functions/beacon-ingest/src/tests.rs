//! Handler tests: requests built directly, no socket.

use super::*;
use async_trait::async_trait;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use std::sync::Mutex;
use tidemark_core::clock::SystemClock;
use tidemark_core::ingest::WriteKeys;
use tidemark_core::ports::stream::{EventStream, PutOutcome, StreamError, StreamRecordIn};
use tidemark_core::validate::ValidationLimits;
use tidemark_core::Event;
use tower::ServiceExt;

#[derive(Default)]
struct MemoryStream {
    records: Mutex<Vec<StreamRecordIn>>,
    down: bool,
}

#[async_trait]
impl EventStream for MemoryStream {
    async fn put_records(&self, records: Vec<StreamRecordIn>) -> Result<Vec<PutOutcome>, StreamError> {
        if self.down {
            return Err(StreamError::Unavailable("stream closed".into()));
        }
        let mut stored = self.records.lock().unwrap();
        let outcomes =
            records.iter().map(|_| PutOutcome::Stored { shard_id: "s".into(), sequence_number: "1".into() }).collect();
        stored.extend(records);
        Ok(outcomes)
    }
}

fn app(stream: Arc<MemoryStream>) -> Router {
    let keys = WriteKeys::parse("test-write-key=web").unwrap();
    router(Arc::new(Ingestor::new(stream, keys, ValidationLimits::default(), Arc::new(SystemClock))))
}

async fn send(app: Router, request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let response = app.oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes().to_vec();
    (status, headers, body)
}

fn post(body: &str, key: Option<&str>) -> Request<Body> {
    let mut builder = Request::post("/v1/events").header("content-type", "application/json");
    if let Some(key) = key {
        builder = builder.header(WRITE_KEY_HEADER, key);
    }
    builder.body(Body::from(body.to_owned())).unwrap()
}

#[tokio::test]
async fn batch_reports_per_event_and_keeps_the_good_ones() {
    let stream = Arc::new(MemoryStream::default());
    let body = r#"[{"event_type":"page_view","anonymous_id":"a","event_id":"ok-1"},
                   {"event_type":"purchase","anonymous_id":"a","order_id":"o1","currency":"EUR"}]"#;
    let (status, _, bytes) = send(app(Arc::clone(&stream)), post(body, Some("test-write-key"))).await;
    assert_eq!(status, StatusCode::OK);
    let report: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(report["accepted"], 1);
    assert_eq!(report["rejected"], 1);
    assert_eq!(report["results"][0]["status"], "accepted");
    assert_eq!(report["results"][0]["event_id"], "ok-1");
    assert_eq!(report["results"][1]["field"], "amount");
    assert_eq!(report["results"][1]["rule"], "required");
    assert_eq!(stream.records.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn wrong_or_missing_key_is_401_and_writes_nothing() {
    let stream = Arc::new(MemoryStream::default());
    let body = r#"[{"event_type":"page_view","anonymous_id":"a"}]"#;
    let (status, _, _) = send(app(Arc::clone(&stream)), post(body, Some("wrong"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = send(app(Arc::clone(&stream)), post(body, None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let pixel = Request::get("/v1/p.gif?event_type=page_view&anonymous_id=a&wk=nope").body(Body::empty()).unwrap();
    let (status, _, _) = send(app(Arc::clone(&stream)), pixel).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(stream.records.lock().unwrap().is_empty());
}

#[tokio::test]
async fn limits_name_the_kinesis_bounds() {
    let stream = Arc::new(MemoryStream::default());
    let many = format!("[{}]", vec![r#"{"event_type":"click","user_id":"u"}"#; 501].join(","));
    let (status, headers, bytes) = send(app(Arc::clone(&stream)), post(&many, Some("test-write-key"))).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(String::from_utf8_lossy(&bytes).contains("500"));
    assert!(headers.get("connection").is_none(), "read whole: the connection stays usable");
    let huge = format!(r#"[{{"event_type":"click","user_id":"u","properties":{{"x":"{}"}}}}]"#, "y".repeat(1_100_000));
    let (status, headers, bytes) = send(app(Arc::clone(&stream)), post(&huge, Some("test-write-key"))).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(String::from_utf8_lossy(&bytes).contains("1 MiB"));
    assert_eq!(headers["connection"], "close", "the rest of the body is unread: the connection closes");
    let (status, _, _) = send(app(Arc::clone(&stream)), post("[{", Some("test-write-key"))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(stream.records.lock().unwrap().is_empty());
}

#[tokio::test]
async fn stream_outage_is_a_retryable_503() {
    let stream = Arc::new(MemoryStream { down: true, ..MemoryStream::default() });
    let body = r#"{"event_type":"page_view","anonymous_id":"a"}"#;
    let (status, headers, bytes) = send(app(stream), post(body, Some("test-write-key"))).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers["retry-after"], "1");
    assert!(String::from_utf8_lossy(&bytes).contains("\"retryable\":true"));
}

#[tokio::test]
async fn pixel_maps_parameters_and_never_caches() {
    let stream = Arc::new(MemoryStream::default());
    let now_millis = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() - 5_000;
    let uri = format!(
        "/v1/p.gif?wk=test-write-key&event_type=purchase&anonymous_id=a&order_id=o9&amount=12.50&currency=EUR\
         &occurred_at={now_millis}&k.customer_id=c7&utm_source=mail&p.page=%2Fcart&cb=123"
    );
    let request = Request::get(uri).body(Body::empty()).unwrap();
    let (status, headers, body) = send(app(Arc::clone(&stream)), request).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, PIXEL_GIF);
    assert_eq!(headers["content-type"], "image/gif");
    assert!(headers["cache-control"].to_str().unwrap().contains("no-store"));
    assert_eq!(headers["access-control-allow-origin"], "*");
    let records = stream.records.lock().unwrap();
    let event = Event::from_record_bytes(&records[0].data).unwrap();
    assert_eq!(event.amount, Some(12.5));
    assert_eq!(event.occurred_at.timestamp_millis() as u128, now_millis);
    assert_eq!(event.keys["customer_id"], "c7");
    assert_eq!(event.properties["utm_source"], "mail");
    assert_eq!(event.properties["page"], "/cart");
    assert!(!event.properties.contains_key("cb"));
}

#[tokio::test]
async fn pixel_rejection_still_answers_a_gif() {
    let stream = Arc::new(MemoryStream::default());
    let request =
        Request::get("/v1/p.gif?wk=test-write-key&event_type=teleport&anonymous_id=a").body(Body::empty()).unwrap();
    let (status, headers, body) = send(app(Arc::clone(&stream)), request).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, PIXEL_GIF);
    assert_eq!(headers["x-tidemark-rejected"], "event_type:unknown_type");
}

#[tokio::test]
async fn beacon_js_is_served_and_ndjson_is_accepted() {
    let stream = Arc::new(MemoryStream::default());
    let (status, headers, body) =
        send(app(Arc::clone(&stream)), Request::get("/v1/beacon.js").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers["content-type"].to_str().unwrap().starts_with("application/javascript"));
    assert!(String::from_utf8_lossy(&body).contains("sendBeacon"));
    let ndjson =
        "{\"event_type\":\"click\",\"user_id\":\"u\"}\nnot json\n{\"event_type\":\"login\",\"user_id\":\"u\"}\n";
    let request = Request::post("/v1/events?wk=test-write-key").body(Body::from(ndjson)).unwrap();
    let (status, _, bytes) = send(app(Arc::clone(&stream)), request).await;
    assert_eq!(status, StatusCode::OK);
    let report: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!((report["accepted"].as_u64(), report["rejected"].as_u64()), (Some(2), Some(1)));
    assert_eq!(report["results"][1]["rule"], "json");
}

#[tokio::test]
async fn a_page_on_another_origin_may_post_events() {
    let stream = Arc::new(MemoryStream::default());
    let preflight = Request::builder()
        .method("OPTIONS")
        .uri("/v1/events")
        .header("origin", "https://shop.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type,x-tidemark-write-key")
        .body(Body::empty())
        .unwrap();
    let (status, headers, _) = send(app(Arc::clone(&stream)), preflight).await;
    assert!(status.is_success(), "{status}");
    assert_eq!(headers["access-control-allow-origin"], "*");
    let allowed = headers["access-control-allow-headers"].to_str().unwrap().to_ascii_lowercase();
    assert!(allowed.contains("x-tidemark-write-key") && allowed.contains("content-type"), "{allowed}");
    assert!(headers["access-control-allow-methods"].to_str().unwrap().contains("POST"));
    assert!(stream.records.lock().unwrap().is_empty(), "a preflight writes nothing");

    let mut request = post(r#"{"event_type":"page_view","anonymous_id":"a"}"#, Some("test-write-key"));
    request.headers_mut().insert("origin", "https://shop.example".parse().unwrap());
    let (status, headers, _) = send(app(Arc::clone(&stream)), request).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["access-control-allow-origin"], "*");
    assert_eq!(stream.records.lock().unwrap().len(), 1);
}

/// API Gateway HTTP API (payload 2.0) requests, as the Lambda receives them, through
/// `lambda_http`'s own conversion and the router.
mod api_gateway {
    use super::*;

    async fn invoke(stream: Arc<MemoryStream>, fixture: &str) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        let request = lambda_http::request::from_str(fixture).unwrap();
        let (parts, body) = request.into_parts();
        send(app(stream), Request::from_parts(parts, Body::from(body.to_vec()))).await
    }

    #[tokio::test]
    async fn post_events_answers_per_event() {
        let stream = Arc::new(MemoryStream::default());
        let (status, _, body) =
            invoke(stream.clone(), include_str!("../tests/fixtures/apigw-v2-post-events.json")).await;
        assert_eq!(status, StatusCode::OK);
        let report: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(report["accepted"], 1);
        assert_eq!(report["rejected"], 1);
        assert_eq!(report["results"][1]["field"], "amount");
        let records = stream.records.lock().unwrap();
        assert_eq!(records.len(), 1);
        let event = Event::from_record_bytes(&records[0].data).unwrap();
        assert_eq!((event.event_id.as_str(), event.source.as_str(), event.amount), ("apigw-1", "web", Some(42.5)));
    }

    #[tokio::test]
    async fn a_wrong_write_key_writes_nothing() {
        let stream = Arc::new(MemoryStream::default());
        let (status, _, _) = invoke(stream.clone(), include_str!("../tests/fixtures/apigw-v2-wrong-key.json")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(stream.records.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn the_pixel_answers_a_gif_that_is_never_cached() {
        let stream = Arc::new(MemoryStream::default());
        let (status, headers, body) =
            invoke(stream.clone(), include_str!("../tests/fixtures/apigw-v2-pixel.json")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers["content-type"], "image/gif");
        assert!(headers["cache-control"].to_str().unwrap().starts_with("no-store"));
        assert_eq!(body, PIXEL_GIF.to_vec());
        let records = stream.records.lock().unwrap();
        assert_eq!(Event::from_record_bytes(&records[0].data).unwrap().event_id, "px-1");
    }
}
