//! Web server logs in the combined log format:
//! `host ident user [time] "request" status bytes "referer" "user agent"`.
//! Hand-written: a dozen lines of scanning, and the crates for it are unmaintained.

use super::super::rules::{Row, RowError};
use super::super::schema::Schema;
use super::super::value::{parse_timestamp, Value};
use super::{origin, Parsed};

pub const FIELDS: [&str; 11] = [
    "remote_addr",
    "ident",
    "remote_user",
    "time",
    "method",
    "path",
    "protocol",
    "status",
    "bytes",
    "referer",
    "user_agent",
];

pub fn parse(bytes: &[u8], part: usize) -> Parsed {
    let mut out = Parsed { schema: Schema::new(FIELDS), ..Parsed::default() };
    for (i, line) in bytes.split(|b| *b == b'\n').enumerate() {
        let line_no = i as u64 + 1;
        let text = String::from_utf8_lossy(line);
        if text.trim().is_empty() {
            continue;
        }
        match parse_line(text.trim_end_matches('\r')) {
            Ok(cells) => out.rows.push(Row { cells, origin: origin(part, line_no) }),
            Err((field, reason)) => out.rejected.push((origin(part, line_no), RowError::new("parse", field, reason))),
        }
    }
    out
}

fn parse_line(line: &str) -> Result<Vec<Value>, (&'static str, String)> {
    let mut s = Scanner { rest: line };
    let host = s.word().ok_or(("remote_addr", "missing".to_string()))?;
    let ident = s.word().ok_or(("ident", "missing".to_string()))?;
    let user = s.word().ok_or(("remote_user", "missing".to_string()))?;
    let time = s.delimited('[', ']').ok_or(("time", "expected [dd/Mon/yyyy:hh:mm:ss +zzzz]".to_string()))?;
    let time = parse_timestamp(time, &chrono::Utc).ok_or(("time", format!("cannot read {time:?}")))?;
    let request = s.delimited('"', '"').ok_or(("method", "expected a quoted request line".to_string()))?;
    let mut req = request.split(' ');
    let (method, path, protocol) = (req.next().unwrap_or(""), req.next().unwrap_or(""), req.next().unwrap_or(""));
    let status = s.word().and_then(|w| w.parse::<i64>().ok()).ok_or(("status", "expected a number".to_string()))?;
    let bytes = match s.word() {
        Some("-") => Value::Null,
        Some(w) => Value::Int(w.parse().map_err(|_| ("bytes", format!("{w:?} is not a number")))?),
        None => return Err(("bytes", "missing".to_string())),
    };
    let referer = s.delimited('"', '"').map_or(Value::Null, dash_null);
    let agent = s.delimited('"', '"').map_or(Value::Null, dash_null);
    Ok(vec![
        Value::str(host),
        dash_null(ident),
        dash_null(user),
        Value::Timestamp(time),
        dash_null(method),
        dash_null(path),
        dash_null(protocol),
        Value::Int(status),
        bytes,
        referer,
        agent,
    ])
}

fn dash_null(s: &str) -> Value {
    if s == "-" || s.is_empty() {
        Value::Null
    } else {
        Value::str(s)
    }
}

struct Scanner<'a> {
    rest: &'a str,
}

impl<'a> Scanner<'a> {
    fn word(&mut self) -> Option<&'a str> {
        let t = self.rest.trim_start();
        if t.is_empty() {
            return None;
        }
        let end = t.find(' ').unwrap_or(t.len());
        self.rest = &t[end..];
        Some(&t[..end])
    }

    /// Text between `open` and `close`; a quoted field may contain `\"`.
    fn delimited(&mut self, open: char, close: char) -> Option<&'a str> {
        let t = self.rest.trim_start().strip_prefix(open)?;
        let mut escaped = false;
        for (i, c) in t.char_indices() {
            if c == close && !escaped {
                self.rest = &t[i + 1..];
                return Some(&t[..i]);
            }
            escaped = c == '\\' && !escaped;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_combined_lines_and_names_the_bad_field() {
        let log = concat!(
            "203.0.113.9 - alice [25/Nov/2026:13:00:00 +0100] \"GET /cart?x=1 HTTP/1.1\" 200 512 \"https://shop.example/\" \"Mozilla/5.0 (X11)\"\n",
            "203.0.113.9 - - [25/Nov/2026:13:00:01 +0100] \"POST /checkout HTTP/1.1\" 302 - \"-\" \"curl/8\"\n",
            "10.0.0.1 - - 25/Nov/2026 \"GET / HTTP/1.1\" 200 1\n",
        );
        let p = parse(log.as_bytes(), 0);
        assert_eq!(p.rows.len(), 2);
        let r = &p.rows[0].cells;
        assert_eq!(r[2], Value::str("alice"));
        assert_eq!(r[3].to_string(), "2026-11-25 12:00:00.000000");
        assert_eq!(
            (r[4].clone(), r[5].clone(), r[7].clone()),
            (Value::str("GET"), Value::str("/cart?x=1"), Value::Int(200))
        );
        assert_eq!(r[10], Value::str("Mozilla/5.0 (X11)"));
        assert_eq!(p.rows[1].cells[8], Value::Null);
        assert_eq!(p.rejected.len(), 1);
        assert_eq!(p.rejected[0].1.field, "time");
    }
}
