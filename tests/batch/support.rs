//! The example shop in a temporary directory, its databases seeded on the machine's
//! PostgreSQL and MariaDB, and the batch jobs run with a clock the test moves.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use chrono::{DateTime, Duration, TimeZone, Utc};
use tidemark_core::batch::extract::{self, ExtractSummary};
use tidemark_core::batch::jobs::{self, BatchLoad, JobError};
use tidemark_core::batch::load::LoadSummary;
use tidemark_core::batch::manifest::Manifest;
use tidemark_core::batch::raw_retention::{self, RawRetention};
use tidemark_core::batch::{Pipeline, Silent, Value};
use tidemark_core::compact::{CompactSummary, Compactor};
use tidemark_core::kv_key::KvLayout;
use tidemark_core::ports::KvStore;
use tidemark_core::ports::{ObjectStore, Query, QueryResult, Warehouse, WarehouseError};
use tidemark_core::{Clock, FixedClock};
use tidemark_local::{DirObjectStore, DuckWarehouse};
use tidemark_sources::Connectors;

/// The shop's tables in the machine's databases are shared: one database test at a time.
static DATABASES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub struct Shop {
    databases: Option<tokio::sync::MutexGuard<'static, ()>>,
    tmp: tempfile::TempDir,
    pub dir: PathBuf,
    pipeline: Pipeline,
    store: DirObjectStore,
    warehouse: DuckWarehouse,
    clock: FixedClock,
}

#[derive(Debug, Clone, Copy)]
pub enum Table {
    Orders,
    Customers,
    Products,
    Carts,
    PageViews,
    DailySales,
}

impl Table {
    fn sql(self) -> &'static str {
        match self {
            Table::Orders => "SELECT * FROM orders ORDER BY order_id",
            Table::Customers => "SELECT * FROM customers ORDER BY customer_id",
            Table::Products => "SELECT * FROM products ORDER BY sku",
            Table::Carts => "SELECT * FROM carts ORDER BY cart_id",
            Table::PageViews => "SELECT * FROM page_views_hourly ORDER BY hour, path",
            Table::DailySales => "SELECT * FROM daily_sales ORDER BY order_day, region",
        }
    }

    const ALL: [Table; 6] =
        [Table::Orders, Table::Customers, Table::Products, Table::Carts, Table::PageViews, Table::DailySales];
}

fn example_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/shop")
}

fn run(cmd: &mut Command, stdin: Option<&Path>) {
    if let Some(path) = stdin {
        cmd.stdin(std::fs::File::open(path).expect("seed file"));
    } else {
        cmd.stdin(Stdio::null());
    }
    let out = cmd.output().unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
}

fn psql(sql_or_file: &str, is_file: bool) {
    let mut cmd = Command::new("psql");
    cmd.args(["-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-q", "-v", "ON_ERROR_STOP=1"]);
    cmd.args([if is_file { "-f" } else { "-c" }, sql_or_file]);
    run(&mut cmd, None);
}

fn mariadb(sql: Option<&str>, file: Option<&Path>) {
    let mut cmd = Command::new("mariadb");
    cmd.args(["-h", "127.0.0.1", "-u", "root", "test"]);
    if let Some(sql) = sql {
        cmd.args(["-e", sql]);
    }
    run(&mut cmd, file);
}

impl Shop {
    /// The full shop: databases seeded, files copied.
    pub async fn start() -> Shop {
        let mut shop = Shop::copy(|t| t.to_string()).await;
        shop.databases = Some(DATABASES.lock().await);
        psql(shop.dir.join("seed-postgres.sql").to_str().expect("utf-8 path"), true);
        mariadb(None, Some(&shop.dir.join("seed-mariadb.sql")));
        shop
    }

    /// The shop's files with one edit to the pipeline text; for tests that use no database.
    pub async fn files_only(from: &str, to: &str) -> Shop {
        Shop::copy(|t| t.replacen(from, to, 1)).await
    }

