//! A realistic e-commerce day, generated from a seed: customers, orders spread over the
//! day's traffic curve, the page views around them, and the ways the two sides of the
//! pipeline disagree in real life (blocked beacons, cancelled orders, amounts corrected
//! after checkout).

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

pub const REGIONS: [(&str, u32); 3] = [("EU", 45), ("US", 35), ("APAC", 20)];

/// The hour (UTC) of the demo day in which one region's page-view beacons fail (a
/// broken tag release, say): analyze should find it.
pub const BROKEN_HOUR: u32 = 14;
pub const BROKEN_REGION: &str = "EU";

/// Days of page-view history before the demo day, for the forecasts.
pub const HISTORY_DAYS: i64 = 21;

/// Relative traffic per hour of the day (UTC): quiet nights, a lunch bump, an evening peak.
const HOURLY: [u32; 24] = [3, 2, 2, 2, 2, 3, 5, 8, 10, 11, 12, 13, 14, 13, 12, 12, 13, 15, 18, 20, 19, 15, 9, 5];

#[derive(Debug, Clone)]
pub struct Customer {
    pub id: u64,
    pub name: String,
    pub region: &'static str,
}

#[derive(Debug, Clone)]
pub struct Order {
    pub id: u64,
    pub customer: u64,
    pub region: &'static str,
    pub at: DateTime<Utc>,
    /// What the shop's database says (cents).
    pub cents: i64,
    /// What the browser reported at checkout (cents); differs after a correction.
    pub beacon_cents: i64,
    pub cancelled: bool,
    /// The purchase beacon never arrived (ad blocker, closed tab).
    pub beacon_lost: bool,
}

#[derive(Debug, Clone)]
pub struct PageView {
    pub at: DateTime<Utc>,
    pub visitor: u64,
    pub region: &'static str,
    pub path: String,
    pub beacon_lost: bool,
}

pub struct Day {
    pub start: DateTime<Utc>,
    pub customers: Vec<Customer>,
    pub orders: Vec<Order>,
    pub page_views: Vec<PageView>,
}

fn region(rng: &mut fastrand::Rng) -> &'static str {
    let mut pick = rng.u32(0..100);
    for (name, share) in REGIONS {
        if pick < share {
            return name;
        }
        pick -= share;
    }
    REGIONS[0].0
}

fn time_in_day(rng: &mut fastrand::Rng, start: DateTime<Utc>) -> DateTime<Utc> {
    let total: u32 = HOURLY.iter().sum();
    let mut pick = rng.u32(0..total);
    let mut hour = 0;
    for (h, weight) in HOURLY.iter().enumerate() {
        if pick < *weight {
            hour = h as i64;
            break;
        }
        pick -= weight;
    }
    start + Duration::hours(hour) + Duration::milliseconds(rng.i64(0..3_600_000))
}

impl Day {
    pub fn generate(start: DateTime<Utc>, orders: usize, seed: u64) -> Day {
        let mut rng = fastrand::Rng::with_seed(seed);
        let first = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Margaret", "Linus", "Radia", "Donald"];
        let last = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Thompson", "Hamilton", "Torvalds"];
        let customers: Vec<Customer> = (1..=(orders as u64 / 3).max(10))
            .map(|id| Customer {
                id,
                name: format!("{} {}", first[rng.usize(0..first.len())], last[rng.usize(0..last.len())]),
                region: region(&mut rng),
            })
            .collect();
        let mut order_list: Vec<Order> = (0..orders)
            .map(|n| {
                let customer = &customers[rng.usize(0..customers.len())];
                // A long tail of basket sizes: most orders 20–80 EUR, a few large ones.
                let cents =
                    1500 + i64::from(rng.u32(0..6000)) + if rng.u8(0..20) == 0 { rng.i64(10_000..40_000) } else { 0 };
                let corrected = rng.u16(0..200) == 0;
                Order {
                    id: 100_000 + n as u64,
                    customer: customer.id,
                    region: customer.region,
                    at: time_in_day(&mut rng, start),
                    cents,
                    beacon_cents: if corrected { cents + 500 } else { cents },
                    cancelled: rng.u16(0..70) == 0,
                    beacon_lost: rng.u16(0..33) == 0,
                }
            })
            .collect();
        order_list.sort_by_key(|o| o.at);
        let products = ["/", "/products/1", "/products/2", "/products/7", "/cart", "/checkout", "/search?q=shoes"];
        let broken = start + Duration::hours(BROKEN_HOUR.into())..start + Duration::hours(i64::from(BROKEN_HOUR) + 1);
        let mut page_views: Vec<PageView> = (0..orders * 5)
            .map(|_| {
                let (at, region) = (time_in_day(&mut rng, start), region(&mut rng));
                let lost = rng.u8(0..12) == 0 || (region == BROKEN_REGION && broken.contains(&at));
                let path = products[rng.usize(0..products.len())].to_owned();
                PageView { at, visitor: rng.u64(1..(orders as u64 * 2).max(2)), region, path, beacon_lost: lost }
            })
            .collect();
        page_views.sort_by_key(|p| p.at);
        Day { start, customers, orders: order_list, page_views }
    }

