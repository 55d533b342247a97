//! The demo shop's primary sources: its orders database (PostgreSQL when one answers,
//! else a CSV export), a customer export and the web server's log, written the way a
//! real shop would produce them, and the pipeline file that pulls them.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::Utc;

use super::day::{Day, Order};

const ORDERS_TABLE: &str = "tidemark_demo_orders";

/// Where the orders live.
pub enum OrdersDb {
    Postgres { url: String, client: tokio_postgres::Client },
    Csv { path: PathBuf },
}

impl OrdersDb {
    /// PostgreSQL at `url` if it answers within two seconds (the table is created
    /// fresh), otherwise a CSV file in `dir`.
    pub async fn open(url: &str, dir: &Path) -> anyhow::Result<OrdersDb> {
        let connect = tokio_postgres::connect(url, tokio_postgres::NoTls);
        match tokio::time::timeout(std::time::Duration::from_secs(2), connect).await {
            Ok(Ok((client, connection))) => {
                tokio::spawn(async move {
                    if let Err(error) = connection.await {
                        tracing::warn!(%error, "demo PostgreSQL connection ended");
                    }
                });
                client
                    .batch_execute(&format!(
                        "DROP TABLE IF EXISTS {ORDERS_TABLE}; CREATE TABLE {ORDERS_TABLE} (order_id BIGINT PRIMARY KEY, \
                         customer_id BIGINT NOT NULL, region TEXT NOT NULL, amount_eur NUMERIC(12,2) NOT NULL, \
                         status TEXT NOT NULL, ordered_at TIMESTAMP NOT NULL, updated_at TIMESTAMP NOT NULL)"
                    ))
                    .await
                    .with_context(|| format!("creating {ORDERS_TABLE} in {url}"))?;
                tracing::info!(table = ORDERS_TABLE, "demo orders go to PostgreSQL");
                Ok(OrdersDb::Postgres { url: url.to_owned(), client })
            }
            Ok(Err(error)) => {
                tracing::info!(%error, "PostgreSQL not reachable; demo orders go to a CSV export");
                Self::csv(dir)
            }
            Err(_) => {
                tracing::info!("PostgreSQL did not answer in 2 s; demo orders go to a CSV export");
                Self::csv(dir)
            }
        }
    }

    fn csv(dir: &Path) -> anyhow::Result<OrdersDb> {
        let path = dir.join("orders.csv");
        std::fs::write(&path, "order_id,customer_id,region,amount_eur,status,ordered_at,updated_at\n")?;
        Ok(OrdersDb::Csv { path })
    }

    pub fn describe(&self) -> String {
        match self {
            OrdersDb::Postgres { url, .. } => format!("PostgreSQL table {ORDERS_TABLE} ({url})"),
            OrdersDb::Csv { path } => format!("CSV export {}", path.display()),
        }
    }

