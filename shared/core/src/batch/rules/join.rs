//! The join rule: a hash join with another source's rows (its latest snapshot), by key.
//! SQL semantics: every matching right row gives one output row (duplicate right keys
//! multiply); a left join keeps unmatched left rows with nulls; null keys never match.

use std::collections::HashMap;

use super::super::schema::Schema;
use super::super::value::Value;
use super::def::{JoinDef, JoinKind};
use super::error::RuleError;
use super::row::slot;
use super::Row;

/// The other side of a join, as read by the load job.
#[derive(Debug, Clone, Default)]
pub struct JoinInput {
    pub schema: Schema,
    pub rows: Vec<Row>,
}

#[derive(Debug, Clone)]
pub struct Join {
    kind: JoinKind,
    left_key: Vec<usize>,
    /// Right rows' selected cells, by key.
    index: HashMap<Vec<Value>, Vec<Vec<Value>>>,
    width: usize,
}

impl Join {
    /// Compiles against the left schema, adding the right columns to it.
    pub fn compile(def: &JoinDef, schema: &mut Schema, right: &JoinInput) -> Result<Join, RuleError> {
        let left_key = def.on.keys().map(|k| slot(schema, k)).collect::<Result<Vec<_>, _>>()?;
        let right_key = def
            .on
            .values()
            .map(|k| slot(&right.schema, k).map_err(|e| e.at(format!("in source {}", def.source))))
            .collect::<Result<Vec<_>, _>>()?;
        let picked = def
            .columns
            .iter()
            .map(|c| slot(&right.schema, c).map_err(|e| e.at(format!("in source {}", def.source))))
            .collect::<Result<Vec<_>, _>>()?;
        let mut index: HashMap<Vec<Value>, Vec<Vec<Value>>> = HashMap::new();
        for row in &right.rows {
            let key: Vec<Value> = right_key.iter().map(|i| row.cells[*i].clone()).collect();
            if key.iter().any(Value::is_null) {
                continue;
            }
            index.entry(key).or_default().push(picked.iter().map(|i| row.cells[*i].clone()).collect());
        }
        for c in &def.columns {
            let name = if schema.index(c).is_some() || !def.prefix.is_empty() {
                format!("{}{c}", def.prefix)
            } else {
                c.clone()
            };
            schema.push(name);
        }
        Ok(Join { kind: def.kind, left_key, index, width: picked.len() })
    }

    pub fn apply(&self, rows: Vec<Row>) -> Vec<Row> {
        let mut out = Vec::with_capacity(rows.len());
        let mut key = Vec::with_capacity(self.left_key.len());
        for row in rows {
            key.clear();
            key.extend(self.left_key.iter().map(|i| row.cells[*i].clone()));
            let matches = if key.iter().any(Value::is_null) { None } else { self.index.get(&key) };
            match matches {
                Some(found) => {
                    let (last, rest) = found.split_last().map_or((None, &found[..0]), |(l, r)| (Some(l), r));
                    for right in rest {
                        let mut r = row.clone();
                        r.cells.extend(right.iter().cloned());
                        out.push(r);
                    }
                    if let Some(right) = last {
                        let mut r = row;
                        r.cells.extend(right.iter().cloned());
                        out.push(r);
                    }
                }
                None if self.kind == JoinKind::Left => {
                    let mut r = row;
                    r.cells.extend(std::iter::repeat_n(Value::Null, self.width));
                    out.push(r);
                }
                None => {}
            }
        }
        out
    }
}
