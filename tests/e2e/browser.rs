//! The dashboard in a real browser: headless Chromium (Debian's `chromium` and
//! `chromium-driver`) driven over WebDriver loads the page of a demo that has run, waits
//! for the chart, checks that batch and real-time bars and the tidemark line are drawn,
//! and saves a screenshot under the test's output directory.
//!
//! The same page as the report Lambda serves it to people on AWS: under `/ui/`, behind
//! the admin token's sign-in, reading the `/ui/v1/...` routes.
//!
//! The console: Run now followed to the end, a dead letter redriven with its button.
//!
//! The beacon in a real page: it sends page URLs without their query string and fragment.
//!
//! Ignored unless run with `--include-ignored` (CI does, after installing the packages);
//! asked for without chromedriver, they fail naming the packages.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{ClientBuilder, Locator};
use serde_json::json;
use tidemark::demo::{Demo, DemoArgs};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// Kills chromedriver (and with it the browser) however the test ends.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        if let Err(error) = self.0.kill() {
            eprintln!("stopping chromedriver: {error}");
        }
        if let Err(error) = self.0.wait() {
            eprintln!("reaping chromedriver: {error}");
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn start_driver() -> (Driver, String) {
    let port = free_port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let driver = Driver(child);
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if reqwest::get(format!("{url}/status")).await.is_ok_and(|r| r.status().is_success()) {
            return (driver, url);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not answer on {url}");
}

fn screenshot_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(name)
}

/// A demo day (its orders in a CSV export: no PostgreSQL at port 1) played to the end.
async fn played_demo(dir: &Path, orders: usize, seed: u64) -> Demo {
    let demo = Demo::start(DemoArgs {
        data_dir: dir.join("demo"),
        http_addr: "127.0.0.1:0".parse().unwrap(),
        admin_addr: "127.0.0.1:0".parse().unwrap(),
        postgres: "postgres://postgres@127.0.0.1:1/postgres".to_owned(),
        orders,
        seed,
        stream_seconds: 0.2,
        pause_seconds: 0.0,
        exit: true,
    })
    .await
    .unwrap();
    demo.play().await.unwrap();
    demo
}

/// The browser tests are ignored unless asked for; asked for, they need chromedriver.
fn require_browser() {
    assert!(Path::new(CHROMEDRIVER).is_file(), "{CHROMEDRIVER} is missing: apt-get install chromium chromium-driver");
}

async fn browser(driver_url: &str) -> fantoccini::Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".to_owned(),
        json!({
            "binary": CHROMIUM,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000",
                     "--disable-background-networking", "--disable-component-update", "--no-first-run"],
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(driver_url)
        .await
        .unwrap()
}

/// A shop page carrying the beacon, opened with an email in its query string and a
/// token in its fragment: the page view that lands in the index has neither.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium: apt-get install chromium chromium-driver; run with -- --include-ignored"]
async fn the_beacon_sends_page_urls_without_query_or_fragment() {
    require_browser();
    let dir = tempfile::tempdir().unwrap();
    let stack = crate::support::start(dir.path()).await;
    let page = format!(
        r#"<!doctype html><title>Shop</title>
<script async src="http://{}/v1/beacon.js" data-write-key="{}" data-region="EU"></script>"#,
        stack.http_addr(),
        crate::support::WRITE_KEY
    );
    let shop =
        axum::Router::new().route("/checkout", axum::routing::get(move || async move { axum::response::Html(page) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let shop_addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, shop).await });

    let (_driver, driver_url) = start_driver().await;
    let browser = browser(&driver_url).await;
    browser.goto(&format!("http://{shop_addr}/checkout?email=jane%40example.com#token=s3cret")).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while stack.index().num_docs() == 0 {
        assert!(std::time::Instant::now() < deadline, "no page view arrived");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    browser.close().await.unwrap();
    let layout = stack.layout();
    let hour = tidemark_core::bucket::HourBucket::of(chrono::Utc::now());
    let items = tidemark_core::merge::read_bucket(stack.kv(), layout, hour).await.unwrap();
    let event = tidemark_core::event::Event::from_record_bytes(&items[0].value).unwrap();
    assert_eq!(event.properties["url"], format!("http://{shop_addr}/checkout"), "{:?}", event.properties);
    stack.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium: apt-get install chromium chromium-driver; run with -- --include-ignored"]
async fn dashboard_draws_both_sides_and_the_tidemark() {
    require_browser();
    let dir = tempfile::tempdir().unwrap();
    let demo = played_demo(dir.path(), 400, 11).await;

    let (_driver, driver_url) = start_driver().await;
    let browser = browser(&driver_url).await;
    browser.goto(&demo.dashboard_url()).await.unwrap();
    browser.wait().at_most(Duration::from_secs(20)).for_element(Locator::Css("body[data-ready]")).await.unwrap();
    let batch = browser.find_all(Locator::Css("#chart rect.bar.batch")).await.unwrap();
    let realtime = browser.find_all(Locator::Css("#chart rect.bar.realtime")).await.unwrap();
    let line = browser.find(Locator::Css("#chart #tidemark-line")).await.unwrap();
    // Hours 00–17 are batch and 18–23 real time, three regions stacked in each.
    assert!(batch.len() >= 18, "batch bars drawn: {}", batch.len());
    assert!(realtime.len() >= 6, "real-time bars drawn: {}", realtime.len());
    let x: f64 = line.attr("x1").await.unwrap().unwrap().parse().unwrap();
    assert!(x > 0.0, "the tidemark line has a position");
    let mark = browser.find(Locator::Id("mark")).await.unwrap().text().await.unwrap();
    assert!(mark.contains("18:00"), "the tidemark card says 18:00: {mark}");
    for consumer in ["index", "store"] {
        let cell = browser.find(Locator::Id(&format!("dead-{consumer}"))).await.unwrap().text().await.unwrap();
        assert_eq!(cell, "0", "the dashboard shows the {consumer} consumer's dead letters");
    }

    let png = browser.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
    std::fs::write(screenshot_path("dashboard.png"), &png).unwrap();
    eprintln!("dashboard screenshot: {}", screenshot_path("dashboard.png").display());

    // The page-view beacons: the forecast band behind the bars, the failed EU hour
    // marked on the chart and listed with its sentence.
    let option = browser.find(Locator::Css("#report option[value='page_view_beacons']")).await.unwrap();
    option.click().await.unwrap();
    let band = browser.wait().at_most(Duration::from_secs(20)).for_element(Locator::Css("#chart #forecast-band")).await;
    let points = band.unwrap().attr("points").await.unwrap().unwrap_or_default();
    assert!(points.split(' ').count() >= 2 * 24, "a band over every hour of the day: {points}");
    let mut marks = Vec::new();
    for mark in browser.find_all(Locator::Css("#chart .anomaly-mark title")).await.unwrap() {
        marks.push(mark.html(true).await.unwrap());
    }
    assert!(marks.iter().any(|m| m.starts_with("EU page view beacons 14:00–15:00 UTC")), "{marks:?}");
    let listed = browser.find(Locator::Css("#anomalies li.anomaly")).await.unwrap().text().await.unwrap();
    assert!(listed.contains("below its forecast"), "{listed}");
    let png = browser.screenshot().await.unwrap();
    std::fs::write(screenshot_path("dashboard-forecast.png"), &png).unwrap();
    eprintln!("forecast screenshot: {}", screenshot_path("dashboard-forecast.png").display());
    browser.close().await.unwrap();
    demo.shutdown().await.unwrap();
}

/// The report Lambda's routes (`tidemark_report::lambda_router`, as its `main` serves
/// them) over the demo's stores, with an admin token: a person signs in at `/ui/` and
/// the dashboard draws from `/ui/v1/...`; without the token nothing is read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium: apt-get install chromium chromium-driver; run with -- --include-ignored"]
async fn dashboard_works_signed_in_under_the_deployed_ui_routes() {
    use std::sync::Arc;
    use tidemark_report::admin::{AdminGuard, FixedTokens};
    use tidemark_report::{BatchReports, ReportState};

    require_browser();
    let dir = tempfile::tempdir().unwrap();
    let demo = played_demo(dir.path(), 300, 5).await;
    let batch = demo.stack.batch().unwrap();
    let state = ReportState {
        index: Arc::new(demo.stack.index().clone()),
        clock: Arc::new(tidemark_core::clock::SystemClock),
        batch: Some(BatchReports {
            reports: Arc::new(batch.pipeline.reports.clone()),
            analyses: Arc::new(batch.pipeline.analyses.clone()),
            warehouse: Arc::new(batch.warehouse.clone()),
            interim: None,
        }),
        no_pipeline: Arc::from("no pipeline"),
        jobs: None,
        keys: None,
    };
    let guard = AdminGuard { tokens: Some(Arc::new(FixedTokens::new(["s3cret-admin"]))), hosts: None };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, tidemark_report::lambda_router(state, axum::Router::new(), guard)).await
    });
    let day = demo.day.start.format("%Y-%m-%d");

    let anonymous = reqwest::get(format!("http://{addr}/ui/v1/reports")).await.unwrap();
    assert_eq!(anonymous.status(), 401, "the reports are not readable without the token");

    let (_driver, driver_url) = start_driver().await;
    let browser = browser(&driver_url).await;
    browser.goto(&format!("http://{addr}/ui/")).await.unwrap();
    let field = browser.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css("input[name=token]")).await;
    field.unwrap().send_keys("s3cret-admin").await.unwrap();
    browser.find(Locator::Css("form button")).await.unwrap().click().await.unwrap();
    browser.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css("#chart")).await.unwrap();
    browser.goto(&format!("http://{addr}/ui/?day={day}")).await.unwrap();
    browser.wait().at_most(Duration::from_secs(20)).for_element(Locator::Css("body[data-ready]")).await.unwrap();
    assert_eq!(browser.current_url().await.unwrap().path(), "/ui/");
    let batch_bars = browser.find_all(Locator::Css("#chart rect.bar.batch")).await.unwrap();
    let realtime_bars = browser.find_all(Locator::Css("#chart rect.bar.realtime")).await.unwrap();
    assert!(batch_bars.len() >= 18 && realtime_bars.len() >= 6, "{} / {}", batch_bars.len(), realtime_bars.len());
    let mark = browser.find(Locator::Id("mark")).await.unwrap().text().await.unwrap();
    assert!(mark.contains("18:00"), "the tidemark card says 18:00: {mark}");
    let status = browser.find(Locator::Id("status")).await.unwrap().text().await.unwrap();
    assert!(status.starts_with("updated"), "no stats route on AWS, and the page still works: {status}");
    let no_stats = browser.find(Locator::Id("no-stats")).await.unwrap().text().await.unwrap();
    assert!(no_stats.contains("CloudWatch"), "the stream card says where to look: {no_stats}");

    let png = browser.screenshot().await.unwrap();
    std::fs::write(screenshot_path("dashboard-ui.png"), &png).unwrap();
    eprintln!("signed-in dashboard screenshot: {}", screenshot_path("dashboard-ui.png").display());
    browser.close().await.unwrap();
    demo.shutdown().await.unwrap();
}

