//! MySQL and MariaDB by SQL query, over the text protocol: every value arrives as text,
//! and the column type decides whether it is written as a JSON number or a string. The
//! type names go into the manifest so dates and times are typed again at load.

use async_trait::async_trait;
use futures::channel::mpsc;
use futures::StreamExt;
use mysql_async::consts::ColumnType as My;
use mysql_async::prelude::Queryable;
use mysql_async::SslOpts;
use std::path::PathBuf;
use tidemark_core::batch::manifest::SourceColumn;
use tidemark_core::ports::{ExtractFrom, Extraction, SourceError, SourceReader};

use crate::parts::PartWriter;
use crate::query;
use crate::tls::{self, Tls, TlsUrl};

#[derive(Debug, Clone)]
pub struct MysqlReader {
    pub name: String,
    pub url: String,
    pub query: String,
    pub cursor: Option<String>,
    pub key: Vec<String>,
}

fn ident(s: &str) -> String {
    format!("`{}`", s.replace('`', "``"))
}

fn type_name(t: My) -> &'static str {
    match t {
        My::MYSQL_TYPE_TINY | My::MYSQL_TYPE_SHORT | My::MYSQL_TYPE_LONG | My::MYSQL_TYPE_INT24 => "int",
        My::MYSQL_TYPE_LONGLONG => "bigint",
        My::MYSQL_TYPE_YEAR => "year",
        My::MYSQL_TYPE_FLOAT | My::MYSQL_TYPE_DOUBLE => "double",
        My::MYSQL_TYPE_DECIMAL | My::MYSQL_TYPE_NEWDECIMAL => "decimal",
        My::MYSQL_TYPE_DATE | My::MYSQL_TYPE_NEWDATE => "date",
        My::MYSQL_TYPE_DATETIME | My::MYSQL_TYPE_DATETIME2 => "datetime",
        My::MYSQL_TYPE_TIMESTAMP | My::MYSQL_TYPE_TIMESTAMP2 => "timestamp",
        My::MYSQL_TYPE_TIME | My::MYSQL_TYPE_TIME2 => "time",
        My::MYSQL_TYPE_JSON => "json",
        My::MYSQL_TYPE_BIT => "bit",
        _ => "text",
    }
}

/// `@tidemark_cursor` as a value of the cursor column's type (see [`type_name`]).
fn cast_cursor(ty: &str) -> &'static str {
    match ty {
        "int" | "bigint" | "year" => "CAST(@tidemark_cursor AS SIGNED)",
        "double" | "decimal" => "CAST(@tidemark_cursor AS DECIMAL(65, 30))",
        "date" => "CAST(@tidemark_cursor AS DATE)",
        "datetime" | "timestamp" => "CAST(@tidemark_cursor AS DATETIME(6))",
        _ => "@tidemark_cursor",
    }
}

fn numeric(ty: &str) -> bool {
    matches!(ty, "int" | "bigint" | "year" | "double" | "decimal")
}

impl MysqlReader {
    fn err(&self, e: impl std::fmt::Display) -> SourceError {
        SourceError::Query { source_name: self.name.clone(), message: e.to_string() }
    }

    /// The extraction query over the text protocol. The last cursor value is a value of
    /// the source's data, never SQL text: it is bound first into the session variable
    /// `@tidemark_cursor` (the binary protocol binds it), and the query compares with
    /// that, cast to the cursor column's type.
    pub fn sql(&self, columns: &[SourceColumn], resumes: bool) -> String {
        let mut sql = format!("SELECT * FROM ({}) q", query::inner(&self.query));
        if let (Some(c), true) = (&self.cursor, resumes) {
            let ty = columns.iter().find(|col| &col.name == c).map_or("text", |col| col.ty.as_str());
            sql.push_str(&format!(" WHERE q.{} > {}", ident(c), cast_cursor(ty)));
        }
        sql + &query::order_by(self.cursor.as_ref(), &self.key, ident)
    }
}

