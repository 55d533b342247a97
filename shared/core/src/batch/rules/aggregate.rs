//! The aggregate rule: group by columns, then sum / count / min / max / avg. The output
//! schema is the group columns followed by the measures; groups come out in the order
//! their first row came in.

use std::collections::HashMap;

use super::super::schema::Schema;
use super::super::value::Value;
use super::def::AggregateDef;
use super::error::RuleError;
use super::row::slot;
use super::Row;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Agg {
    Sum,
    Count,
    CountAll,
    Min,
    Max,
    Avg,
}

/// `sum(amount)` → (Sum, Some("amount")); `count(*)` → (CountAll, None).
pub fn parse_measure(s: &str) -> Result<(Agg, Option<String>), RuleError> {
    let s = s.trim();
    let bad = |rule| RuleError::Measure { measure: s.to_owned(), rule };
    let (name, rest) = s.split_once('(').ok_or_else(|| bad("is not func(column)"))?;
    let arg = rest.strip_suffix(')').ok_or_else(|| bad("is missing ')'"))?.trim();
    let agg = match (name.trim().to_ascii_lowercase().as_str(), arg) {
        ("count", "*") => return Ok((Agg::CountAll, None)),
        ("sum", _) => Agg::Sum,
        ("count", _) => Agg::Count,
        ("min", _) => Agg::Min,
        ("max", _) => Agg::Max,
        ("avg", _) => Agg::Avg,
        (other, _) => return Err(RuleError::UnknownAggregate(other.to_owned())),
    };
    if arg.is_empty() {
        return Err(bad("needs a column"));
    }
    Ok((agg, Some(arg.to_string())))
}

#[derive(Debug, Clone)]
pub struct Aggregate {
    group: Vec<usize>,
    measures: Vec<(Agg, Option<usize>)>,
}

#[derive(Debug, Clone, Default)]
struct Acc {
    sum: f64,
    int_sum: i64,
    all_int: bool,
    count: i64,
    best: Option<Value>,
}

impl Aggregate {
    /// Compiles and replaces `schema` with the output columns.
    pub fn compile(def: &AggregateDef, schema: &mut Schema) -> Result<Aggregate, RuleError> {
        let group = def.group_by.iter().map(|g| slot(schema, g)).collect::<Result<Vec<_>, _>>()?;
        let mut measures = Vec::new();
        for m in def.measures.values() {
            let (agg, col) = parse_measure(m)?;
            measures.push((agg, col.map(|c| slot(schema, &c)).transpose()?));
        }
        *schema = Schema::new(def.group_by.iter().cloned().chain(def.measures.keys().cloned()));
        Ok(Aggregate { group, measures })
    }

    pub fn apply(&self, rows: Vec<Row>) -> Vec<Row> {
        let mut groups: HashMap<Vec<Value>, usize> = HashMap::new();
        let mut accs: Vec<(Vec<Value>, u64, Vec<Acc>)> = Vec::new();
        for row in rows {
            let key: Vec<Value> = self.group.iter().map(|i| row.cells[*i].clone()).collect();
            let at = *groups.entry(key.clone()).or_insert_with(|| {
                accs.push((key, row.origin, vec![Acc { all_int: true, ..Acc::default() }; self.measures.len()]));
                accs.len() - 1
            });
            for ((agg, col), acc) in self.measures.iter().zip(accs[at].2.iter_mut()) {
                let v = col.map_or(&Value::Null, |c| &row.cells[c]);
                match agg {
                    Agg::CountAll => acc.count += 1,
                    _ if v.is_null() => {}
                    Agg::Count => acc.count += 1,
                    Agg::Sum | Agg::Avg => {
                        acc.count += 1;
                        match v {
                            Value::Int(i) if acc.all_int => acc.int_sum = acc.int_sum.saturating_add(*i),
                            _ => acc.all_int = false,
                        }
                        acc.sum += v.as_f64().unwrap_or(0.0);
                    }
                    Agg::Min | Agg::Max => {
                        let better = match &acc.best {
                            None => true,
                            Some(b) if *agg == Agg::Min => v.total_cmp(b).is_lt(),
                            Some(b) => v.total_cmp(b).is_gt(),
                        };
                        if better {
                            acc.best = Some(v.clone());
                        }
                    }
                }
            }
        }
        accs.into_iter()
            .map(|(mut cells, origin, accs)| {
                for ((agg, _), acc) in self.measures.iter().zip(accs) {
                    cells.push(match agg {
                        Agg::Count | Agg::CountAll => Value::Int(acc.count),
                        Agg::Sum if acc.count == 0 => Value::Null,
                        Agg::Sum if acc.all_int => Value::Int(acc.int_sum),
                        Agg::Sum => Value::Float(acc.sum),
                        Agg::Avg if acc.count == 0 => Value::Null,
                        Agg::Avg => Value::Float(acc.sum / acc.count as f64),
                        Agg::Min | Agg::Max => acc.best.unwrap_or(Value::Null),
                    });
                }
                Row { cells, origin }
            })
            .collect()
    }
}
