//! Rules that look at one row at a time: discard, require, translate, cast, timezone,
//! currency, derive. (Drop and rename change only the schema.)

use std::collections::HashMap;

use super::super::schema::Schema;
use super::super::value::{ColumnType, Value};
use super::def::{toml_to_value, CurrencyDef, Otherwise, TranslateDef};
use super::error::RuleError;
use super::expr::{self, EvalContext, Expr};
use super::RowError;

#[derive(Debug, Clone)]
pub enum RowOp {
    Discard(Expr),
    Require(Vec<(usize, String)>),
    Translate { slot: usize, column: String, map: HashMap<Box<str>, Value>, otherwise: Otherwise },
    Cast { slot: usize, column: String, ty: ColumnType },
    Timezone { slot: usize, column: String, zone: chrono_tz::Tz },
    Currency { amount: usize, currency: usize, column: String, to: Value, rates: HashMap<Box<str>, f64> },
    Derive { column: String, expr: Expr },
}

/// A row's fate under one rule.
pub enum Step {
    Keep,
    Discard,
}

pub fn slot(schema: &Schema, name: &str) -> Result<usize, RuleError> {
    schema.index(name).ok_or_else(|| RuleError::UnknownColumn {
        name: name.to_owned(),
        known: schema.names().map(str::to_owned).collect(),
    })
}

impl RowOp {
    pub fn translate(def: &TranslateDef, schema: &Schema) -> Result<RowOp, RuleError> {
        Ok(RowOp::Translate {
            slot: slot(schema, &def.column)?,
            column: def.column.clone(),
            map: def.map.iter().map(|(k, v)| (k.as_str().into(), toml_to_value(v))).collect(),
            otherwise: def.otherwise,
        })
    }

    pub fn currency(def: &CurrencyDef, schema: &Schema) -> Result<RowOp, RuleError> {
        let mut rates: HashMap<Box<str>, f64> = def.rates.iter().map(|(k, v)| (k.as_str().into(), *v)).collect();
        rates.insert(def.to.as_str().into(), 1.0);
        Ok(RowOp::Currency {
            amount: slot(schema, &def.amount)?,
            currency: slot(schema, &def.currency)?,
            column: def.amount.clone(),
            to: Value::str(def.to.as_str()),
            rates,
        })
    }

    pub fn apply(&self, row: &mut Vec<Value>, ctx: &EvalContext) -> Result<Step, RowError> {
        match self {
            RowOp::Discard(cond) => {
                let v = cond.eval(row, ctx).map_err(|e| RowError::new("discard", "", e.to_string()))?;
                if expr::truth(&v) == Some(true) {
                    return Ok(Step::Discard);
                }
            }
            RowOp::Require(cols) => {
                for (slot, name) in cols {
                    match &row[*slot] {
                        Value::Null => return Err(RowError::new("require", name, "is missing")),
                        Value::Str(s) if s.trim().is_empty() => return Err(RowError::new("require", name, "is empty")),
                        _ => {}
                    }
                }
            }
            RowOp::Translate { slot, column, map, otherwise } => {
                let cell = &mut row[*slot];
                if cell.is_null() {
                    return Ok(Step::Keep);
                }
                let hit = match &*cell {
                    Value::Str(s) => map.get(&**s),
                    other => map.get(other.to_string().as_str()),
                };
                match (hit, otherwise) {
                    (Some(v), _) => *cell = v.clone(),
                    (None, Otherwise::Keep) => {}
                    (None, Otherwise::Null) => *cell = Value::Null,
                    (None, Otherwise::Error) => {
                        return Err(RowError::new(
                            "translate",
                            column,
                            format!("value {:?} is not in the map", cell.to_string()),
                        ))
                    }
                }
            }
            RowOp::Cast { slot, column, ty } => {
                row[*slot] = ty.cast(&row[*slot]).map_err(|e| RowError::new("cast", column, e.to_string()))?;
            }
            RowOp::Timezone { slot, column, zone } => {
                row[*slot] =
                    expr::localize(&row[*slot], zone).map_err(|e| RowError::new("timezone", column, e.to_string()))?;
            }
            RowOp::Currency { amount, currency, column, to, rates } => {
                if row[*amount].is_null() {
                    return Ok(Step::Keep);
                }
                let code = row[*currency].to_string();
                let rate = rates.get(code.trim()).ok_or_else(|| {
                    RowError::new("currency", column, format!("no rate for currency {code:?} into {to}"))
                })?;
                let x = row[*amount]
                    .as_f64()
                    .ok_or_else(|| RowError::new("currency", column, format!("{:?} is not an amount", row[*amount])))?;
                row[*amount] = Value::Float(x * rate);
                row[*currency] = to.clone();
            }
            RowOp::Derive { column, expr } => {
                let v = expr.eval(row, ctx).map_err(|e| RowError::new("derive", column, e.to_string()))?;
                row.push(v);
            }
        }
        Ok(Step::Keep)
    }
}
