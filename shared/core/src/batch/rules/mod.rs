//! The transformation rules: pure functions from rows to rows, errors as values.
//!
//! A table's rules compile once per input schema into a [`Program`]: row rules run in a
//! tight loop per row; dedupe, sort, join and aggregate need the whole input and run
//! between them. The last step projects onto the declared columns with their types.

pub mod aggregate;
pub mod dedupe;
pub mod def;
pub mod error;
pub mod expr;
pub mod join;
pub mod project;
pub mod render;
pub mod row;
pub mod sort;

use std::collections::HashMap;

pub use def::RuleDef;
pub use error::{EvalError, RuleError};
pub use expr::EvalContext;
pub use join::JoinInput;

use super::pipeline::TableDef;
use super::schema::Schema;
use super::value::Value;
use row::{RowOp, Step};

/// A row and where it came from (part and line, packed by the reader) for quarantine.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub cells: Vec<Value>,
    pub origin: u64,
}

/// Why a row was quarantined: the rule, the field and the reason.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RowError {
    pub rule: &'static str,
    pub field: String,
    pub reason: String,
}

impl RowError {
    pub fn new(rule: &'static str, field: &str, reason: impl Into<String>) -> Self {
        RowError { rule, field: field.to_string(), reason: reason.into() }
    }
}

#[derive(Debug, Clone)]
enum Stage {
    Rows(Vec<RowOp>),
    Dedupe(dedupe::Dedupe),
    Sort(sort::Sort),
    Join(Box<join::Join>),
    Aggregate(aggregate::Aggregate),
}

/// A table's rules compiled against an input schema.
#[derive(Debug, Clone)]
pub struct Program {
    stages: Vec<Stage>,
    projection: project::Projection,
    ctx: EvalContext,
}

/// What a run of the rules gives: rows in the table's column order, the rejects with
/// their origin, and how many rows a discard rule dropped on purpose.
#[derive(Debug, Default)]
pub struct Output {
    pub rows: Vec<Vec<Value>>,
    pub rejected: Vec<(u64, RowError)>,
    pub discarded: u64,
}

impl Program {
    /// Compiles `table`'s rules against `input`; `joins` holds each joined source's rows.
    pub fn compile(
        table: &TableDef,
        input: &Schema,
        joins: &HashMap<String, JoinInput>,
        ctx: EvalContext,
    ) -> Result<Program, RuleError> {
        let mut schema = input.clone();
        let mut stages: Vec<Stage> = Vec::new();
        for (i, rule) in table.rules.iter().enumerate() {
            let at = |e: RuleError| e.at(format!("table {} rule {} ({})", table.name, i + 1, rule.kind()));
            let op = compile_rule(rule, &mut schema, joins).map_err(at)?;
            match (op, stages.last_mut()) {
                (Compiled::None, _) => {}
                (Compiled::Rows(new), Some(Stage::Rows(ops))) => ops.extend(new),
                (Compiled::Rows(new), _) => stages.push(Stage::Rows(new)),
                (Compiled::Stage(s), _) => stages.push(s),
            }
        }
        let latest = ctx.now + crate::validate::MAX_FUTURE_SKEW;
        let projection =
            project::Projection::compile(table, &schema, latest).map_err(|e| e.at(format!("table {}", table.name)))?;
        Ok(Program { stages, projection, ctx })
    }

    /// True when no rule needs the whole input, so chunks can be run one by one.
    pub fn is_streaming(&self) -> bool {
        self.stages.iter().all(|s| matches!(s, Stage::Rows(_)))
    }

    pub fn run(&self, mut rows: Vec<Row>) -> Output {
        let mut out = Output::default();
        for stage in &self.stages {
            rows = match stage {
                Stage::Rows(ops) => self.run_rows(ops, rows, &mut out),
                Stage::Dedupe(d) => d.apply(rows),
                Stage::Sort(s) => {
                    s.apply(&mut rows);
                    rows
                }
                Stage::Join(j) => j.apply(rows),
                Stage::Aggregate(a) => a.apply(rows),
            };
        }
        out.rows.reserve(rows.len());
        for row in rows {
            match self.projection.apply(&row.cells) {
                Ok(cells) => out.rows.push(cells),
                Err(e) => out.rejected.push((row.origin, e)),
            }
        }
        out
    }

