//! The last step of every table: rows onto the declared columns, each cast to its
//! type; a key or non-nullable column that ends up empty is an error.

use super::super::pipeline::TableDef;
use super::super::schema::Schema;
use super::super::value::{ColumnType, Value};
use super::RowError;

#[derive(Debug, Clone)]
pub struct Projection {
    columns: Vec<(usize, String, ColumnType, bool)>,
}

impl Projection {
    pub fn compile(table: &TableDef, schema: &Schema) -> Result<Projection, String> {
        let columns = table
            .columns
            .iter()
            .map(|c| {
                let slot = schema.index(&c.name).ok_or_else(|| {
                    format!(
                        "column {:?} is not produced by the source and rules (available: {})",
                        c.name,
                        schema.names().collect::<Vec<_>>().join(", ")
                    )
                })?;
                let required = !c.nullable || table.key.contains(&c.name);
                Ok((slot, c.name.clone(), c.ty, required))
            })
            .collect::<Result<_, String>>()?;
        Ok(Projection { columns })
    }

    pub fn apply(&self, cells: &[Value]) -> Result<Vec<Value>, RowError> {
        let mut out = Vec::with_capacity(self.columns.len());
        for (slot, name, ty, required) in &self.columns {
            let v = ty.cast(&cells[*slot]).map_err(|e| RowError::new("cast", name, e))?;
            if *required && v.is_null() {
                return Err(RowError::new("required", name, "is missing (key or not-null column)"));
            }
            out.push(v);
        }
        Ok(out)
    }
}