#[async_trait]
impl SourceReader for MysqlReader {
    async fn extract(&self, from: ExtractFrom) -> Result<Extraction, SourceError> {
        let connect_error =
            |e: &dyn std::fmt::Display| SourceError::Connect { source_name: self.name.clone(), message: e.to_string() };
        let TlsUrl { url, tls } = tls::mysql(&self.url).map_err(|e| connect_error(&e))?;
        let opts = mysql_async::Opts::from_url(&url).map_err(|e| connect_error(&e))?;
        let ssl = match tls {
            Tls::Disable => None,
            Tls::Prefer | Tls::Require => Some(SslOpts::default().with_danger_accept_invalid_certs(true)),
            Tls::Verify { ca } => {
                Some(SslOpts::default().with_root_certs(ca.into_iter().map(|p| PathBuf::from(p).into()).collect()))
            }
        };
        let opts = mysql_async::OptsBuilder::from_opts(opts).ssl_opts(ssl);
        let mut conn = mysql_async::Conn::new(opts)
            .await
            .map_err(|e| SourceError::Connect { source_name: self.name.clone(), message: e.to_string() })?;
        // Column names and types first, so the manifest has them even for an empty run.
        let probe = conn
            .query_iter(format!("SELECT * FROM ({}) q LIMIT 0", query::inner(&self.query)))
            .await
            .map_err(|e| self.err(e))?;
        let columns: Vec<SourceColumn> = probe
            .columns()
            .map(|cols| {
                cols.iter()
                    .map(|c| SourceColumn {
                        name: c.name_str().to_string(),
                        ty: type_name(c.column_type()).to_string(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        probe.drop_result().await.map_err(|e| self.err(e))?;
        let cursor_at = match &self.cursor {
            Some(c) => Some(
                columns
                    .iter()
                    .position(|col| &col.name == c)
                    .ok_or_else(|| self.err(format!("cursor column {c:?} is not in the query's columns")))?,
            ),
            None => None,
        };
        if let Some(last) = &from.cursor {
            conn.exec_drop("SET @tidemark_cursor = ?", (query::cursor_text(last),)).await.map_err(|e| self.err(e))?;
        }
        let sql = self.sql(&columns, from.cursor.is_some());
        let (tx, rx) = mpsc::channel(2);
        let me = self.clone();
        let cols = columns.clone();
        tokio::spawn(async move {
            let mut w = PartWriter::new(tx, from.part_rows);
            let mut result = match conn.query_iter(sql).await {
                Ok(r) => r,
                Err(e) => return w.fail(me.err(e)).await,
            };
            let mut line = Vec::with_capacity(512);
            loop {
                let row = match result.next().await {
                    Ok(Some(r)) => r,
                    Ok(None) => break,
                    Err(e) => return w.fail(me.err(e)).await,
                };
                line.clear();
                line.push(b'{');
                let mut cursor = None;
                for (i, (col, v)) in cols.iter().zip(row.unwrap()).enumerate() {
                    if i > 0 {
                        line.push(b',');
                    }
                    write_json_str(&mut line, &col.name);
                    line.push(b':');
                    match v {
                        mysql_async::Value::NULL => line.extend_from_slice(b"null"),
                        mysql_async::Value::Bytes(b) => {
                            let text = String::from_utf8_lossy(&b);
                            if numeric(&col.ty) && text.parse::<f64>().is_ok() {
                                line.extend_from_slice(text.as_bytes());
                            } else {
                                write_json_str(&mut line, &text);
                            }
                            if cursor_at == Some(i) {
                                cursor = Some(serde_json::Value::String(text.into_owned()));
                            }
                        }
                        other => write_json_str(&mut line, &other.as_sql(true)),
                    }
                }
                line.push(b'}');
                if w.push(&line, cursor).await.is_err() {
                    return;
                }
            }
            if let Err(e) = result.drop_result().await {
                return w.fail(me.err(e)).await;
            }
            if let Err(e) = conn.disconnect().await {
                tracing::debug!(source = %me.name, error = %e, "mysql disconnect");
            }
            if w.flush().await.is_err() {
                tracing::debug!(source = %me.name, "extract receiver closed");
            }
        });
        Ok(Extraction { columns, parts: rx.boxed() })
    }
}

fn write_json_str(out: &mut Vec<u8>, s: &str) {
    // serde_json escapes correctly; writing into a Vec cannot fail.
    if serde_json::to_writer(&mut *out, s).is_err() {
        out.extend_from_slice(b"null");
    }
}