    /// The shop records these orders (as its checkout and fulfilment would).
    pub async fn insert<'o>(&self, orders: impl Iterator<Item = &'o Order>) -> anyhow::Result<usize> {
        let now = Utc::now().naive_utc();
        let rows: Vec<&Order> = orders.collect();
        let status = |o: &Order| if o.cancelled { "cancelled" } else { "paid" };
        match self {
            OrdersDb::Postgres { client, .. } => {
                for chunk in rows.chunks(500) {
                    let values: Vec<String> = chunk
                        .iter()
                        .map(|o| {
                            format!(
                                "({}, {}, '{}', {}.{:02}, '{}', '{}', '{}')",
                                o.id,
                                o.customer,
                                o.region,
                                o.cents / 100,
                                o.cents % 100,
                                status(o),
                                o.at.naive_utc(),
                                now
                            )
                        })
                        .collect();
                    client
                        .batch_execute(&format!("INSERT INTO {ORDERS_TABLE} VALUES {}", values.join(", ")))
                        .await
                        .context("inserting demo orders")?;
                }
            }
            OrdersDb::Csv { path } => {
                let mut file = std::fs::OpenOptions::new().append(true).open(path)?;
                for o in &rows {
                    writeln!(
                        file,
                        "{},{},{},{}.{:02},{},{},{}",
                        o.id,
                        o.customer,
                        o.region,
                        o.cents / 100,
                        o.cents % 100,
                        status(o),
                        o.at.format("%Y-%m-%d %H:%M:%S%.3f"),
                        now.format("%Y-%m-%d %H:%M:%S%.3f")
                    )?;
                }
                file.sync_all()?;
            }
        }
        Ok(rows.len())
    }

    /// The `[[source]]` entry for the orders.
    fn source(&self) -> String {
        match self {
            OrdersDb::Postgres { url, .. } => format!(
                "[[source]]\nname   = \"orders\"\nkind   = \"postgres\"\nurl    = \"{url}\"\n\
                 query  = \"SELECT order_id, customer_id, region, amount_eur, status, ordered_at, updated_at FROM {ORDERS_TABLE}\"\n\
                 cursor = \"updated_at\"\nkey    = [\"order_id\"]\n"
            ),
            OrdersDb::Csv { .. } => "[[source]]\nname = \"orders\"\nkind = \"csv\"\npath = \"orders.csv\"\n".to_owned(),
        }
    }
}

impl OrdersDb {
    /// The compacted real-time table. Purchases whose order batch already has are
    /// dropped (batch is more reliable); the join key must have the orders source's
    /// type, a number from PostgreSQL and text from the CSV export.
    fn site_events(&self) -> String {
        let to_source_type = match self {
            OrdersDb::Postgres { .. } => "[[table.rule]]\ncast = { order_id = \"bigint\" }\n",
            OrdersDb::Csv { .. } => "",
        };
        format!("{SITE_EVENTS}{to_source_type}{SITE_EVENT_RULES}")
    }
}

/// Writes customers.csv, an empty access.log, three weeks of page-view beacons before
/// the day and tidemark.toml into `dir`.
pub fn write_files(dir: &Path, day: &Day, seed: u64, orders: &OrdersDb) -> anyhow::Result<PathBuf> {
    let mut customers = String::from("customer_id,name,region\n");
    for c in &day.customers {
        customers.push_str(&format!("{},{},{}\n", c.id, c.name, c.region));
    }
    std::fs::write(dir.join("customers.csv"), customers)?;
    std::fs::write(dir.join("access.log"), "")?;
    std::fs::write(dir.join("beacon_history.csv"), day.beacon_history(seed))?;
    let pipeline = dir.join("tidemark.toml");
    std::fs::write(&pipeline, format!("{}\n{PIPELINE}\n{}", orders.source(), orders.site_events()))?;
    Ok(pipeline)
}

pub fn append_log(dir: &Path, lines: &str) -> anyhow::Result<()> {
    let mut file = std::fs::OpenOptions::new().append(true).open(dir.join("access.log"))?;
    file.write_all(lines.as_bytes())?;
    Ok(file.sync_all()?)
}

/// Everything but the orders source, which depends on where the orders live.
const PIPELINE: &str = r#"
[schedule]
# The demo runs analyze itself, as of 17:20 on its day; the clock's quarter hours would
# analyze today, which has no traffic. Once a year keeps the schedule out of the way.
analyze = "0 0 0 1 1 *"

[[source]]
name = "beacon_history"
kind = "csv"
path = "beacon_history.csv"

[[table]]
name       = "beacon_history"
source     = "beacon_history"
event_time = "occurred_at"
load       = "append"
columns = [
  { name = "occurred_at", type = "timestamp" },
  { name = "region",      type = "varchar" },
]
[[source]]
name = "customers"
kind = "csv"
path = "customers.csv"
mode = "snapshot"
key  = ["customer_id"]

[[source]]
name = "access"
kind = "weblog"
path = "access.log"

