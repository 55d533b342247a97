//! The sort rule and the key comparisons dedupe shares.

use std::cmp::Ordering;

use super::super::schema::Schema;
use super::row::slot;
use super::Row;

/// `"ordered_at"` or `"ordered_at desc"`.
pub fn parse_key(spec: &str) -> Result<(&str, bool), String> {
    let mut parts = spec.split_whitespace();
    let name = parts.next().ok_or("an empty sort key")?;
    let desc = match parts.next().map(str::to_ascii_lowercase).as_deref() {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(other) => return Err(format!("sort key {spec:?}: expected asc or desc, got {other}")),
    };
    Ok((name, desc))
}

#[derive(Debug, Clone)]
pub struct Sort {
    keys: Vec<(usize, bool)>,
}

impl Sort {
    pub fn compile(specs: &[String], schema: &Schema) -> Result<Sort, String> {
        let keys = specs
            .iter()
            .map(|s| {
                let (name, desc) = parse_key(s)?;
                Ok((slot(schema, name)?, desc))
            })
            .collect::<Result<_, String>>()?;
        Ok(Sort { keys })
    }

    pub fn compare(&self, a: &Row, b: &Row) -> Ordering {
        for (slot, desc) in &self.keys {
            let o = a.cells[*slot].total_cmp(&b.cells[*slot]);
            if o != Ordering::Equal {
                return if *desc { o.reverse() } else { o };
            }
        }
        Ordering::Equal
    }

    /// Stable, so rows equal on the keys keep their input order.
    pub fn apply(&self, rows: &mut [Row]) {
        rows.sort_by(|a, b| self.compare(a, b));
    }
}
