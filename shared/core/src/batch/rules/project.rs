//! The last step of every table: rows onto the declared columns, each cast to its
//! type; a key or non-nullable column that ends up empty is an error, and so is an
//! event time later than the load's clock allows (it would push the watermark, and so
//! the tidemark, into the future: hours real time has not even seen would turn batch).

use chrono::{DateTime, Utc};

use super::super::pipeline::TableDef;
use super::super::schema::Schema;
use super::super::value::{ColumnType, Value};
use super::error::RuleError;
use super::RowError;

#[derive(Debug, Clone)]
pub struct Projection {
    columns: Vec<(usize, String, ColumnType, bool)>,
    /// The event-time column's position among `columns`, and the latest time accepted.
    event_time: Option<(usize, DateTime<Utc>)>,
}

impl Projection {
    /// `latest`: the latest event time a row may carry (the load's clock plus the skew
    /// allowance).
    pub fn compile(table: &TableDef, schema: &Schema, latest: DateTime<Utc>) -> Result<Projection, RuleError> {
        let columns = table
            .columns
            .iter()
            .map(|c| {
                let slot = schema.index(&c.name).ok_or_else(|| RuleError::NotProduced {
                    column: c.name.clone(),
                    available: schema.names().map(str::to_owned).collect(),
                })?;
                let required = !c.nullable || table.key.contains(&c.name);
                Ok((slot, c.name.clone(), c.ty, required))
            })
            .collect::<Result<_, RuleError>>()?;
        let event_time = table
            .event_time
            .as_ref()
            .and_then(|et| table.columns.iter().position(|c| &c.name == et))
            .map(|position| (position, latest));
        Ok(Projection { columns, event_time })
    }

    pub fn apply(&self, cells: &[Value]) -> Result<Vec<Value>, RowError> {
        let mut out = Vec::with_capacity(self.columns.len());
        for (slot, name, ty, required) in &self.columns {
            let v = ty.cast(&cells[*slot]).map_err(|e| RowError::new("cast", name, e.to_string()))?;
            if *required && v.is_null() {
                return Err(RowError::new("required", name, "is missing (key or not-null column)"));
            }
            out.push(v);
        }
        if let Some((position, latest)) = self.event_time {
            let at = match &out[position] {
                Value::Timestamp(t) => Some(*t),
                Value::Date(d) => Some(super::super::value::midnight(*d)),
                _ => None,
            };
            if let Some(at) = at.filter(|at| *at > latest) {
                let name = &self.columns[position].1;
                return Err(RowError::new(
                    "future",
                    name,
                    format!("{at} is later than the load's clock allows ({latest}); fix the source's clock or value"),
                ));
            }
        }
        Ok(out)
    }
}
