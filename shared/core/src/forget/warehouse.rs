//! Forgetting in the warehouse: the person's rows leave every table that has a person
//! column, in one transaction. The id is staged as a row, never written into the SQL:
//! it is the text of whoever asked.

use super::{Forgotten, Person};
use crate::batch::pipeline::TableDef;
use crate::batch::sql::ident;
use crate::batch::value::{ColumnType, Value};
use crate::ports::warehouse::{Query, Rows, Step, Warehouse, WarehouseError};

/// The table the id is staged in for the deletes; emptied in the same transaction.
const STAGE: &str = "tidemark_forget";

/// The (table, column) pairs that hold the person's id.
fn person_columns<'a>(tables: &'a [TableDef], person: &Person) -> Vec<(&'a str, &'a str)> {
    tables
        .iter()
        .filter_map(|t| {
            let column = t.person.column(person.field(), t.columns.iter().map(|c| c.name.as_str()))?;
            Some((t.name.as_str(), column))
        })
        .collect()
}

/// Counts, then deletes, the person's rows; returns one report per table.
pub async fn forget_rows(
    warehouse: &dyn Warehouse,
    tables: &[TableDef],
    person: &Person,
) -> Result<Vec<Forgotten>, WarehouseError> {
    let targets = person_columns(tables, person);
    if targets.is_empty() {
        return Ok(Vec::new());
    }
    let mut reports = Vec::with_capacity(targets.len());
    for (table, column) in &targets {
        let count = warehouse
            .query(&Query::with_params(
                format!("SELECT COUNT(*) FROM {} WHERE CAST({} AS VARCHAR(256)) = $1", ident(table), ident(column)),
                vec![person.id().to_owned()],
            ))
            .await?;
        let removed = count.rows.first().and_then(|row| row.first()).and_then(Value::as_f64).unwrap_or(0.0) as u64;
        reports.push(Forgotten::new(format!("warehouse.{table}"), removed));
    }
    let mut steps = vec![
        Step::Sql(format!("CREATE TABLE IF NOT EXISTS {STAGE} (id VARCHAR(256) NOT NULL)")),
        Step::Sql(format!("DELETE FROM {STAGE}")),
        Step::Rows(Rows {
            table: STAGE.to_owned(),
            columns: vec![("id".to_owned(), ColumnType::Varchar)],
            rows: vec![vec![Value::str(person.id())]],
        }),
    ];
    for (table, column) in &targets {
        steps.push(Step::Sql(format!(
            "DELETE FROM {} WHERE CAST({} AS VARCHAR(256)) IN (SELECT id FROM {STAGE})",
            ident(table),
            ident(column)
        )));
    }
    steps.push(Step::Sql(format!("DELETE FROM {STAGE}")));
    warehouse.execute(steps).await?;
    Ok(reports)
}
