//! The Redshift Data API: statements submitted over HTTPS, no connection held.
//!
//! `ExecuteStatement` (one statement) or `BatchExecuteStatement` (several, which Redshift
//! runs as one transaction), then `DescribeStatement` polled with growing pauses until
//! FINISHED, or FAILED / ABORTED with Redshift's error text surfaced, then
//! `GetStatementResult` page by page for a result set. The warehouse adapter builds on
//! this with the SQL of `tidemark_core::batch::sql`, the same statements DuckDB runs.

use std::time::{Duration, Instant};

use aws_sdk_redshiftdata::types::{ColumnMetadata, Field, SqlParameter, StatusString};
use aws_sdk_redshiftdata::Client;
use chrono::Utc;
use tidemark_core::batch::value::{parse_date, parse_timestamp};
use tidemark_core::batch::Value;
use tidemark_core::ports::{Query, QueryResult, WarehouseError};

use crate::retry::{describe, is_retryable, RetryPolicy};

#[derive(Clone)]
pub struct DataApi {
    client: Client,
    workgroup: String,
    database: String,
    /// Pauses between `DescribeStatement` polls.
    poll: RetryPolicy,
    /// Longest wait for one statement (a nightly merge may run for minutes).
    timeout: Duration,
}

fn unavailable(context: &str, e: impl std::fmt::Display) -> WarehouseError {
    WarehouseError::Unavailable(format!("{context}: {e}"))
}

/// The first line of a statement, short, for error messages and logs.
fn head(sql: &str) -> String {
    sql.lines().next().unwrap_or("").chars().take(160).collect()
}

impl DataApi {
    pub fn new(client: Client, workgroup: impl Into<String>, database: impl Into<String>) -> Self {
        Self {
            client,
            workgroup: workgroup.into(),
            database: database.into(),
            poll: RetryPolicy {
                retries: usize::MAX,
                min_delay: Duration::from_millis(50),
                max_delay: Duration::from_secs(2),
            },
            timeout: Duration::from_secs(15 * 60),
        }
    }

