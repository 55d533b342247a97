//! The dedupe rule: one row per key, the last by `order_by` (ties and no `order_by`:
//! the later row in input order wins, since later extracts carry newer versions).

use std::collections::HashMap;

use super::super::schema::Schema;
use super::super::value::Value;
use super::error::RuleError;
use super::row::slot;
use super::Row;

#[derive(Debug, Clone)]
pub struct Dedupe {
    key: Vec<usize>,
    order_by: Option<usize>,
}

impl Dedupe {
    pub fn compile(key: &[String], order_by: Option<&str>, schema: &Schema) -> Result<Dedupe, RuleError> {
        Ok(Dedupe {
            key: key.iter().map(|k| slot(schema, k)).collect::<Result<_, _>>()?,
            order_by: order_by.map(|o| slot(schema, o)).transpose()?,
        })
    }

    /// Keeps the winner of each key at the position of the key's first row.
    pub fn apply(&self, rows: Vec<Row>) -> Vec<Row> {
        let mut at: HashMap<Vec<Value>, usize> = HashMap::with_capacity(rows.len());
        let mut out: Vec<Row> = Vec::with_capacity(rows.len());
        for row in rows {
            let key: Vec<Value> = self.key.iter().map(|i| row.cells[*i].clone()).collect();
            match at.get(&key) {
                Some(&i) => {
                    let newer = match self.order_by {
                        Some(o) => row.cells[o].total_cmp(&out[i].cells[o]).is_ge(),
                        None => true,
                    };
                    if newer {
                        out[i] = row;
                    }
                }
                None => {
                    at.insert(key, out.len());
                    out.push(row);
                }
            }
        }
        out
    }
}
