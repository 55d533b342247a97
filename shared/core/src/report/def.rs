//! A report as the pipeline file declares it (`[[report]]`): one measure, read from a
//! warehouse table on the batch side and from the event index on the real-time side,
//! with the same dimensions named on both.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::batch::pipeline::TableDef;
use crate::batch::rules::{expr, render};
use crate::batch::schema::Schema;
use crate::batch::value::ColumnType;
use crate::bucket::{Interval, Period};
use crate::search::fields::{field_kind, FieldKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Measure {
    /// Sum of `value` (both sides need one).
    #[default]
    Sum,
    /// Number of rows / events.
    Count,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportDef {
    pub name: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub measure: Measure,
    /// What the measure is in, for people (`EUR`).
    pub unit: Option<String>,
    /// What one row is, for people (`orders`).
    pub noun: Option<String>,
    /// The period a batch load delivers whole: the tidemark is the end of the `grain`
    /// period holding the last loaded event time (see `tidemark.rs`).
    #[serde(default = "default_grain")]
    pub grain: Interval,
    pub batch: BatchSide,
    pub realtime: RealtimeSide,
    /// The batch table's event-time precision ([`TableDef::event_time_precision`]),
    /// filled in by `Pipeline::parse`; `None` (instants) for a report parsed alone.
    #[serde(skip)]
    pub precision: Option<Period>,
}

fn default_grain() -> Interval {
    Interval::Hour
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchSide {
    pub table: String,
    /// The table's `event_time` column (a timestamp or a date): its watermark sets the
    /// tidemark.
    pub time: String,
    /// Column summed by `measure = "sum"`.
    pub value: Option<String>,
    /// Business key, compared with the real-time key by reconciliation.
    pub key: Option<String>,
    /// A SQL condition on the table's columns, e.g. `status <> 'cancelled'`.
    pub filter: Option<String>,
    /// `filter` rendered from its parsed expression: the SQL that runs. Filled in by
    /// `Pipeline::parse` ([`ReportDef::validate`]), so a report that declares a filter
    /// and was not checked against its table has none to run.
    #[serde(skip)]
    pub filter_sql: Option<String>,
    /// Dimension name → column.
    #[serde(default)]
    pub by: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RealtimeSide {
    pub event_type: Option<String>,
    /// Number field summed by `measure = "sum"` (`amount`).
    pub value: Option<String>,
    pub key: Option<String>,
    /// Exact matches on keyword fields, e.g. `{ currency = "EUR" }`.
    #[serde(default)]
    pub filter: BTreeMap<String, String>,
    /// Dimension name → event field.
    #[serde(default)]
    pub by: BTreeMap<String, String>,
}

impl ReportDef {
    pub fn title(&self) -> &str {
        if self.title.is_empty() {
            &self.name
        } else {
            &self.title
        }
    }

    pub fn dimensions(&self) -> impl Iterator<Item = &str> {
        self.batch.by.keys().map(String::as_str)
    }

    /// Checks the report against the declared tables; errors name the side and field.
    /// Returns the filter as the SQL that runs (see [`BatchSide::filter_sql`]).
    pub fn validate(&self, tables: &[TableDef]) -> Result<Option<String>, String> {
        let table = tables
            .iter()
            .find(|t| t.name == self.batch.table)
            .ok_or_else(|| format!("batch.table {:?} is not a declared table", self.batch.table))?;
        let column_type = |what: &str, name: &str| {
            table.column(name).map(|c| c.ty).ok_or_else(|| format!("{what} {name:?} is not a column of {}", table.name))
        };
        match column_type("batch.time", &self.batch.time)? {
            ColumnType::Timestamp | ColumnType::Date => {}
            other => return Err(format!("batch.time {:?} is {}, not a timestamp", self.batch.time, other.name())),
        }
        if table.event_time.as_deref() != Some(self.batch.time.as_str()) {
            return Err(format!(
                "batch.time {:?} must be the event_time of table {} (its watermark sets the tidemark)",
                self.batch.time, table.name
            ));
        }
        if let Some(key) = &self.batch.key {
            column_type("batch.key", key)?;
        }
        for column in self.batch.by.values() {
            column_type("batch.by", column)?;
        }
        let filter_sql = match &self.batch.filter {
            Some(filter) => {
                let schema = Schema::new(table.columns.iter().map(|c| c.name.as_str()));
                let compiled = expr::compile(filter, &schema).map_err(|e| format!("batch.filter: {e}"))?;
                Some(render::to_sql(&compiled, &schema).map_err(|e| format!("batch.filter: {e}"))?)
            }
            None => None,
        };
        let realtime_field = |what: &str, name: &str, kind: FieldKind| match field_kind(name) {
            Some(k) if k == kind => Ok(()),
            Some(_) => Err(format!("{what} {name:?} is not a {kind:?} field of events")),
            None => Err(format!("{what} {name:?} is not an indexed event field")),
        };
        for field in self.realtime.filter.keys().chain(self.realtime.by.values()).chain(&self.realtime.key) {
            realtime_field("realtime field", field, FieldKind::Keyword)?;
        }
        if let Some(event_type) = &self.realtime.event_type {
            event_type
                .parse::<crate::event::EventType>()
                .map_err(|()| format!("realtime.event_type {event_type:?} is not an event type"))?;
        }
        match self.measure {
            Measure::Sum => {
                let value = self.batch.value.as_deref().ok_or("measure = \"sum\" needs batch.value")?;
                match column_type("batch.value", value)? {
                    ColumnType::Integer | ColumnType::BigInt | ColumnType::Double | ColumnType::Decimal { .. } => {}
                    other => return Err(format!("batch.value {value:?} is {}, not a number", other.name())),
                }
                let value = self.realtime.value.as_deref().ok_or("measure = \"sum\" needs realtime.value")?;
                realtime_field("realtime.value", value, FieldKind::Number)?;
            }
            Measure::Count => {}
        }
        let batch_dims: Vec<&String> = self.batch.by.keys().collect();
        let realtime_dims: Vec<&String> = self.realtime.by.keys().collect();
        if batch_dims != realtime_dims {
            return Err(format!(
                "batch.by {batch_dims:?} and realtime.by {realtime_dims:?} must name the same dimensions"
            ));
        }
        if self.batch.key.is_some() != self.realtime.key.is_some() {
            return Err("batch.key and realtime.key go together (reconciliation compares them)".into());
        }
        Ok(filter_sql)
    }
}
