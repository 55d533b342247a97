//! Why rules fail: [`RuleError`] when the pipeline file is read (a rule or expression
//! that cannot run, so nothing loads), [`EvalError`] when one row's expression has no
//! value (that row is quarantined with the reason, the rest of the load goes on).

use super::super::value::CastError;
use super::expr::BinOp;

/// A rule or expression of the pipeline file that cannot be compiled.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RuleError {
    #[error("cannot parse expression {sql:?}: {reason}")]
    Parse { sql: String, reason: String },
    #[error("unexpected {token} after the expression in {sql:?}")]
    Trailing { sql: String, token: String },
    #[error("unknown column {name:?}{}", columns_here(.known))]
    UnknownColumn { name: String, known: Vec<String> },
    #[error("unknown function {0}()")]
    UnknownFunction(String),
    #[error("{function}() takes {expected} arguments, got {got}")]
    Arity { function: String, expected: String, got: usize },
    /// `what` names the kind of thing (`expression`, `operator`, `literal`, ...).
    #[error("unsupported {what} {text}")]
    Unsupported { what: &'static str, text: String },
    #[error("{function}() takes the unit as a string literal, e.g. {function}('day', ts)")]
    UnitNotLiteral { function: String },
    #[error("bad number {0}")]
    BadNumber(String),
    #[error(transparent)]
    ColumnType(#[from] super::super::value::TypeError),
    #[error("unknown time zone {0:?}")]
    UnknownZone(String),
    #[error("{measure:?} {rule}")]
    Measure { measure: String, rule: &'static str },
    #[error("unknown aggregate {0}(): expected sum, count, min, max or avg")]
    UnknownAggregate(String),
    #[error("sort key {spec:?}: expected asc or desc, got {got}")]
    SortDirection { spec: String, got: String },
    #[error("column {column:?} is not produced by the source and rules (available: {})", .available.join(", "))]
    NotProduced { column: String, available: Vec<String> },
    #[error("no rows given for joined source {0}")]
    NoJoinedRows(String),
    /// A rule's own requirement (`dedupe needs a key`).
    #[error("{0}")]
    Requires(&'static str),
    #[error("no column at slot {0}")]
    NoSlot(usize),
    #[error("a literal number must be finite")]
    NotFinite,
    #[error("string literal {0:?} holds a backslash or a control character, which the warehouses read differently")]
    UnsafeString(String),
    /// Where in the file: `in source orders`, `measure total`, `table t rule 2 (join)`.
    #[error("{place}: {error}")]
    At { place: String, error: Box<RuleError> },
}

impl RuleError {
    /// This error, placed (`table orders rule 2 (join)`, `in source products`).
    pub fn at(self, place: impl Into<String>) -> RuleError {
        RuleError::At { place: place.into(), error: Box::new(self) }
    }
}

fn columns_here(known: &[String]) -> String {
    if known.is_empty() {
        String::new()
    } else {
        format!(" (columns here: {})", known.join(", "))
    }
}

/// Why one row's expression has no value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvalError {
    #[error(transparent)]
    Cast(#[from] CastError),
    #[error("{0} is not a number")]
    NotNumber(String),
    #[error("cannot negate {0}")]
    Negate(String),
    #[error("cannot apply {0:?} to a timestamp")]
    TimestampOperator(BinOp),
    #[error("division by zero")]
    DivisionByZero,
    #[error("unsupported operator {0:?}")]
    Operator(BinOp),
    /// `what` is `date_trunc unit` or `date part`.
    #[error("unknown {what} {unit:?}")]
    Unit { what: &'static str, unit: String },
    #[error("cannot read {value} as a timestamp in {zone}")]
    Zone { value: String, zone: String },
}
