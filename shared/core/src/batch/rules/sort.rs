//! The sort rule and the key comparisons dedupe shares.

use std::cmp::Ordering;

use super::super::schema::Schema;
use super::error::RuleError;
use super::row::slot;
use super::Row;

/// `"ordered_at"` or `"ordered_at desc"`.
pub fn parse_key(spec: &str) -> Result<(&str, bool), RuleError> {
    let mut parts = spec.split_whitespace();
    let name = parts.next().ok_or(RuleError::Requires("a sort key names a column"))?;
    let desc = match parts.next().map(str::to_ascii_lowercase).as_deref() {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(other) => return Err(RuleError::SortDirection { spec: spec.to_owned(), got: other.to_owned() }),
    };
    Ok((name, desc))
}

#[derive(Debug, Clone)]
pub struct Sort {
    keys: Vec<(usize, bool)>,
}

impl Sort {
    pub fn compile(specs: &[String], schema: &Schema) -> Result<Sort, RuleError> {
        let keys = specs
            .iter()
            .map(|s| {
                let (name, desc) = parse_key(s)?;
                Ok((slot(schema, name)?, desc))
            })
            .collect::<Result<_, RuleError>>()?;
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
