//! Cells between tidemark's `Value` and DuckDB's.

use chrono::{DateTime, Datelike, NaiveDate};
use duckdb::types::{Decimal, TimeUnit, Value as Duck};
use tidemark_core::batch::{ColumnType, Value};

/// A cell for the appender, typed as the column is: money goes in as an exact decimal.
pub fn to_duck(v: &Value, ty: &ColumnType) -> Duck {
    match (v, ty) {
        (Value::Null, _) => Duck::Null,
        (Value::Float(f), ColumnType::Decimal { precision, scale }) => {
            let scaled = (f * 10f64.powi(i32::from(*scale))).round() as i128;
            Decimal::new(*precision, *scale, scaled).map_or(Duck::Double(*f), Duck::Decimal)
        }
        (Value::Int(i), ColumnType::Decimal { precision, scale }) => {
            Decimal::new(*precision, *scale, i128::from(*i) * 10i128.pow(u32::from(*scale)))
                .map_or(Duck::BigInt(*i), Duck::Decimal)
        }
        (Value::Bool(b), _) => Duck::Boolean(*b),
        (Value::Int(i), _) => Duck::BigInt(*i),
        (Value::Float(f), _) => Duck::Double(*f),
        (Value::Str(s), _) => Duck::Text(s.to_string()),
        (Value::Date(d), _) => Duck::Date32(days_since_epoch(*d)),
        (Value::Timestamp(t), _) => Duck::Timestamp(TimeUnit::Microsecond, t.timestamp_micros()),
    }
}

fn days_since_epoch(d: NaiveDate) -> i32 {
    d.num_days_from_ce() - NaiveDate::from_ymd_opt(1970, 1, 1).map_or(719_163, |e| e.num_days_from_ce())
}

pub fn from_duck(v: Duck) -> Value {
    match v {
        Duck::Null => Value::Null,
        Duck::Boolean(b) => Value::Bool(b),
        Duck::TinyInt(i) => Value::Int(i.into()),
        Duck::SmallInt(i) => Value::Int(i.into()),
        Duck::Int(i) => Value::Int(i.into()),
        Duck::BigInt(i) => Value::Int(i),
        Duck::HugeInt(i) => i64::try_from(i).map_or(Value::Float(i as f64), Value::Int),
        Duck::UTinyInt(i) => Value::Int(i.into()),
        Duck::USmallInt(i) => Value::Int(i.into()),
        Duck::UInt(i) => Value::Int(i.into()),
        Duck::UBigInt(i) => i64::try_from(i).map_or(Value::Float(i as f64), Value::Int),
        Duck::Float(f) => Value::Float(f.into()),
        Duck::Double(f) => Value::Float(f),
        Duck::Decimal(d) => d.to_string().parse().map_or(Value::Null, Value::Float),
        Duck::Timestamp(unit, n) => {
            let micros = match unit {
                TimeUnit::Second => n.saturating_mul(1_000_000),
                TimeUnit::Millisecond => n.saturating_mul(1_000),
                TimeUnit::Microsecond => n,
                TimeUnit::Nanosecond => n / 1_000,
            };
            DateTime::from_timestamp_micros(micros).map_or(Value::Null, Value::Timestamp)
        }
        Duck::Date32(days) => NaiveDate::from_ymd_opt(1970, 1, 1)
            .and_then(|e| e.checked_add_signed(chrono::Duration::days(days.into())))
            .map_or(Value::Null, Value::Date),
        Duck::Text(s) | Duck::Enum(s) => Value::str(s),
        other => Value::str(format!("{other:?}")),
    }
}
