//! Incremental extraction resumes after the last cursor value, which is a value of the
//! source's own data: on PostgreSQL and on MariaDB a text cursor full of quotes,
//! backslashes and a statement must be bound, never written into the query, so the
//! next run neither breaks nor runs anything, and returns exactly the newer rows.
// Test code: a failed unwrap is a failed test, which is the point.
#![allow(clippy::unwrap_used)]

use futures::StreamExt;
use mysql_async::prelude::Queryable;
use tidemark_core::ports::{ExtractFrom, SourceReader};
use tidemark_sources::{MysqlReader, PostgresReader};

/// Cursor values in sort order (`\` < `a` in both collations used below), the last one
/// being the most hostile.
const CURSORS: [&str; 3] = ["a'", "b\\\\", "c\\\\'); DROP TABLE tidemark_src_guard; --"];

async fn rows_after(reader: &dyn SourceReader, cursor: Option<&str>) -> (Vec<String>, Option<serde_json::Value>) {
    let from =
        ExtractFrom { cursor: cursor.map(|c| serde_json::Value::String(c.to_owned())), offset: 0, part_rows: 100 };
    let mut extraction = reader.extract(from).await.unwrap();
    let mut lines = Vec::new();
    let mut last = None;
    while let Some(part) = extraction.parts.next().await {
        let part = part.unwrap();
        last = part.cursor_to.clone().or(last);
        lines.extend(String::from_utf8(part.bytes).unwrap().lines().map(str::to_owned));
    }
    (lines, last)
}

#[tokio::test]
async fn postgres_binds_the_last_cursor() {
    let url = "postgres://postgres@127.0.0.1:5432/test";
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    client
        .batch_execute(
            "DROP TABLE IF EXISTS tidemark_src_hostile; CREATE TABLE tidemark_src_hostile (id INT, c TEXT COLLATE \"C\");
             CREATE TABLE IF NOT EXISTS tidemark_src_guard (n INT)",
        )
        .await
        .unwrap();
    for (id, cursor) in CURSORS.iter().enumerate() {
        client.execute("INSERT INTO tidemark_src_hostile VALUES ($1, $2)", &[&(id as i32), cursor]).await.unwrap();
    }
    let reader = PostgresReader {
        name: "hostile".into(),
        url: url.into(),
        query: "SELECT id, c FROM tidemark_src_hostile".into(),
        cursor: Some("c".into()),
        key: vec!["id".into()],
    };
    let (first, last) = rows_after(&reader, Some(CURSORS[0])).await;
    assert_eq!(first.len(), 2, "{first:?}");
    assert_eq!(last, Some(serde_json::Value::String(CURSORS[2].to_owned())));
    let (rest, _) = rows_after(&reader, Some(CURSORS[2])).await;
    assert!(rest.is_empty(), "nothing after the last cursor: {rest:?}");
    client.execute("SELECT n FROM tidemark_src_guard", &[]).await.expect("the guard table is still there");
}

#[tokio::test]
async fn mariadb_binds_the_last_cursor() {
    let url = "mysql://root@127.0.0.1:3306/test";
    let pool = mysql_async::Pool::new(url);
    let mut conn = pool.get_conn().await.unwrap();
    conn.query_drop(
        "DROP TABLE IF EXISTS tidemark_src_hostile; CREATE TABLE tidemark_src_hostile (id INT, c VARCHAR(100) COLLATE utf8mb4_bin);
         CREATE TABLE IF NOT EXISTS tidemark_src_guard (n INT)",
    )
    .await
    .unwrap();
    for (id, cursor) in CURSORS.iter().enumerate() {
        conn.exec_drop("INSERT INTO tidemark_src_hostile VALUES (?, ?)", (id as i32, *cursor)).await.unwrap();
    }
    let reader = MysqlReader {
        name: "hostile".into(),
        url: url.into(),
        query: "SELECT id, c FROM tidemark_src_hostile".into(),
        cursor: Some("c".into()),
        key: vec!["id".into()],
    };
    let (first, last) = rows_after(&reader, Some(CURSORS[0])).await;
    assert_eq!(first.len(), 2, "{first:?}");
    assert_eq!(last, Some(serde_json::Value::String(CURSORS[2].to_owned())));
    let (rest, _) = rows_after(&reader, Some(CURSORS[2])).await;
    assert!(rest.is_empty(), "nothing after the last cursor: {rest:?}");
    conn.query_drop("SELECT n FROM tidemark_src_guard").await.expect("the guard table is still there");
    drop(conn);
    pool.disconnect().await.unwrap();
}
