//! One cell of a batch row, and the warehouse column types it is cast to.
//!
//! Rows from every source (SQL rows as JSON lines, CSV fields, log lines) become
//! `Vec<Value>` against a column list, so the rules work on indexes, not names.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// A cell. Money is a `Float` inside the rules and is rounded to the column's
/// scale when it is cast to a `decimal(p,s)` column, so the warehouse stores exact
/// decimals.
#[derive(Debug, Clone, Default)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Box<str>),
    Date(NaiveDate),
    Timestamp(DateTime<Utc>),
}

impl Value {
    pub fn str(s: impl Into<Box<str>>) -> Self {
        Value::Str(s.into())
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The value as a float, for arithmetic and aggregates.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            Value::Str(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// A JSON value with the type kept (timestamps as RFC 3339 text).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => (*b).into(),
            Value::Int(i) => (*i).into(),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(serde_json::Value::Null, Into::into),
            Value::Str(s) => s.as_ref().into(),
            other => other.to_string().into(),
        }
    }

    /// From a JSON scalar; nested objects and arrays stay as their JSON text.
    pub fn from_json(v: &serde_json::Value) -> Self {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => n.as_f64().map_or(Value::Null, Value::Float),
            },
            serde_json::Value::String(s) => Value::str(s.as_str()),
            other => Value::str(other.to_string()),
        }
    }

    /// A total order for sorting and ranges: Null first, then by kind, numbers by value.
    pub fn total_cmp(&self, other: &Value) -> Ordering {
        use Value::*;
        match (self, other) {
            (Int(a), Int(b)) => a.cmp(b),
            (Int(_) | Float(_), Int(_) | Float(_)) => {
                self.as_f64().unwrap_or(0.0).total_cmp(&other.as_f64().unwrap_or(0.0))
            }
            (Str(a), Str(b)) => a.cmp(b),
            (Bool(a), Bool(b)) => a.cmp(b),
            (Date(a), Date(b)) => a.cmp(b),
            (Timestamp(a), Timestamp(b)) => a.cmp(b),
            (Date(a), Timestamp(b)) => midnight(*a).cmp(b),
            (Timestamp(a), Date(b)) => a.cmp(&midnight(*b)),
            _ => self.rank().cmp(&other.rank()),
        }
    }

    fn rank(&self) -> u8 {
        match self {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Int(_) | Value::Float(_) => 2,
            Value::Str(_) => 3,
            Value::Date(_) | Value::Timestamp(_) => 4,
        }
    }
}

/// Equality as SQL `IS NOT DISTINCT FROM`, with `1 = 1.0`; floats compare by bits
/// otherwise so that values can be hash keys for dedupe, joins and group-by.
impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        use Value::*;
        match (self, other) {
            (Float(a), Float(b)) => a.to_bits() == b.to_bits(),
            (Int(a), Float(b)) | (Float(b), Int(a)) => (*a as f64).to_bits() == b.to_bits(),
            _ => self.total_cmp(other) == Ordering::Equal && self.rank() == other.rank(),
        }
    }
}

impl Eq for Value {}

impl Hash for Value {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self {
            Value::Null => 0u8.hash(state),
            Value::Bool(b) => b.hash(state),
            // Ints and integral floats hash alike because they compare equal.
            Value::Int(i) => (*i as f64).to_bits().hash(state),
            Value::Float(f) => f.to_bits().hash(state),
            Value::Str(s) => s.hash(state),
            Value::Date(d) => midnight(*d).hash(state),
            Value::Timestamp(t) => t.hash(state),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str(""),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Str(s) => f.write_str(s),
            Value::Date(d) => write!(f, "{}", d.format("%Y-%m-%d")),
            Value::Timestamp(t) => write!(f, "{}", t.format("%Y-%m-%d %H:%M:%S%.6f")),
        }
    }
}

pub(crate) fn midnight(d: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&d.and_time(NaiveTime::MIN))
}

/// A warehouse column type, written the way Redshift and DuckDB both accept it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum ColumnType {
    BigInt,
    Integer,
    Double,
    Decimal { precision: u8, scale: u8 },
    Varchar,
    Boolean,
    Date,
    Timestamp,
}