    /// The beacons a browser would have sent, in time order.
    pub fn beacons(&self) -> Vec<(DateTime<Utc>, Value)> {
        let mut out: Vec<(DateTime<Utc>, Value)> = self
            .page_views
            .iter()
            .filter(|p| !p.beacon_lost)
            .map(|p| {
                (
                    p.at,
                    json!({
                        "event_type": "page_view",
                        "anonymous_id": format!("visitor-{}", p.visitor),
                        "occurred_at": p.at.to_rfc3339(),
                        "region": p.region,
                        "properties": {"url": p.path},
                    }),
                )
            })
            .chain(self.orders.iter().filter(|o| !o.beacon_lost).map(|o| {
                (
                    o.at,
                    json!({
                        "event_id": format!("purchase-{}", o.id),
                        "event_type": "purchase",
                        "user_id": format!("customer-{}", o.customer),
                        "order_id": o.id.to_string(),
                        "keys": {"customer_id": o.customer.to_string()},
                        "occurred_at": o.at.to_rfc3339(),
                        "region": o.region,
                        "amount": o.beacon_cents as f64 / 100.0,
                        "currency": "EUR",
                    }),
                )
            }))
            .collect();
        out.sort_by_key(|(at, _)| *at);
        out
    }

    /// The page-view beacons of the [`HISTORY_DAYS`] days before this one, as an earlier
    /// realtime-compact would have left them (`occurred_at,region`): the same traffic
    /// curve and regions, a beacon lost now and then, nothing broken.
    pub fn beacon_history(&self, seed: u64) -> String {
        let mut rng = fastrand::Rng::with_seed(seed ^ 0x5eed);
        let mut out = String::from("occurred_at,region\n");
        for back in (1..=HISTORY_DAYS).rev() {
            let day = self.start - Duration::days(back);
            for _ in 0..self.page_views.len() {
                let (at, region) = (time_in_day(&mut rng, day), region(&mut rng));
                if rng.u8(0..12) != 0 {
                    out.push_str(&format!("{},{region}\n", at.format("%Y-%m-%d %H:%M:%S%.3f")));
                }
            }
        }
        out
    }

    /// Combined-log-format lines of the web server for hours `[from, to)`.
    pub fn access_log(&self, from: u32, to: u32) -> String {
        let window = self.start + Duration::hours(from.into())..self.start + Duration::hours(to.into());
        self.page_views
            .iter()
            .filter(|p| window.contains(&p.at))
            .map(|p| {
                format!(
                    "10.{}.{}.{} - - [{}] \"GET {} HTTP/1.1\" 200 {} \"-\" \"Mozilla/5.0 (X11; Linux x86_64)\"\n",
                    p.visitor % 200,
                    (p.visitor / 7) % 250,
                    p.visitor % 250 + 1,
                    p.at.format("%d/%b/%Y:%H:%M:%S +0000"),
                    p.path,
                    2000 + p.visitor % 9000
                )
            })
            .collect()
    }

    /// Orders placed in hours `[from, to)`.
    pub fn orders_between(&self, from: u32, to: u32) -> impl Iterator<Item = &Order> {
        let window = self.start + Duration::hours(from.into())..self.start + Duration::hours(to.into());
        self.orders.iter().filter(move |o| window.contains(&o.at))
    }
}