/// The console in a browser: Run now extracts and loads the shop's orders while the
/// page follows the runs to their end, the row the load quarantined is shown, a planted
/// dead letter is redriven with its button and lands in the index, and once the bad row
/// is fixed at the source Reload extracts and loads it; a write key is made and revoked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium: apt-get install chromium chromium-driver; run with -- --include-ignored"]
async fn console_runs_jobs_redrives_and_reloads() {
    require_browser();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tidemark.toml"), tidemark_e2e::HOSTILE_PIPELINE).unwrap();
    std::fs::write(dir.path().join("orders.csv"), tidemark_e2e::orders_with_one_bad_row()).unwrap();
    let mut config = crate::support::config(&dir.path().join("data"));
    config.pipeline = Some(dir.path().join("tidemark.toml"));
    let stack = tidemark::Stack::start(config).await.unwrap();
    let now = chrono::Utc::now().to_rfc3339();
    let parked = serde_json::to_vec(&json!({"event_id": "parked-in-console", "event_type": "page_view",
        "occurred_at": now, "received_at": now, "source": "web", "region": "EU", "anonymous_id": "a"}))
    .unwrap();
    let parked = tidemark_core::event::Event::from_record_bytes(&parked).unwrap().to_record_bytes();
    stack.log().park(tidemark::consumers::STREAM_INDEX, 0, 4242, &parked, "search index unavailable").unwrap();

    let (_driver, driver_url) = start_driver().await;
    let browser = browser(&driver_url).await;
    browser.goto(&format!("http://{}/console", stack.admin_addr())).await.unwrap();
    for job in ["batch-extract", "batch-load"] {
        let row = format!("#jobs tr[data-job='{job}']");
        let button = format!("{row} .run-now");
        let button = browser.wait().at_most(Duration::from_secs(20)).for_element(Locator::Css(&button)).await;
        button.unwrap().click().await.unwrap();
        let done = format!("{row} td.status.succeeded");
        browser.wait().at_most(Duration::from_secs(60)).for_element(Locator::Css(&done)).await.unwrap();
        let listed = browser.wait().at_most(Duration::from_secs(20));
        let finished = listed.for_element(Locator::Css("#runs tr[data-status='succeeded']")).await.unwrap();
        assert!(finished.text().await.unwrap().contains("console"), "the run is listed as the console's");
    }
    let loaded = browser.wait().at_most(Duration::from_secs(20)).for_element(Locator::Css("#watermarks tbody tr"));
    let loaded = loaded.await.unwrap().text().await.unwrap();
    assert!(loaded.contains("orders"), "the load's watermark is shown: {loaded}");
    let extracted = browser.find(Locator::Css("#extracts tr[data-source='orders']")).await.unwrap();
    assert!(extracted.text().await.unwrap().contains("31"), "the source's last extract is shown");

    // Every panel loaded without a script error (the page says when it last updated).
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let updated = browser.find(Locator::Id("updated")).await.unwrap().text().await.unwrap();
        let message = browser.find(Locator::Id("message")).await.unwrap().text().await.unwrap();
        if updated.starts_with("updated") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the console did not finish loading: {message}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let bad = browser.find(Locator::Css("#quarantine tbody tr")).await.unwrap().text().await.unwrap();
    assert!(bad.contains("amount_eur"), "the quarantined row is shown with its field: {bad}");
    let letter = browser.find(Locator::Css("#dead-letters tr[data-consumer='stream-index']")).await.unwrap();
    assert!(letter.text().await.unwrap().contains("search index unavailable"));
    let png = browser.screenshot().await.unwrap();
    std::fs::write(screenshot_path("console.png"), &png).unwrap();
    eprintln!("console screenshot: {}", screenshot_path("console.png").display());
    browser.find(Locator::Css("#dead-letters .redrive")).await.unwrap().click().await.unwrap();
    let result =
        browser.wait().at_most(Duration::from_secs(20)).for_element(Locator::Css("#dlq-result")).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !result.text().await.unwrap().contains("1 redriven") {
        assert!(std::time::Instant::now() < deadline, "no redrive outcome: {}", result.text().await.unwrap());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(stack.index().num_docs(), 1, "the redriven event is in the index, the only one there");

    // The bad amount fixed at the source, Reload extracts and loads again: the table's
    // latest load quarantined nothing.
    let fixed = tidemark_e2e::orders_with_one_bad_row().replace("not money", "31.50");
    std::fs::write(dir.path().join("orders.csv"), fixed).unwrap();
    browser.find(Locator::Id("reload")).await.unwrap().click().await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let status = browser.find(Locator::Id("quarantine-status")).await.unwrap().text().await.unwrap();
        if status.contains("quarantined none") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the reload did not end: {status}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let marks = tidemark_core::ports::Warehouse::watermarks(&stack.batch().unwrap().warehouse).await.unwrap();
    assert_eq!((marks[0].rows_loaded, marks[0].rows_quarantined), (31, 0), "{marks:?}");

    // A write key made on the page is shown once and works at once; revoked (after the
    // confirmation), it is refused.
    browser.find(Locator::Id("key-source")).await.unwrap().send_keys("app").await.unwrap();
    browser.find(Locator::Id("key-create")).await.unwrap().click().await.unwrap();
    let shown = browser.wait().at_most(Duration::from_secs(20)).for_element(Locator::Id("key-secret")).await.unwrap();
    let key = shown.text().await.unwrap();
    assert!(key.starts_with("tmk_"), "{key}");
    let send = |key: String| {
        let url = format!("http://{}/v1/events", stack.http_addr());
        async move {
            let event =
                json!({"event_type": "page_view", "anonymous_id": "a", "occurred_at": chrono::Utc::now().to_rfc3339()});
            let answer =
                reqwest::Client::new().post(url).header("x-tidemark-write-key", key).json(&[event]).send().await;
            answer.unwrap().status().as_u16()
        }
    };
    assert_eq!(send(key.clone()).await, 200);
    let png = browser.screenshot().await.unwrap();
    std::fs::write(screenshot_path("console-keys.png"), &png).unwrap();
    browser.find(Locator::Css("#write-keys .revoke")).await.unwrap().click().await.unwrap();
    browser.accept_alert().await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !browser.find(Locator::Id("message")).await.unwrap().text().await.unwrap().contains("revoked") {
        assert!(std::time::Instant::now() < deadline, "the key was not revoked");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(send(key).await, 401);
    browser.close().await.unwrap();
    stack.shutdown().await.unwrap();
}