impl ColumnType {
    /// The type in DDL. `VARCHAR(65535)` because Redshift's bare VARCHAR is 256 bytes.
    pub fn sql(&self) -> String {
        match self {
            ColumnType::BigInt => "BIGINT".into(),
            ColumnType::Integer => "INTEGER".into(),
            ColumnType::Double => "DOUBLE PRECISION".into(),
            ColumnType::Decimal { precision, scale } => format!("DECIMAL({precision},{scale})"),
            ColumnType::Varchar => "VARCHAR(65535)".into(),
            ColumnType::Boolean => "BOOLEAN".into(),
            ColumnType::Date => "DATE".into(),
            ColumnType::Timestamp => "TIMESTAMP".into(),
        }
    }

    /// Integers, floats and decimals: what averages and sums take.
    pub const fn is_numeric(&self) -> bool {
        matches!(self, ColumnType::BigInt | ColumnType::Integer | ColumnType::Double | ColumnType::Decimal { .. })
    }

    /// Casts a value to this type; the error is the reason, for quarantine.
    pub fn cast(&self, v: &Value) -> Result<Value, CastError> {
        if v.is_null() {
            return Ok(Value::Null);
        }
        let fail = || CastError::Type { kind: kind_name(v), value: v.to_string(), to: self.name() };
        match self {
            ColumnType::BigInt | ColumnType::Integer => {
                let i = match v {
                    Value::Int(i) => *i,
                    Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => *f as i64,
                    Value::Str(s) => s.trim().parse::<i64>().map_err(|_| fail())?,
                    Value::Bool(b) => i64::from(*b),
                    _ => return Err(fail()),
                };
                if *self == ColumnType::Integer && i32::try_from(i).is_err() {
                    return Err(CastError::IntegerRange(i));
                }
                Ok(Value::Int(i))
            }
            ColumnType::Double => v.as_f64().map(Value::Float).ok_or_else(fail),
            ColumnType::Decimal { precision, scale } => {
                let x = v.as_f64().filter(|x| x.is_finite()).ok_or_else(fail)?;
                let factor = 10f64.powi(i32::from(*scale));
                let rounded = (x * factor).round() / factor;
                let limit = 10f64.powi(i32::from(*precision) - i32::from(*scale));
                if rounded.abs() >= limit {
                    return Err(CastError::Decimal { value: x, precision: *precision, scale: *scale });
                }
                Ok(Value::Float(rounded))
            }
            ColumnType::Varchar => {
                let text = match v {
                    Value::Str(_) => v.clone(),
                    other => Value::str(other.to_string()),
                };
                check_varchar(&text)?;
                Ok(text)
            }
            ColumnType::Boolean => match v {
                Value::Bool(_) => Ok(v.clone()),
                Value::Int(0) => Ok(Value::Bool(false)),
                Value::Int(1) => Ok(Value::Bool(true)),
                Value::Str(s) => match s.trim().to_ascii_lowercase().as_str() {
                    "true" | "t" | "1" | "yes" | "y" => Ok(Value::Bool(true)),
                    "false" | "f" | "0" | "no" | "n" => Ok(Value::Bool(false)),
                    _ => Err(fail()),
                },
                _ => Err(fail()),
            },
            ColumnType::Date => match v {
                Value::Date(_) => Ok(v.clone()),
                Value::Timestamp(t) => Ok(Value::Date(t.date_naive())),
                Value::Str(s) => parse_date(s).map(Value::Date).ok_or_else(fail),
                _ => Err(fail()),
            },
            ColumnType::Timestamp => match v {
                Value::Timestamp(_) => Ok(v.clone()),
                Value::Date(d) => Ok(Value::Timestamp(midnight(*d))),
                Value::Str(s) => parse_timestamp(s, &Utc)
                    .or_else(|| s.trim().parse::<i64>().ok().and_then(epoch))
                    .map(Value::Timestamp)
                    .ok_or_else(fail),
                Value::Int(n) => epoch(*n).map(Value::Timestamp).ok_or_else(fail),
                _ => Err(fail()),
            },
        }
    }

    pub fn name(&self) -> String {
        self.sql().to_ascii_lowercase().replace("(65535)", "")
    }
}

/// The longest text a `varchar` column holds, in bytes: Redshift's `VARCHAR(65535)`
/// counts bytes of UTF-8, not characters.
pub const MAX_VARCHAR_BYTES: usize = 65_535;