    async fn copy(edit: impl Fn(&str) -> String) -> Shop {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("shop");
        std::fs::create_dir_all(&dir).expect("mkdir");
        for entry in std::fs::read_dir(example_dir()).expect("examples/shop") {
            let entry = entry.expect("entry");
            std::fs::copy(entry.path(), dir.join(entry.file_name())).expect("copy");
        }
        let text = edit(&std::fs::read_to_string(dir.join("tidemark.toml")).expect("pipeline"));
        let pipeline = Pipeline::parse(&text).expect("the example pipeline parses");
        let warehouse = DuckWarehouse::open(&tmp.path().join("data/warehouse.duckdb")).expect("warehouse");
        Shop {
            databases: None,
            store: DirObjectStore::new(tmp.path().join("data/interim")),
            warehouse,
            pipeline,
            clock: FixedClock::new(Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap()),
            dir,
            tmp,
        }
    }

    pub fn next_run(&self) {
        self.clock.set(self.clock.now() + Duration::hours(1));
    }

    pub async fn extract(&self) -> Vec<ExtractSummary> {
        jobs::batch_extract(&self.pipeline, None, &Connectors::new(&self.dir), &self.store, &self.clock, &Silent)
            .await
            .expect("batch-extract")
    }

    pub async fn extract_source(&self, source: &str) -> Vec<ExtractSummary> {
        jobs::batch_extract(
            &self.pipeline,
            Some(source),
            &Connectors::new(&self.dir),
            &self.store,
            &self.clock,
            &Silent,
        )
        .await
        .expect("batch-extract")
    }

    pub async fn load(&self) -> Vec<LoadSummary> {
        jobs::batch_load(&self.pipeline, None, &self.store, &self.warehouse, &self.clock, &Silent)
            .await
            .expect("batch-load")
    }

    /// batch-load as scheduled: the tables, then the raw compaction.
    pub async fn load_job(&self, raw: RawRetention) -> BatchLoad {
        jobs::batch_load_job(&self.pipeline, None, &self.store, &self.warehouse, &self.clock, &Silent, raw)
            .await
            .expect("batch-load")
    }

    /// realtime-compact of `day`, with real-time events read from `kv`.
    pub async fn compact(&self, kv: &dyn KvStore, day: chrono::NaiveDate) -> Vec<CompactSummary> {
        let layout = KvLayout::default();
        let compactor = Compactor {
            pipeline: &self.pipeline,
            store: &self.store,
            warehouse: &self.warehouse,
            kv,
            layout: &layout,
            clock: &self.clock,
            progress: &Silent,
        };
        compactor.run(day).await.expect("realtime-compact")
    }

    /// Moves the clock by `by`.
    pub fn advance(&self, by: Duration) {
        self.clock.set(self.clock.now() + by);
    }

    /// The interim store's lifecycle rule, `keep` after each run was written.
    pub async fn expire_raw(&self, keep: Duration) -> u64 {
        raw_retention::expire(&self.store, self.clock.now() - keep).await.expect("expire")
    }

    /// The runs a load of `source` reads now.
    pub async fn runs(&self, source: &str) -> Vec<Manifest> {
        extract::runs(&self.store, source).await.expect("runs")
    }

    /// Swaps in an empty warehouse named `name`: the tables rebuilt from the interim store.
    pub fn new_warehouse(&mut self, name: &str) {
        let path = self.tmp.path().join(format!("data/{name}.duckdb"));
        self.warehouse = DuckWarehouse::open(&path).expect("warehouse");
    }

    pub async fn load_table(&self, table: &str) -> Result<Vec<LoadSummary>, JobError> {
        jobs::batch_load(&self.pipeline, Some(table), &self.store, &self.warehouse, &self.clock, &Silent).await
    }

    pub async fn latest_manifest(&self, source: &str) -> Manifest {
        extract::latest_manifest(&self.store, source).await.expect("manifest").expect("a run")
    }

    /// Deletes a run's manifest, so that the run no longer counts as done.
    pub async fn forget_run(&self, m: &Manifest) {
        self.store.delete(&Manifest::key(&m.source, &m.run_id)).await.expect("delete manifest");
    }

    pub async fn part(&self, key: &str) -> Vec<u8> {
        self.store.get(key).await.expect("get").expect("part exists")
    }

    pub async fn query(&self, sql: &str) -> Result<QueryResult, WarehouseError> {
        self.warehouse.query(&Query::new(sql)).await
    }

    pub async fn rows(&self, table: Table) -> Vec<Vec<Value>> {
        self.warehouse.query(&Query::new(table.sql())).await.expect("query").rows
    }

