//! PostgreSQL by SQL query. The server turns each row into JSON (`row_to_json`), which
//! keeps numbers as numbers and is far faster than decoding typed columns here; the
//! column types go into the manifest. Incremental runs read `cursor > last` in cursor
//! order (then key order, so equal cursors come out the same way every time).

use async_trait::async_trait;
use futures::channel::mpsc;
use futures::{pin_mut, StreamExt};
use tidemark_core::batch::manifest::SourceColumn;
use tidemark_core::causes::with_causes;
use tidemark_core::ports::{ExtractFrom, Extraction, SourceError, SourceReader};
use tokio_postgres::config::SslMode;
use tokio_postgres::{Client, Config, NoTls};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::parts::PartWriter;
use crate::query;
use crate::tls::{self, Tls, TlsUrl};

#[derive(Debug, Clone)]
pub struct PostgresReader {
    pub name: String,
    pub url: String,
    pub query: String,
    pub cursor: Option<String>,
    pub key: Vec<String>,
}

fn ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

impl PostgresReader {
    /// Connects as the URL's `sslmode` asks (see `tls`), the connection driven on its
    /// own task.
    async fn connect(&self) -> Result<Client, SourceError> {
        let TlsUrl { url, tls } = tls::postgres(&self.url).map_err(|e| self.err_connect(e))?;
        let mut config: Config = url.parse().map_err(|e| self.err_connect(e))?;
        let name = self.name.clone();
        let ended =
            move |e: tokio_postgres::Error| tracing::warn!(source = %name, error = %e, "postgres connection ended");
        match tls::client_config(&tls).map_err(|e| self.err_connect(e))? {
            None => {
                let (client, conn) =
                    config.ssl_mode(SslMode::Disable).connect(NoTls).await.map_err(|e| self.err_connect(e))?;
                tokio::spawn(async move { conn.await.unwrap_or_else(ended) });
                Ok(client)
            }
            Some(rustls) => {
                let mode = if tls == Tls::Prefer { SslMode::Prefer } else { SslMode::Require };
                let (client, conn) = config
                    .ssl_mode(mode)
                    .connect(MakeRustlsConnect::new(rustls))
                    .await
                    .map_err(|e| self.err_connect(with_causes(&e)))?;
                tokio::spawn(async move { conn.await.unwrap_or_else(ended) });
                Ok(client)
            }
        }
    }

    fn err_connect(&self, e: impl std::fmt::Display) -> SourceError {
        SourceError::Connect { source_name: self.name.clone(), message: e.to_string() }
    }

    fn err_query(&self, e: impl std::fmt::Display) -> SourceError {
        SourceError::Query { source_name: self.name.clone(), message: e.to_string() }
    }

    /// The extraction query, its cursor condition, and the order that makes parts
    /// repeatable. The last cursor value is bound (`$1`), never written into the SQL:
    /// it is a value of the source's data, and a text cursor can hold anything.
    pub fn sql(&self, columns: &[SourceColumn], from: Option<&serde_json::Value>) -> (String, Vec<String>) {
        let mut sql = String::from("SELECT row_to_json(q)::text");
        if let Some(c) = &self.cursor {
            sql.push_str(&format!(", q.{}::text", ident(c)));
        }
        sql.push_str(&format!(" FROM ({}) q", query::inner(&self.query)));
        let mut params = Vec::new();
        if let (Some(c), Some(v)) = (&self.cursor, from) {
            let ty = columns.iter().find(|col| &col.name == c).map_or("text", |col| col.ty.as_str());
            // `ty` is the server's own name for the column's type, from the probe above.
            sql.push_str(&format!(" WHERE q.{} > CAST($1::text AS {ty})", ident(c)));
            params.push(query::cursor_text(v));
        }
        (sql + &query::order_by(self.cursor.as_ref(), &self.key, ident), params)
    }
}

#[async_trait]
impl SourceReader for PostgresReader {
    async fn extract(&self, from: ExtractFrom) -> Result<Extraction, SourceError> {
        let client = self.connect().await?;
        let probe = client
            .prepare(&format!("SELECT * FROM ({}) q LIMIT 0", query::inner(&self.query)))
            .await
            .map_err(|e| self.err_query(e))?;
        let columns: Vec<SourceColumn> = probe
            .columns()
            .iter()
            .map(|c| SourceColumn { name: c.name().to_string(), ty: c.type_().name().to_string() })
            .collect();
        if let Some(c) = &self.cursor {
            if !columns.iter().any(|col| &col.name == c) {
                return Err(self.err_query(format!("cursor column {c:?} is not in the query's columns")));
            }
        }
        let (sql, params) = self.sql(&columns, from.cursor.as_ref());
        let (tx, rx) = mpsc::channel(2);
        let me = self.clone();
        tokio::spawn(async move {
            let mut w = PartWriter::new(tx, from.part_rows);
            let rows = match client.query_raw(sql.as_str(), params).await {
                Ok(rows) => rows,
                Err(e) => return w.fail(me.err_query(e)).await,
            };
            pin_mut!(rows);
            while let Some(row) = rows.next().await {
                let row = match row {
                    Ok(r) => r,
                    Err(e) => return w.fail(me.err_query(e)).await,
                };
                let json: &str = match row.try_get(0) {
                    Ok(j) => j,
                    Err(e) => return w.fail(me.err_query(e)).await,
                };
                let cursor = match me.cursor {
                    Some(_) => row.try_get::<_, Option<String>>(1).ok().flatten().map(serde_json::Value::String),
                    None => None,
                };
                if w.push(json.as_bytes(), cursor).await.is_err() {
                    return;
                }
            }
            if w.flush().await.is_err() {
                tracing::debug!(source = %me.name, "extract receiver closed");
            }
        });
        Ok(Extraction { columns, parts: rx.boxed() })
    }
}