/// A text cell fits every warehouse: at most [`MAX_VARCHAR_BYTES`], and no NUL, which
/// PostgreSQL and Redshift text cannot hold.
fn check_varchar(v: &Value) -> Result<(), CastError> {
    let Value::Str(text) = v else { return Ok(()) };
    if text.len() > MAX_VARCHAR_BYTES {
        return Err(CastError::TooLong(text.len()));
    }
    if text.contains('\0') {
        return Err(CastError::Nul);
    }
    Ok(())
}

/// Why a value does not fit a column type (the row's quarantine reason).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CastError {
    #[error("cannot cast {kind} {value:?} to {to}")]
    Type { kind: &'static str, value: String, to: String },
    #[error("{0} is out of range for integer")]
    IntegerRange(i64),
    #[error("{value} does not fit decimal({precision},{scale})")]
    Decimal { value: f64, precision: u8, scale: u8 },
    #[error("{0} bytes of text do not fit varchar ({MAX_VARCHAR_BYTES} bytes at most)")]
    TooLong(usize),
    #[error("text holds a NUL character, which no warehouse keeps")]
    Nul,
}

/// A column type the pipeline file names that does not exist.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TypeError {
    #[error("bad decimal arguments in {0:?}: expected decimal(p,s)")]
    DecimalArguments(String),
    #[error(
        "unknown column type {0:?}: expected bigint, integer, double, decimal(p,s), varchar, boolean, date or timestamp"
    )]
    Unknown(String),
}

/// An epoch number as a time, by its digits as the sources write them: 13 digits are
/// milliseconds (JavaScript's `Date.now()`, Java's `currentTimeMillis`), up to 11 are
/// seconds (Unix time). Anything else is ambiguous and refused.
fn epoch(n: i64) -> Option<DateTime<Utc>> {
    match n.unsigned_abs() {
        0..=99_999_999_999 => DateTime::from_timestamp(n, 0),
        1_000_000_000_000..=9_999_999_999_999 => DateTime::from_timestamp_millis(n),
        _ => None,
    }
}

fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Int(_) => "integer",
        Value::Float(_) => "number",
        Value::Str(_) => "text",
        Value::Date(_) => "date",
        Value::Timestamp(_) => "timestamp",
    }
}

impl TryFrom<String> for ColumnType {
    type Error = TypeError;

    fn try_from(s: String) -> Result<Self, TypeError> {
        s.parse()
    }
}

impl From<ColumnType> for String {
    fn from(t: ColumnType) -> String {
        t.name()
    }
}

impl std::str::FromStr for ColumnType {
    type Err = TypeError;

    fn from_str(s: &str) -> Result<Self, TypeError> {
        let lower = s.trim().to_ascii_lowercase();
        let (base, args) = match lower.split_once('(') {
            Some((b, rest)) => (b.trim(), Some(rest.trim_end_matches(')'))),
            None => (lower.as_str(), None),
        };
        Ok(match base {
            "bigint" | "int8" | "long" => ColumnType::BigInt,
            "integer" | "int" | "int4" | "smallint" | "int2" => ColumnType::Integer,
            "double" | "double precision" | "float" | "float8" | "real" | "float4" => ColumnType::Double,
            "decimal" | "numeric" => {
                let (p, s) = match args {
                    Some(a) => {
                        let mut it = a.split(',').map(|x| x.trim().parse::<u8>());
                        match (it.next(), it.next()) {
                            (Some(Ok(p)), Some(Ok(s))) if s <= p && p <= 38 => (p, s),
                            (Some(Ok(p)), None) if p <= 38 => (p, 0),
                            _ => return Err(TypeError::DecimalArguments(s.to_owned())),
                        }
                    }
                    None => (18, 2),
                };
                ColumnType::Decimal { precision: p, scale: s }
            }
            "varchar" | "text" | "string" | "char" | "character varying" => ColumnType::Varchar,
            "boolean" | "bool" => ColumnType::Boolean,
            "date" => ColumnType::Date,
            "timestamp" | "timestamptz" | "datetime" | "timestamp with time zone" => ColumnType::Timestamp,
            _ => return Err(TypeError::Unknown(s.to_owned())),
        })
    }
}

pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().or_else(|| parse_timestamp(s, &Utc).map(|t| t.date_naive()))
}

/// Parses the timestamp spellings sources use: RFC 3339, SQL `YYYY-MM-DD HH:MM:SS[.f][+HH[:MM]]`,
/// the combined log format's `25/Nov/2026:13:00:00 +0100`, and a bare date. A time
/// without an offset is taken in `naive_zone`.
pub fn parse_timestamp<Tz: TimeZone>(s: &str, naive_zone: &Tz) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M:%S%.f%#z", "%d/%b/%Y:%H:%M:%S %z"] {
        if let Ok(t) = DateTime::parse_from_str(s, fmt) {
            return Some(t.with_timezone(&Utc));
        }
    }
    for fmt in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return naive_zone.from_local_datetime(&t).earliest().map(|t| t.with_timezone(&Utc));
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| naive_zone.from_local_datetime(&d.and_time(NaiveTime::MIN)).earliest())
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_that_fits_no_warehouse_is_refused() {
        let fits = "é".repeat(MAX_VARCHAR_BYTES / 2);
        assert!(ColumnType::Varchar.cast(&Value::str(fits.as_str())).is_ok());
        let over = format!("{fits}é");
        assert_eq!(ColumnType::Varchar.cast(&Value::str(over)), Err(CastError::TooLong(MAX_VARCHAR_BYTES + 1)));
        assert_eq!(ColumnType::Varchar.cast(&Value::str("a\0b")), Err(CastError::Nul));
    }

    #[test]
    fn epoch_numbers_are_seconds_or_thirteen_digit_milliseconds() {
        let at = Utc.with_ymd_and_hms(2026, 12, 2, 10, 0, 0).unwrap();
        let ts = ColumnType::Timestamp;
        assert_eq!(ts.cast(&Value::Int(at.timestamp())).unwrap(), Value::Timestamp(at));
        assert_eq!(ts.cast(&Value::Int(at.timestamp_millis())).unwrap(), Value::Timestamp(at));
        assert_eq!(ts.cast(&Value::str(at.timestamp_millis().to_string())).unwrap(), Value::Timestamp(at));
        assert!(ts.cast(&Value::Int(at.timestamp_micros())).is_err(), "16 digits: refused, not year 58,000");
        assert!(ts.cast(&Value::Int(123_456_789_012)).is_err(), "12 digits: ambiguous");
    }

    #[test]
    fn casts_name_the_reason() {
        let t: ColumnType = "decimal(10,2)".parse().unwrap();
        assert_eq!(t.cast(&Value::str("19.999")).unwrap(), Value::Float(20.0));
        assert_eq!(t.cast(&Value::Int(3)).unwrap(), Value::Float(3.0));
        let err = ColumnType::BigInt.cast(&Value::str("12a")).unwrap_err();
        assert_eq!(err.to_string(), "cannot cast text \"12a\" to bigint");
        assert_eq!(ColumnType::Integer.cast(&Value::Int(1 << 40)), Err(CastError::IntegerRange(1 << 40)));
        assert_eq!("decimal(2,5)".parse::<ColumnType>(), Err(TypeError::DecimalArguments("decimal(2,5)".into())));
        assert_eq!("blob".parse::<ColumnType>(), Err(TypeError::Unknown("blob".into())));
    }

    #[test]
    fn timestamps_from_every_source_spelling() {
        let want = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap();
        for s in [
            "2026-11-25T12:00:00Z",
            "2026-11-25 12:00:00",
            "2026-11-25 13:00:00+01",
            "2026-11-25T13:00:00+01:00",
            "25/Nov/2026:13:00:00 +0100",
        ] {
            assert_eq!(parse_timestamp(s, &Utc), Some(want), "{s}");
        }
        let berlin = chrono_tz::Europe::Berlin;
        assert_eq!(parse_timestamp("2026-11-25 13:00:00", &berlin), Some(want));
    }

    #[test]
    fn equal_values_hash_alike() {
        use std::collections::HashSet;
        let set: HashSet<Value> = [Value::Int(2), Value::Float(2.0), Value::str("2")].into_iter().collect();
        assert_eq!(set.len(), 2);
        assert_eq!(Value::Null, Value::Null);
        assert!(Value::Null.total_cmp(&Value::Int(0)).is_lt());
    }
}