    fn run_rows(&self, ops: &[RowOp], rows: Vec<Row>, out: &mut Output) -> Vec<Row> {
        let mut kept = Vec::with_capacity(rows.len());
        'rows: for mut row in rows {
            for op in ops {
                match op.apply(&mut row.cells, &self.ctx) {
                    Ok(Step::Keep) => {}
                    Ok(Step::Discard) => {
                        out.discarded += 1;
                        continue 'rows;
                    }
                    Err(e) => {
                        out.rejected.push((row.origin, e));
                        continue 'rows;
                    }
                }
            }
            kept.push(row);
        }
        kept
    }
}

enum Compiled {
    None,
    Rows(Vec<RowOp>),
    Stage(Stage),
}

fn compile_rule(
    rule: &RuleDef,
    schema: &mut Schema,
    joins: &HashMap<String, JoinInput>,
) -> Result<Compiled, RuleError> {
    use row::slot;
    Ok(match rule {
        RuleDef::Discard(cond) => Compiled::Rows(vec![RowOp::Discard(expr::compile(cond, schema)?)]),
        RuleDef::Drop(cols) => {
            for c in cols {
                if !schema.drop_column(c) {
                    return Err(RuleError::UnknownColumn { name: c.clone(), known: Vec::new() });
                }
            }
            Compiled::None
        }
        RuleDef::Rename(map) => {
            for (from, to) in map {
                if !schema.rename(from, to) {
                    return Err(RuleError::UnknownColumn { name: from.clone(), known: Vec::new() });
                }
            }
            Compiled::None
        }
        RuleDef::Require(cols) => Compiled::Rows(vec![RowOp::Require(
            cols.iter().map(|c| Ok((slot(schema, c)?, c.clone()))).collect::<Result<_, RuleError>>()?,
        )]),
        RuleDef::Translate(t) => Compiled::Rows(vec![RowOp::translate(t, schema)?]),
        RuleDef::Cast(casts) => {
            // One rule may cast several columns; each is its own op.
            Compiled::Rows(
                casts
                    .iter()
                    .map(|(c, ty)| Ok(RowOp::Cast { slot: slot(schema, c)?, column: c.clone(), ty: *ty }))
                    .collect::<Result<_, RuleError>>()?,
            )
        }
        RuleDef::Timezone(t) => Compiled::Rows(vec![RowOp::Timezone {
            slot: slot(schema, &t.column)?,
            column: t.column.clone(),
            zone: t.zone.parse().map_err(|_| RuleError::UnknownZone(t.zone.clone()))?,
        }]),
        RuleDef::Currency(c) => Compiled::Rows(vec![RowOp::currency(c, schema)?]),
        RuleDef::Derive(d) => {
            let e = expr::compile(&d.expr, schema)?;
            schema.push(d.column.clone());
            Compiled::Rows(vec![RowOp::Derive { column: d.column.clone(), expr: e }])
        }
        RuleDef::Dedupe(d) => {
            Compiled::Stage(Stage::Dedupe(dedupe::Dedupe::compile(&d.key, d.order_by.as_deref(), schema)?))
        }
        RuleDef::Sort(keys) => Compiled::Stage(Stage::Sort(sort::Sort::compile(keys, schema)?)),
        RuleDef::Join(j) => {
            let right = joins.get(&j.source).ok_or_else(|| RuleError::NoJoinedRows(j.source.clone()))?;
            Compiled::Stage(Stage::Join(Box::new(join::Join::compile(j, schema, right)?)))
        }
        RuleDef::Aggregate(a) => Compiled::Stage(Stage::Aggregate(aggregate::Aggregate::compile(a, schema)?)),
    })
}

#[cfg(test)]
mod tests;