    /// The latest quarantine file of `table`, one JSON object per bad row.
    pub async fn quarantine(&self, table: &str) -> Vec<serde_json::Value> {
        let keys = self.store.list(&format!("quarantine/{table}/")).await.expect("list");
        let Some(key) = keys.last() else { return Vec::new() };
        let bytes = self.store.get(key).await.expect("get").unwrap_or_default();
        String::from_utf8_lossy(&bytes).lines().map(|l| serde_json::from_str(l).expect("json line")).collect()
    }

    /// "source/table" → high-water mark.
    pub async fn watermarks(&self) -> BTreeMap<String, Option<DateTime<Utc>>> {
        self.warehouse
            .watermarks()
            .await
            .expect("watermarks")
            .into_iter()
            .map(|w| (format!("{}/{}", w.source, w.table), w.high_water))
            .collect()
    }

    /// Every table and the bookkeeping, to compare before and after a run.
    pub async fn snapshot(&self) -> Vec<Vec<Vec<Value>>> {
        let mut out = Vec::new();
        for t in Table::ALL {
            out.push(self.rows(t).await);
        }
        for sql in ["SELECT * FROM tidemark_watermarks ORDER BY 1, 2", "SELECT * FROM tidemark_loads ORDER BY 1, 3, 4"]
        {
            out.push(self.warehouse.query(&Query::new(sql)).await.expect("bookkeeping").rows);
        }
        out
    }

    /// The second day at the shop: an order refunded, two new orders, a customer moved
    /// and a new one, the catalogue re-exported, carts and log lines appended.
    pub fn change_sources(&self) {
        psql(
            "UPDATE shop_orders SET status = 'refunded', updated_at = '2026-11-25 10:00:00+00' WHERE id = 5; \
             INSERT INTO shop_orders VALUES \
             (11, 2, 'SKU-1', 2, 39.98, 'EUR', 'paid', 'US', '2026-11-25 08:10:00+00', '2026-11-25 08:11:00+00'), \
             (12, 6, 'SKU-3', 1, 6.00, 'GBP', 'paid', 'US', '2026-11-25 09:30:00+00', '2026-11-25 09:31:00+00');",
            false,
        );
        mariadb(
            Some(
                "UPDATE shop_customers SET country = 'CA', updated_at = '2026-11-25 08:00:00' WHERE id = 2; \
                 INSERT INTO shop_customers VALUES (6, 'frank@example.com', 'M', '2001-02-03', 'GB', '2026-11-25 08:00:00');",
            ),
            None,
        );
        std::fs::write(
            self.dir.join("products.csv"),
            "sku,name,category,price\nSKU-1,Mug,kitchen,19.99\n\"SKU-2\",\"Lamp, desk\",home,25.00\nSKU-3,Sticker pack,misc,5.50\n\
             SKU-4,\"Broken quote,misc,1.00\nSKU-5,Poster,misc,n/a\nSKU-6,Tote bag,misc,12.00\n",
        )
        .expect("write products");
        append(
            &self.dir.join("carts.jsonl"),
            "{\"_id\":\"cart-2\",\"customer\":{\"id\":2,\"region\":\"US\"},\"items\":[{\"sku\":\"SKU-2\",\"qty\":3}],\"total\":{\"amount\":75,\"currency\":\"USD\"},\"created_at\":\"2026-11-25T07:00:00Z\"}\n\
             {\"_id\":\"cart-5\",\"customer\":{\"id\":6,\"region\":\"EU\"},\"items\":[{\"sku\":\"SKU-6\"}],\"total\":{\"amount\":12,\"currency\":\"EUR\"},\"created_at\":\"2026-11-25T07:30:00Z\"}\n",
        );
        append(
            &self.dir.join("access.log"),
            "10.0.0.5 - - [24/Nov/2026:10:30:00 +0000] \"GET /cart HTTP/1.1\" 200 100 \"-\" \"Mozilla/5.0\"\n\
             10.0.0.6 - - [25/Nov/2026:08:00:00 +0000] \"GET /products/1 HTTP/1.1\" 200 512 \"-\" \"Mozilla/5.0\"\n",
        );
    }
}

fn append(path: &Path, text: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().append(true).open(path).expect("open for append");
    f.write_all(text.as_bytes()).expect("append");
}
