//! The reconcile job: for every report with a business key, every bucket batch covers
//! (up to the tidemark, back `lookback`) is compared with what real time saw in the
//! key-value store, and the results replace that window's rows in the warehouse.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::batch::Pipeline;
use crate::bucket::{HourBucket, Period};
use crate::clock::Clock;
use crate::event::{Event, EventType};
use crate::kv_key::KvLayout;
use crate::merge::read_bucket;
use crate::ports::kv::{KvError, KvStore};
use crate::ports::warehouse::{Step, Warehouse, WarehouseError};
use crate::report::{Measure, ReportDef, Tidemark};
use crate::search::fields::keyword_of;

use super::compare::{compare, BucketCheck, Fact};
use super::sql;

/// Keys matched this far outside the window on either side (clock skew between a
/// client and the order database).
const MATCH_SLACK: Duration = Duration::hours(1);

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error(transparent)]
    Warehouse(#[from] WarehouseError),
    #[error(transparent)]
    Kv(#[from] KvError),
    #[error("no report named {0:?} in the pipeline file")]
    UnknownReport(String),
}

#[derive(Debug, Clone, Serialize)]
pub struct ReconcileSummary {
    pub report: String,
    #[serde(with = "crate::event::millis_rfc3339::option")]
    pub from: Option<DateTime<Utc>>,
    #[serde(with = "crate::event::millis_rfc3339::option")]
    pub to: Option<DateTime<Utc>>,
    pub buckets: usize,
    pub disagreeing: usize,
    pub missing_in_realtime: u64,
    pub missing_in_batch: u64,
    pub mismatched: u64,
    /// The disagreeing buckets, one line each (all agree: one line saying so).
    pub lines: Vec<String>,
    pub note: String,
}

pub struct Reconciler<'a> {
    pub pipeline: &'a Pipeline,
    pub warehouse: &'a dyn Warehouse,
    pub kv: &'a dyn KvStore,
    pub layout: &'a KvLayout,
    pub clock: &'a dyn Clock,
    /// How far back from the tidemark buckets are checked.
    pub lookback: Duration,
}

impl Reconciler<'_> {
    pub async fn run(&self, only: Option<&str>) -> Result<Vec<ReconcileSummary>, ReconcileError> {
        if let Some(name) = only {
            if self.pipeline.report(name).is_none() {
                return Err(ReconcileError::UnknownReport(name.to_owned()));
            }
        }
        self.warehouse.execute(vec![Step::Sql(sql::ddl()), Step::Sql(sql::keys_ddl())]).await?;
        let watermarks = self.warehouse.watermarks().await?;
        let mut out = Vec::new();
        for def in self.pipeline.reports.iter().filter(|r| only.is_none_or(|name| r.name == name)) {
            if def.batch.key.is_none() || def.realtime.key.is_none() {
                continue;
            }
            out.push(self.report(def, &Tidemark::of(def, &watermarks)).await?);
        }
        Ok(out)
    }

    async fn report(&self, def: &ReportDef, mark: &Tidemark) -> Result<ReconcileSummary, ReconcileError> {
        let started = std::time::Instant::now();
        let mut summary = ReconcileSummary {
            report: def.name.clone(),
            from: None,
            to: None,
            buckets: 0,
            disagreeing: 0,
            missing_in_realtime: 0,
            missing_in_batch: 0,
            mismatched: 0,
            lines: Vec::new(),
            note: String::new(),
        };
        let Some(to) = mark.at else {
            summary.note = "no batch watermark yet: nothing to reconcile".into();
            return Ok(summary);
        };
        // Buckets of the coarser of the hour and the table's precision; the first one
        // whole, so a day-precision table's days are checked whole or not at all.
        let period = def.precision.map_or(Period::Hour, |p| p.max(Period::Hour));
        let from = period.floor(to - self.lookback);
        let dimension = def.dimensions().next();
        let batch_group = dimension.and_then(|d| def.batch.by.get(d)).map(String::as_str);
        let stmt = sql::batch_facts(def, batch_group, from - MATCH_SLACK, to + MATCH_SLACK);
        let batch = sql::read_facts(&self.warehouse.query(&stmt).await?.rows);
        let realtime = self.realtime_facts(def, dimension, from - MATCH_SLACK, to + MATCH_SLACK).await?;
        let checks = compare(&batch, &realtime, period, from, to);
        let noun = def.noun.as_deref().unwrap_or("rows");
        let unit = def.unit.as_deref().unwrap_or("");
        let lines: Vec<(BucketCheck, String)> = checks
            .into_iter()
            .map(|c| {
                let line = c.summary(dimension, noun, unit);
                (c, line)
            })
            .collect();
        let run_id = format!("reconcile:{}:{}", def.name, self.clock.now().format("%Y%m%dT%H%M%S"));
        self.warehouse.execute(sql::replace(&def.name, from, to, &lines, &run_id, self.clock.now())).await?;
        summary.from = Some(from);
        summary.to = Some(to);
        summary.buckets = lines.len();
        for (check, line) in &lines {
            summary.missing_in_realtime += check.missing_in_realtime.count;
            summary.missing_in_batch += check.missing_in_batch.count;
            summary.mismatched += check.mismatched.count;
            if !check.agrees() {
                summary.disagreeing += 1;
                summary.lines.push(line.clone());
            }
        }
        summary.note = format!(
            "{} buckets checked, {} disagree ({} batch rows, {} real-time events read in {:.1} s)",
            summary.buckets,
            summary.disagreeing,
            batch.len(),
            realtime.len(),
            started.elapsed().as_secs_f64()
        );
        Ok(summary)
    }

    /// The report's events from the key-value store, hour by hour, as facts.
    async fn realtime_facts(
        &self,
        def: &ReportDef,
        dimension: Option<&str>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Fact>, ReconcileError> {
        let side = &def.realtime;
        let event_type = side.event_type.as_deref().and_then(|t| t.parse::<EventType>().ok());
        let group_field = dimension.and_then(|d| side.by.get(d)).map(String::as_str);
        let key_field = side.key.as_deref().unwrap_or("order_id");
        let mut facts = Vec::new();
        let mut hour = HourBucket::of(from);
        while hour.start() < to {
            for item in read_bucket(self.kv, self.layout, hour).await? {
                // Only the stream-store consumer writes items, from validated events.
                let Ok(event) = Event::from_record_bytes(&item.value) else { continue };
                if event_type.is_some_and(|t| t != event.event_type)
                    || !side.filter.iter().all(|(field, value)| keyword_of(&event, field) == Some(value.as_str()))
                {
                    continue;
                }
                let Some(key) = keyword_of(&event, key_field) else { continue };
                let value = match def.measure {
                    Measure::Sum => event.amount.unwrap_or(0.0),
                    Measure::Count => 1.0,
                };
                facts.push(Fact {
                    key: key.to_owned(),
                    at: event.occurred_at,
                    group: group_field.and_then(|g| keyword_of(&event, g)).map(str::to_owned),
                    value,
                });
            }
            hour = HourBucket::of(hour.end());
        }
        Ok(facts)
    }
}
