//! What the workspace's test binaries share.

/// The pipeline of the hostile-input suites (local stack and the Redshift SQL on
/// PostgreSQL): orders from a CSV export, a report by region whose filter holds a
/// quoted literal.
pub const HOSTILE_PIPELINE: &str = r#"
[[source]]
name = "orders"
kind = "csv"
path = "orders.csv"

[[table]]
name       = "orders"
source     = "orders"
key        = ["order_id"]
event_time = "ordered_at"
load       = "merge"
columns = [
  { name = "order_id",   type = "varchar" },
  { name = "region",     type = "varchar" },
  { name = "amount_eur", type = "decimal(12,2)" },
  { name = "ordered_at", type = "timestamp" },
]

[[report]]
name     = "sales"
batch    = { table = "orders", time = "ordered_at", value = "amount_eur", key = "order_id", filter = "region <> 'it''s not this'", by = { region = "region" } }
realtime = { event_type = "purchase", value = "amount", key = "order_id", by = { region = "region" } }
"#;

/// The order id a hostile text gets: the text itself behind a prefix, where that fits
/// the 256-byte limit.
pub fn hostile_order_id(i: usize, text: &str) -> String {
    if text.len() < 200 {
        format!("o{i}:{text}")
    } else {
        format!("o{i}")
    }
}

/// A CSV field, quoted the RFC 4180 way (quotes doubled; newlines kept inside quotes).
pub fn csv_field(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// Orders for [`HOSTILE_PIPELINE`]'s `orders.csv`: thirty good ones and one whose amount
/// is not money (3 % of the rows, under the table's 5 %): the load takes thirty and
/// quarantines line 32.
pub fn orders_with_one_bad_row() -> String {
    let mut csv = String::from("order_id,region,amount_eur,ordered_at\n");
    for n in 1..=30 {
        csv.push_str(&format!("o{n},EU,{n}.50,2026-12-01 10:{n:02}:00\n"));
    }
    csv.push_str("o31,US,not money,2026-12-01 11:00:00\n");
    csv
}
