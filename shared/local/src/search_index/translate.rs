//! Translates the shared query model into tantivy queries.

use super::schema::EventSchema;
use std::ops::Bound;
use tantivy::query::{
    AllQuery, BooleanQuery, EmptyQuery, Occur, Query as TantivyQuery, RangeQuery, TermQuery, TermSetQuery,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{DateTime, Term};
use tidemark_core::ports::search::SearchError;
use tidemark_core::search::{FieldKind, Query};

pub fn query(schema: &EventSchema, query: &Query) -> Result<Box<dyn TantivyQuery>, SearchError> {
    Ok(match query {
        Query::MatchAll => Box::new(AllQuery),
        Query::Term { field, value } => {
            let (field, kind) = lookup(schema, field)?;
            match term(field, kind, value)? {
                Some(term) => Box::new(TermQuery::new(term, IndexRecordOption::Basic)),
                None => Box::new(EmptyQuery),
            }
        }
        Query::Terms { field, values } => {
            let (field, kind) = lookup(schema, field)?;
            let mut terms = Vec::with_capacity(values.len());
            for value in values {
                terms.extend(term(field, kind, value)?);
            }
            Box::new(TermSetQuery::new(terms))
        }
        Query::Range { field, gte, gt, lte, lt } => {
            let (field, kind) = lookup(schema, field)?;
            let to_term = |value: f64| number_term(field, kind, value);
            let lower = match (gte, gt) {
                (Some(value), _) => Bound::Included(to_term(*value)?),
                (None, Some(value)) => Bound::Excluded(to_term(*value)?),
                (None, None) => Bound::Unbounded,
            };
            let upper = match (lte, lt) {
                (Some(value), _) => Bound::Included(to_term(*value)?),
                (None, Some(value)) => Bound::Excluded(to_term(*value)?),
                (None, None) => Bound::Unbounded,
            };
            Box::new(RangeQuery::new(lower, upper))
        }
        Query::Bool { must, must_not } => {
            let mut clauses: Vec<(Occur, Box<dyn TantivyQuery>)> = Vec::new();
            for clause in must {
                clauses.push((Occur::Must, self::query(schema, clause)?));
            }
            if must.is_empty() {
                clauses.push((Occur::Must, Box::new(AllQuery)));
            }
            for clause in must_not {
                clauses.push((Occur::MustNot, self::query(schema, clause)?));
            }
            Box::new(BooleanQuery::new(clauses))
        }
    })
}

fn lookup(schema: &EventSchema, name: &str) -> Result<(Field, FieldKind), SearchError> {
    schema.field(name).ok_or_else(|| SearchError::BadRequest(format!("unknown field {name:?}")))
}

/// A term for an exact match; `None` when the value cannot occur (e.g. text on a number field).
fn term(field: Field, kind: FieldKind, value: &str) -> Result<Option<Term>, SearchError> {
    match kind {
        FieldKind::Keyword => Ok(Some(Term::from_field_text(field, value))),
        FieldKind::Number | FieldKind::Date => match value.parse::<f64>() {
            Ok(number) => number_term(field, kind, number).map(Some),
            Err(_) => Ok(None),
        },
    }
}

fn number_term(field: Field, kind: FieldKind, value: f64) -> Result<Term, SearchError> {
    match kind {
        FieldKind::Number => Ok(Term::from_field_f64(field, value)),
        FieldKind::Date => Ok(Term::from_field_date_for_search(field, DateTime::from_timestamp_millis(value as i64))),
        FieldKind::Keyword => Err(SearchError::BadRequest("range on a keyword field".to_owned())),
    }
}
