//! Database sources connect with TLS when the URL asks for it, and never fall back to a
//! plain connection when it requires TLS. Each test asks the server itself whether the
//! session it answered on was encrypted.
// Test code: a failed unwrap is a failed test, which is the point.
#![allow(clippy::unwrap_used)]

use futures::StreamExt;
use mysql_async::prelude::Queryable;
use tidemark_core::ports::{ExtractFrom, SourceError, SourceReader};
use tidemark_sources::{MysqlReader, PostgresReader};

const PG: &str = "postgres://postgres@127.0.0.1:5432/test";
const MY: &str = "mysql://root@127.0.0.1:3306/test";

/// Every line the source query answers.
async fn extract(reader: &dyn SourceReader) -> Result<Vec<String>, SourceError> {
    let mut extraction = reader.extract(ExtractFrom { cursor: None, offset: 0, part_rows: 100 }).await?;
    let mut lines = Vec::new();
    while let Some(part) = extraction.parts.next().await {
        lines.extend(String::from_utf8(part?.bytes).unwrap().lines().map(str::to_owned));
    }
    Ok(lines)
}

fn postgres(url: String) -> PostgresReader {
    PostgresReader {
        name: "tls".into(),
        url,
        query: "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()".into(),
        cursor: None,
        key: Vec::new(),
    }
}

#[tokio::test]
async fn postgres_encrypts_when_the_url_asks_and_checks_the_certificate_when_told_to() {
    let (client, connection) = tokio_postgres::connect(PG, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let server_tls = client.query_one("SHOW ssl", &[]).await.unwrap().get::<_, String>(0) == "on";

    let plain = extract(&postgres(format!("{PG}?sslmode=disable"))).await.unwrap();
    assert_eq!(plain, [r#"{"ssl":false}"#]);
    let required = extract(&postgres(format!("{PG}?sslmode=require"))).await;
    let verified = extract(&postgres(format!("{PG}?sslmode=verify-full"))).await;
    if server_tls {
        assert_eq!(required.unwrap(), [r#"{"ssl":true}"#], "require: encrypted");
        assert_eq!(extract(&postgres(PG.into())).await.unwrap(), [r#"{"ssl":true}"#], "prefer is the default");
        // The local server's certificate is self-signed: no trusted root vouches for it.
        let err = verified.unwrap_err().to_string();
        assert!(err.contains("certificate") || err.contains("Certificate"), "{err}");
    } else {
        assert!(required.is_err(), "require never falls back to a plain connection");
        assert!(verified.is_err());
    }
    let err = extract(&postgres(format!("{PG}?sslmode=sometimes"))).await.unwrap_err().to_string();
    assert!(err.contains("sslmode=\"sometimes\""), "{err}");
}

#[tokio::test]
async fn mysql_requires_tls_when_the_url_says_so() {
    let mut conn = mysql_async::Conn::new(mysql_async::Opts::from_url(MY).unwrap()).await.unwrap();
    let have_ssl: Option<(String, String)> = conn.query_first("SHOW VARIABLES LIKE 'have_ssl'").await.unwrap();
    let server_tls = have_ssl.is_some_and(|(_, v)| v == "YES");
    let reader = |url: String| MysqlReader {
        name: "tls".into(),
        url,
        query:
            "SELECT VARIABLE_VALUE AS cipher FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'Ssl_cipher'"
                .into(),
        cursor: None,
        key: Vec::new(),
    };
    let plain = extract(&reader(MY.into())).await.unwrap();
    assert_eq!(plain, [r#"{"cipher":""}"#], "no ssl-mode: plain, as the driver's default");
    let required = extract(&reader(format!("{MY}?ssl-mode=REQUIRED"))).await;
    if server_tls {
        let lines = required.unwrap();
        assert!(!lines[0].contains(r#""cipher":"""#), "encrypted: {lines:?}");
    } else {
        // This server has TLS off: REQUIRED must refuse, not talk in plain text.
        assert!(matches!(required, Err(SourceError::Connect { .. })), "{required:?}");
    }
}
