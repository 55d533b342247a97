//! The pieces of an extraction query both SQL dialects share: the user's query as a
//! subquery `q`, the cursor value as text, and the order that makes parts repeatable
//! (cursor, then key, so equal cursors come out the same way every time).

/// The pipeline's query, without a trailing `;`, to wrap as `(...) q`.
pub fn inner(query: &str) -> &str {
    query.trim().trim_end_matches(';')
}

/// A cursor value from a manifest as the text the database compares against.
pub fn cursor_text(v: &serde_json::Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_string)
}

/// ` ORDER BY q.cursor, q.key...`, or nothing, with identifiers quoted by `ident`.
pub fn order_by(cursor: Option<&String>, key: &[String], ident: fn(&str) -> String) -> String {
    let order: Vec<String> = cursor.into_iter().chain(key.iter()).map(|c| format!("q.{}", ident(c))).collect();
    if order.is_empty() {
        String::new()
    } else {
        format!(" ORDER BY {}", order.join(", "))
    }
}
