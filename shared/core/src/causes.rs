//! An error's text with the chain of its causes: drivers and the AWS SDK often say
//! only "error performing TLS handshake" or "dispatch failure" at the top, and why
//! (an untrusted certificate, a refused connection) only in a source.

/// `error: cause: cause of the cause ...`.
pub fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}
