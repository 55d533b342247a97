//! The query part of a search body: `match_all`, `term`, `terms`, `range` and `bool`
//! (`must`, `filter`, `must_not`); no scoring is used, every clause is a filter.

use super::fields::{field_kind, FieldKind};
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

/// A search body Tidemark does not run, named by the part and the rule it breaks.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QueryError {
    #[error("{0} must be a JSON object")]
    NotAnObject(&'static str),
    #[error("a query object must have exactly one key")]
    NotOneKey,
    #[error("unsupported query {0:?}; use term, terms, range, bool or match_all")]
    Unsupported(String),
    #[error("unsupported bool clause {0:?}; use must, filter or must_not")]
    UnsupportedClause(String),
    #[error("unsupported search body field {0:?}")]
    UnsupportedBodyField(String),
    #[error("{0} must name exactly one field")]
    NotOneField(&'static str),
    #[error("{kind} on unknown field {field:?}")]
    UnknownField { kind: &'static str, field: String },
    #[error("a term needs a value: a string, number or boolean")]
    BadTermValue,
    #[error("terms needs an array of values")]
    TermsNotAnArray,
    #[error("range on keyword field {0:?} is not supported")]
    RangeOnKeyword(String),
    #[error("range bound {0} is not a number or an RFC 3339 date (for a date field)")]
    BadBound(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Query {
    MatchAll,
    Term {
        field: String,
        value: String,
    },
    Terms {
        field: String,
        values: Vec<String>,
    },
    /// Bounds on a date (epoch milliseconds) or number field.
    Range {
        field: String,
        gte: Option<f64>,
        gt: Option<f64>,
        lte: Option<f64>,
        lt: Option<f64>,
    },
    Bool {
        must: Vec<Query>,
        must_not: Vec<Query>,
    },
}

impl Query {
    /// A half-open time range on `occurred_at`, the shape every report uses.
    pub fn time_range(from: DateTime<Utc>, to: DateTime<Utc>) -> Query {
        Query::Range {
            field: "occurred_at".to_owned(),
            gte: Some(from.timestamp_millis() as f64),
            gt: None,
            lte: None,
            lt: Some(to.timestamp_millis() as f64),
        }
    }

    /// The `occurred_at` bounds every match must lie within, in epoch milliseconds
    /// (`[from, to)`), when the query says so: a range on it at the top or among the
    /// `must` clauses. Lets a store read only the partitions (daily indices) of the range.
    pub fn occurred_within(&self) -> Option<(Option<f64>, Option<f64>)> {
        match self {
            Query::Range { field, gte, gt, lte, lt } if field == "occurred_at" => {
                Some((gte.or(*gt), lt.or(lte.map(|l| l + 1.0))))
            }
            Query::Bool { must, .. } => must.iter().find_map(Query::occurred_within),
            _ => None,
        }
    }

    pub fn term(field: &str, value: &str) -> Query {
        Query::Term { field: field.to_owned(), value: value.to_owned() }
    }

    pub fn all_of(clauses: Vec<Query>) -> Query {
        Query::Bool { must: clauses, must_not: Vec::new() }
    }

    pub fn from_json(value: &Value) -> Result<Query, QueryError> {
        let Value::Object(object) = value else {
            return Err(QueryError::NotAnObject("a query"));
        };
        let mut entries = object.iter();
        let (Some((kind, body)), None) = (entries.next(), entries.next()) else {
            return Err(QueryError::NotOneKey);
        };
        match kind.as_str() {
            "match_all" => Ok(Query::MatchAll),
            "term" => parse_term(body),
            "terms" => parse_terms(body),
            "range" => parse_range(body),
            "bool" => parse_bool(body),
            other => Err(QueryError::Unsupported(other.to_owned())),
        }
    }

    pub fn to_json(&self) -> Value {
        match self {
            Query::MatchAll => json!({"match_all": {}}),
            Query::Term { field, value } => json!({"term": {field.as_str(): value}}),
            Query::Terms { field, values } => json!({"terms": {field.as_str(): values}}),
            Query::Range { field, gte, gt, lte, lt } => {
                let mut bounds = Map::new();
                for (name, bound) in [("gte", gte), ("gt", gt), ("lte", lte), ("lt", lt)] {
                    if let Some(number) = bound {
                        bounds.insert(name.to_owned(), json!(number));
                    }
                }
                if field_kind(field) == Some(FieldKind::Date) {
                    bounds.insert("format".to_owned(), json!("epoch_millis"));
                }
                json!({"range": {field.as_str(): bounds}})
            }
            Query::Bool { must, must_not } => json!({"bool": {
                "filter": must.iter().map(Query::to_json).collect::<Vec<_>>(),
                "must_not": must_not.iter().map(Query::to_json).collect::<Vec<_>>(),
            }}),
        }
    }
}

fn single_field(body: &Value, kind: &'static str) -> Result<(String, Value), QueryError> {
    let Value::Object(object) = body else {
        return Err(QueryError::NotAnObject(kind));
    };
    let mut entries = object.iter().filter(|(key, _)| key.as_str() != "boost");
    let (Some((field, value)), None) = (entries.next(), entries.next()) else {
        return Err(QueryError::NotOneField(kind));
    };
    if field_kind(field).is_none() {
        return Err(QueryError::UnknownField { kind, field: field.clone() });
    }
    Ok((field.clone(), value.clone()))
}

fn scalar_text(value: &Value) -> Result<String, QueryError> {
    match value {
        Value::String(text) => Ok(text.clone()),
        Value::Number(number) => Ok(number.to_string()),
        Value::Bool(flag) => Ok(flag.to_string()),
        _ => Err(QueryError::BadTermValue),
    }
}

fn parse_term(body: &Value) -> Result<Query, QueryError> {
    let (field, value) = single_field(body, "term")?;
    let value = match &value {
        Value::Object(inner) => inner.get("value").ok_or(QueryError::BadTermValue)?.clone(),
        _ => value,
    };
    Ok(Query::Term { field, value: scalar_text(&value)? })
}

fn parse_terms(body: &Value) -> Result<Query, QueryError> {
    let (field, value) = single_field(body, "terms")?;
    let Value::Array(items) = value else {
        return Err(QueryError::TermsNotAnArray);
    };
    let values = items.iter().map(scalar_text).collect::<Result<_, _>>()?;
    Ok(Query::Terms { field, values })
}

fn bound(value: Option<&Value>, kind: FieldKind) -> Result<Option<f64>, QueryError> {
    let bad = |v: &Value| QueryError::BadBound(v.to_string());
    match (value, kind) {
        (None | Some(Value::Null), _) => Ok(None),
        (Some(v @ Value::Number(number)), _) => number.as_f64().map(Some).ok_or_else(|| bad(v)),
        (Some(v @ Value::String(text)), FieldKind::Date) => {
            DateTime::parse_from_rfc3339(text).map(|at| Some(at.timestamp_millis() as f64)).map_err(|_| bad(v))
        }
        (Some(v @ Value::String(text)), _) => text.parse::<f64>().map(Some).map_err(|_| bad(v)),
        (Some(v), _) => Err(bad(v)),
    }
}

fn parse_range(body: &Value) -> Result<Query, QueryError> {
    let (field, value) = single_field(body, "range")?;
    let kind = field_kind(&field).ok_or_else(|| QueryError::UnknownField { kind: "range", field: field.clone() })?;
    if kind == FieldKind::Keyword {
        return Err(QueryError::RangeOnKeyword(field));
    }
    Ok(Query::Range {
        gte: bound(value.get("gte"), kind)?,
        gt: bound(value.get("gt"), kind)?,
        lte: bound(value.get("lte"), kind)?,
        lt: bound(value.get("lt"), kind)?,
        field,
    })
}

fn clause_list(value: Option<&Value>) -> Result<Vec<Query>, QueryError> {
    match value {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items.iter().map(Query::from_json).collect(),
        Some(single) => Ok(vec![Query::from_json(single)?]),
    }
}

fn parse_bool(body: &Value) -> Result<Query, QueryError> {
    let Value::Object(object) = body else {
        return Err(QueryError::NotAnObject("bool"));
    };
    if let Some(key) = object.keys().find(|key| !matches!(key.as_str(), "must" | "filter" | "must_not")) {
        return Err(QueryError::UnsupportedClause(key.clone()));
    }
    let mut must = clause_list(object.get("must"))?;
    must.extend(clause_list(object.get("filter"))?);
    Ok(Query::Bool { must, must_not: clause_list(object.get("must_not"))? })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_json() {
        let query = Query::Bool {
            must: vec![
                Query::term("event_type", "purchase"),
                Query::Range { field: "occurred_at".into(), gte: Some(1.0), gt: None, lte: None, lt: Some(5.0) },
                Query::Terms { field: "region".into(), values: vec!["EU".into(), "US".into()] },
            ],
            must_not: vec![Query::term("currency", "USD")],
        };
        assert_eq!(Query::from_json(&query.to_json()).unwrap(), query);
    }

    #[test]
    fn reads_dates_and_refuses_unknowns() {
        let query = Query::from_json(&json!({"range": {"occurred_at": {"gte": "2026-11-25T00:00:00Z"}}})).unwrap();
        let Query::Range { gte, .. } = query else { panic!("not a range") };
        assert_eq!(gte, Some(1_795_564_800_000.0));
        let unknown = QueryError::UnknownField { kind: "term", field: "nope".into() };
        assert_eq!(Query::from_json(&json!({"term": {"nope": "x"}})), Err(unknown));
        assert_eq!(Query::from_json(&json!({"match": {"region": "x"}})), Err(QueryError::Unsupported("match".into())));
        assert_eq!(
            Query::from_json(&json!({"range": {"occurred_at": {"gte": "yesterday"}}})),
            Err(QueryError::BadBound("\"yesterday\"".into()))
        );
        assert_eq!(
            Query::from_json(&json!({"range": {"region": {"gte": 1}}})),
            Err(QueryError::RangeOnKeyword("region".into()))
        );
    }
}
