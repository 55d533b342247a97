//! The rules as written in the pipeline file, one `[[table.rule]]` each, applied in order.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::super::value::{ColumnType, Value};
use super::error::RuleError;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum RuleDef {
    /// Drop rows for which the SQL condition is true: `discard = "status = 'test'"`.
    Discard(String),
    /// Drop fields: `drop = ["internal_note"]`.
    Drop(Vec<String>),
    /// Rename fields: `rename = { id = "order_id" }`.
    Rename(BTreeMap<String, String>),
    /// Quarantine rows where any of these fields is missing or empty.
    Require(Vec<String>),
    /// Map coded values: `translate = { column = "gender", map = { F = 1, M = 2 } }`.
    Translate(TranslateDef),
    /// Cast fields: `cast = { amount = "decimal(12,2)", ordered_at = "timestamp" }`.
    Cast(BTreeMap<String, ColumnType>),
    /// Read zone-less timestamps in a time zone, giving UTC: `timezone = { column = "t", zone = "Europe/Berlin" }`.
    Timezone(TimezoneDef),
    /// Convert money into one currency by fixed rates.
    Currency(CurrencyDef),
    /// A new (or replaced) column from a SQL expression: `derive = { column = "day", expr = "date_trunc('day', t)" }`.
    Derive(DeriveDef),
    /// Keep one row per key: the last by `order_by` (or by input order).
    Dedupe(DedupeDef),
    /// Sort rows: `sort = ["ordered_at", "order_id desc"]`.
    Sort(Vec<String>),
    /// Join another source by key, adding its columns.
    Join(JoinDef),
    /// Group and aggregate: `aggregate = { group_by = ["day"], measures = { revenue = "sum(amount)" } }`.
    Aggregate(AggregateDef),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TranslateDef {
    pub column: String,
    pub map: BTreeMap<String, toml::Value>,
    /// What an unmapped value becomes: `keep` it (default), `null`, or `error` (quarantine).
    #[serde(default)]
    pub otherwise: Otherwise,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Otherwise {
    #[default]
    Keep,
    Null,
    Error,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimezoneDef {
    pub column: String,
    pub zone: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CurrencyDef {
    pub amount: String,
    pub currency: String,
    pub to: String,
    /// Units of `to` per unit of each currency: `{ USD = 0.92 }` when `to = "EUR"`.
    pub rates: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeriveDef {
    pub column: String,
    pub expr: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DedupeDef {
    pub key: Vec<String>,
    pub order_by: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JoinKind {
    Inner,
    #[default]
    Left,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinDef {
    pub source: String,
    #[serde(default)]
    pub kind: JoinKind,
    /// Left column = right column.
    pub on: BTreeMap<String, String>,
    /// Right columns to add; a right column named like a left one gets `prefix`.
    pub columns: Vec<String>,
    #[serde(default)]
    pub prefix: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AggregateDef {
    pub group_by: Vec<String>,
    /// Output column = `sum(x)`, `count(*)`, `count(x)`, `min(x)`, `max(x)`, `avg(x)`.
    pub measures: BTreeMap<String, String>,
}

impl RuleDef {
    pub fn kind(&self) -> &'static str {
        match self {
            RuleDef::Discard(_) => "discard",
            RuleDef::Drop(_) => "drop",
            RuleDef::Rename(_) => "rename",
            RuleDef::Require(_) => "require",
            RuleDef::Translate(_) => "translate",
            RuleDef::Cast(_) => "cast",
            RuleDef::Timezone(_) => "timezone",
            RuleDef::Currency(_) => "currency",
            RuleDef::Derive(_) => "derive",
            RuleDef::Dedupe(_) => "dedupe",
            RuleDef::Sort(_) => "sort",
            RuleDef::Join(_) => "join",
            RuleDef::Aggregate(_) => "aggregate",
        }
    }

    /// Checks what can be checked without the data's columns.
    pub fn check(&self) -> Result<(), RuleError> {
        match self {
            RuleDef::Timezone(t) => {
                t.zone.parse::<chrono_tz::Tz>().map(|_| ()).map_err(|_| RuleError::UnknownZone(t.zone.clone()))
            }
            RuleDef::Currency(c) if c.rates.values().any(|r| !r.is_finite() || *r <= 0.0) => {
                Err(RuleError::Requires("every rate must be a positive number"))
            }
            RuleDef::Dedupe(d) if d.key.is_empty() => Err(RuleError::Requires("dedupe needs a key")),
            RuleDef::Join(j) if j.on.is_empty() => Err(RuleError::Requires("join needs at least one `on` pair")),
            RuleDef::Aggregate(a) => {
                for (name, m) in &a.measures {
                    super::aggregate::parse_measure(m).map_err(|e| e.at(format!("measure {name}")))?;
                }
                Ok(())
            }
            RuleDef::Sort(keys) => keys.iter().try_for_each(|k| super::sort::parse_key(k).map(|_| ())),
            _ => Ok(()),
        }
    }
}

/// A mapped value from the pipeline file.
pub fn toml_to_value(v: &toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::str(s.as_str()),
        toml::Value::Integer(i) => Value::Int(*i),
        toml::Value::Float(f) => Value::Float(*f),
        toml::Value::Boolean(b) => Value::Bool(*b),
        other => Value::str(other.to_string()),
    }
}