    /// The longest wait for one statement.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn with_poll(mut self, poll: RetryPolicy, timeout: Duration) -> Self {
        self.poll = poll;
        self.timeout = timeout;
        self
    }

    /// Runs the statements in one transaction and waits for the outcome.
    pub async fn run(&self, statements: &[String]) -> Result<(), WarehouseError> {
        match statements {
            [] => Ok(()),
            [one] => {
                let id = self.submit(one, &[]).await?;
                self.wait(&id, &head(one)).await.map(|_| ())
            }
            _ => {
                let context = head(&statements[0]);
                let sent = self
                    .client
                    .batch_execute_statement()
                    .workgroup_name(&self.workgroup)
                    .database(&self.database)
                    .set_sqls(Some(statements.to_vec()))
                    .send()
                    .await;
                let id = match sent {
                    Ok(out) => out.id.unwrap_or_default(),
                    Err(e) if is_retryable(&e) => return Err(unavailable(&context, describe(&e))),
                    Err(e) => return Err(WarehouseError::Sql { context, message: describe(&e) }),
                };
                self.wait(&id, &context).await.map(|_| ())
            }
        }
    }

    /// Runs one query with its parameters bound and reads its whole result set.
    pub async fn query(&self, query: &Query) -> Result<QueryResult, WarehouseError> {
        let sql = named_placeholders(&query.sql);
        let sql = sql.as_str();
        let id = self.submit(sql, &query.params).await?;
        let has_result = self.wait(&id, &head(sql)).await?;
        if !has_result {
            return Ok(QueryResult::default());
        }
        let mut result = QueryResult::default();
        let mut types: Vec<String> = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .get_statement_result()
                .id(&id)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| unavailable(&head(sql), describe(&e)))?;
            if result.columns.is_empty() {
                let meta: &[ColumnMetadata] = page.column_metadata();
                result.columns = meta.iter().map(|c| c.name().unwrap_or_default().to_string()).collect();
                types = meta.iter().map(|c| c.type_name().unwrap_or_default().to_ascii_lowercase()).collect();
            }
            for record in page.records() {
                let row = record.iter().enumerate().map(|(i, f)| value(f, types.get(i).map_or("", String::as_str)));
                result.rows.push(row.collect());
            }
            match page.next_token {
                Some(next) if !next.is_empty() => token = Some(next),
                _ => break,
            }
        }
        Ok(result)
    }

    /// `ExecuteStatement` with its parameters (`:p1`, `:p2`, … in `sql`), which Redshift
    /// binds as text and converts to the type the context asks for.
    async fn submit(&self, sql: &str, params: &[String]) -> Result<String, WarehouseError> {
        let parameters = params
            .iter()
            .enumerate()
            .map(|(i, value)| SqlParameter::builder().name(format!("p{}", i + 1)).value(value).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| WarehouseError::Sql { context: head(sql), message: e.to_string() })?;
        let sent = self
            .client
            .execute_statement()
            .workgroup_name(&self.workgroup)
            .database(&self.database)
            .sql(sql)
            .set_parameters((!parameters.is_empty()).then_some(parameters))
            .send()
            .await;
        match sent {
            Ok(out) => Ok(out.id.unwrap_or_default()),
            Err(e) if is_retryable(&e) => Err(unavailable(&head(sql), describe(&e))),
            Err(e) => Err(WarehouseError::Sql { context: head(sql), message: describe(&e) }),
        }
    }

    /// Polls until the statement is done; `Ok(has_result_set)` when FINISHED.
    async fn wait(&self, id: &str, context: &str) -> Result<bool, WarehouseError> {
        let started = Instant::now();
        let mut delays = self.poll.delays();
        loop {
            let d =
                self.client.describe_statement().id(id).send().await.map_err(|e| unavailable(context, describe(&e)))?;
            match d.status() {
                Some(StatusString::Finished) => return Ok(d.has_result_set().unwrap_or(false)),
                Some(StatusString::Failed) | Some(StatusString::Aborted) => {
                    // For a batch, the failing sub-statement names itself.
                    let failing = d.sub_statements().iter().find(|s| s.error().is_some());
                    let (context, message) = match failing {
                        Some(s) => (
                            s.query_string().map(head).unwrap_or_else(|| context.to_string()),
                            s.error().unwrap_or_default().to_string(),
                        ),
                        None => (context.to_string(), d.error().unwrap_or("statement aborted").to_string()),
                    };
                    return Err(WarehouseError::Sql { context, message });
                }
                _ => {}
            }
            if started.elapsed() > self.timeout {
                return Err(unavailable(context, format!("statement {id} still running after {:?}", self.timeout)));
            }
            tokio::time::sleep(delays.next().unwrap_or(self.poll.max_delay)).await;
        }
    }
}

/// `$1`, `$2`, … (the port's placeholders) as the Data API's named `:p1`, `:p2`, …,
/// outside quoted literals and identifiers only.
fn named_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut quote: Option<char> = None;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '$') if chars.peek().is_some_and(char::is_ascii_digit) => {
                out.push_str(":p");
                continue;
            }
            _ => {}
        }
        out.push(c);
    }
    out
}

/// A result field as a tidemark value, by the column's Redshift type: timestamps and
/// dates come back as text, `numeric` as text too (exact), read here as a float.
fn value(field: &Field, type_name: &str) -> Value {
    match field {
        Field::IsNull(true) => Value::Null,
        Field::BooleanValue(b) => Value::Bool(*b),
        Field::LongValue(i) => Value::Int(*i),
        Field::DoubleValue(f) => Value::Float(*f),
        Field::StringValue(s) => match type_name {
            t if t.starts_with("timestamp") => {
                parse_timestamp(s, &Utc).map_or_else(|| Value::str(s.as_str()), Value::Timestamp)
            }
            "date" => parse_date(s).map_or_else(|| Value::str(s.as_str()), Value::Date),
            "numeric" | "decimal" => s.parse().map_or_else(|_| Value::str(s.as_str()), Value::Float),
            _ => Value::str(s.as_str()),
        },
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_renamed_outside_quotes_only() {
        assert_eq!(
            named_placeholders(r#"SELECT "$1", '$1 it''s $2' FROM t WHERE a = $1 AND b = $12"#),
            r#"SELECT "$1", '$1 it''s $2' FROM t WHERE a = :p1 AND b = :p12"#
        );
        assert_eq!(named_placeholders("SELECT 1 $ x"), "SELECT 1 $ x");
    }
}