[[table]]
name       = "orders"
source     = "orders"
key        = ["order_id"]
sort_key   = ["ordered_at"]
event_time = "ordered_at"
load       = "merge"
columns = [
  { name = "order_id",    type = "varchar" },
  { name = "customer_id", type = "bigint" },
  { name = "customer",    type = "varchar" },
  { name = "region",      type = "varchar" },
  { name = "amount_eur",  type = "decimal(12,2)" },
  { name = "status",      type = "varchar" },
  { name = "ordered_at",  type = "timestamp" },
  { name = "order_hour",  type = "integer" },
]
[[table.rule]]
cast = { customer_id = "varchar" }   # the database's number meets the export's text
[[table.rule]]
join = { source = "customers", kind = "left", on = { customer_id = "customer_id" }, columns = ["name"] }
[[table.rule]]
rename = { name = "customer" }
[[table.rule]]
derive = { column = "order_hour", expr = "EXTRACT(HOUR FROM ordered_at)" }

[[table]]
name       = "page_views"
source     = "access"
event_time = "viewed_at"
load       = "append"
columns = [
  { name = "viewed_at", type = "timestamp" },
  { name = "path",      type = "varchar" },
  { name = "status",    type = "integer" },
  { name = "client",    type = "varchar" },
]
[[table.rule]]
discard = "method <> 'GET'"
[[table.rule]]
rename = { time = "viewed_at", remote_addr = "client" }

[[report]]
name  = "sales_by_region"
title = "Sales volume by region"
unit  = "EUR"
noun  = "orders"
batch    = { table = "orders", time = "ordered_at", value = "amount_eur", key = "order_id", filter = "status <> 'cancelled'", by = { region = "region" } }
realtime = { event_type = "purchase", value = "amount", key = "order_id", filter = { currency = "EUR" }, by = { region = "region" } }

[[report]]
name    = "page_views"
title   = "Page views"
measure = "count"
noun    = "page views"
batch    = { table = "page_views", time = "viewed_at", filter = "status < 400" }
realtime = { event_type = "page_view" }

[[report]]
name    = "page_view_beacons"
title   = "Page-view beacons by region"
measure = "count"
noun    = "page views"
batch    = { table = "beacon_history", time = "occurred_at", by = { region = "region" } }
realtime = { event_type = "page_view", by = { region = "region" } }

[[analysis]]
name         = "beacon_watch"
kind         = "forecast"
report       = "page_view_beacons"
by           = "region"
history_days = 21
horizon      = 12

[[analysis]]
name  = "orders_profile"
kind  = "profile"
table = "orders"

[[analysis]]
name   = "customer_value"
kind   = "segments"
table  = "orders"
entity = "customer_id"
rfm    = { time = "ordered_at", value = "amount_eur" }
k      = 3
"#;

/// The real-time events of a closed day, compacted into the warehouse by realtime-compact.
const SITE_EVENTS: &str = r#"
[[source]]
name   = "site"
kind   = "realtime"
fields = ["properties.url", "keys.customer_id"]

[[table]]
name             = "site_events"
source           = "site"
key              = ["source", "event_id"]   # an event is one event by source and id
event_time       = "occurred_at"
load             = "overwrite"
overwrite_period = "day"
columns = [
  { name = "source",      type = "varchar" },
  { name = "event_id",    type = "varchar" },
  { name = "event_type",  type = "varchar" },
  { name = "occurred_at", type = "timestamp" },
  { name = "visitor",     type = "varchar" },
  { name = "customer_id", type = "varchar" },
  { name = "order_id",    type = "varchar" },
  { name = "region",      type = "varchar" },
  { name = "amount_eur",  type = "decimal(12,2)" },
  { name = "url",         type = "varchar" },
]
"#;

const SITE_EVENT_RULES: &str = r#"[[table.rule]]
join = { source = "orders", kind = "left", on = { order_id = "order_id" }, columns = ["status"] }
[[table.rule]]
discard = "status IS NOT NULL"   # batch has this order, and batch is more reliable
[[table.rule]]
cast = { order_id = "varchar" }
[[table.rule]]
rename = { anonymous_id = "visitor", "keys.customer_id" = "customer_id", amount = "amount_eur", "properties.url" = "url" }
"#;
