//! Who may read: the guard in front of the read side (reports, stats, reconciliation,
//! watermarks, the dashboard).
//!
//! - **Host.** Where the read side listens on loopback, a request must name a loopback
//!   host (or one the operator allowed): a web page that rebinds its own DNS name to
//!   127.0.0.1 gets `421`, not the reports (DNS rebinding).
//! - **Admin token.** When one is configured, every request carries it, as
//!   `Authorization: Bearer <token>` (programs) or the `tidemark_admin` cookie that
//!   `POST /login` sets (browsers: the dashboard's own requests then carry it). Tokens
//!   are compared by SHA-256 digest, so the comparison takes the same time whatever
//!   prefix matches. Several tokens may be valid at once, for rotation.
//!
//! - **Origin.** A write (any method but GET, HEAD, OPTIONS) whose `Origin` is not this
//!   host gets `403`: a page of another site cannot Run now or redrive (CSRF).
//!
//! The token source is a trait: a fixed list locally, Secrets Manager re-read with a
//! short TTL on AWS, so that a revoked token stops working within minutes.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Json, Router};
use serde::Deserialize;
use serde_json::json;
use tidemark_core::secret::{digest, Digest, SecretError, SecretSet};

pub const COOKIE: &str = "tidemark_admin";

/// Where the valid admin tokens come from (see [`SecretSet`]).
pub type Tokens = Arc<dyn SecretSet>;

/// The read side's guard.
#[derive(Clone)]
pub struct AdminGuard {
    /// `None`: no token configured (only allowed on loopback).
    pub tokens: Option<Tokens>,
    /// `Some`: the Host names accepted (lowercase, without port); `None`: any (behind
    /// API Gateway, which routes by its own domain).
    pub hosts: Option<Arc<Vec<String>>>,
}

impl AdminGuard {
    /// The host names a loopback listener answers to, plus the operator's own.
    pub fn loopback_hosts(extra: &[String]) -> Vec<String> {
        let mut hosts: Vec<String> = ["localhost", "127.0.0.1", "[::1]"].map(String::from).to_vec();
        hosts.extend(extra.iter().map(|h| h.trim().to_ascii_lowercase()).filter(|h| !h.is_empty()));
        hosts
    }

    /// Wraps `router` (the read side) with the guard and adds `/login`.
    pub fn protect(self, router: Router) -> Router {
        let login = Router::new().route("/login", get(login_page).post(login));
        router.merge(login.with_state(self.clone())).layer(axum::middleware::from_fn_with_state(self, guard))
    }

    async fn token_ok(&self, presented: Option<&str>) -> Result<bool, SecretError> {
        let Some(tokens) = &self.tokens else { return Ok(true) };
        let Some(presented) = presented else { return Ok(false) };
        let valid = tokens.digests().await?;
        let presented = digest(presented);
        Ok(valid.iter().any(|d| d == &presented))
    }
}

fn host_of(headers: &HeaderMap) -> Option<String> {
    let host = headers.get(header::HOST)?.to_str().ok()?.trim().to_ascii_lowercase();
    // `[::1]:8081` keeps its brackets; `localhost:8081` loses its port.
    let name = match host.rfind(':') {
        Some(colon) if !host[colon..].contains(']') => host[..colon].to_owned(),
        _ => host,
    };
    Some(name)
}

/// A request that changes something (Run now, redrive, forget), sent by a page of
/// another site: the browser names that page's origin, and it is not this host. Without
/// this, any page a person on this machine opens could POST to the loopback console
/// (no token is needed there by default).
fn cross_site_write(request: &Request) -> bool {
    if matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return false;
    }
    let Some(origin) = request.headers().get(header::ORIGIN).and_then(|o| o.to_str().ok()) else { return false };
    let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest).to_ascii_lowercase();
    let host = request.headers().get(header::HOST).and_then(|h| h.to_str().ok()).map(str::to_ascii_lowercase);
    host.as_deref() != Some(origin_host.as_str())
}

fn presented_token(headers: &HeaderMap) -> Option<&str> {
    if let Some(bearer) =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "))
    {
        return Some(bearer.trim());
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim())
}

fn refusal(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

async fn guard(State(guard): State<AdminGuard>, request: Request, next: Next) -> Response {
    if let Some(hosts) = &guard.hosts {
        let host = host_of(request.headers());
        if !host.as_ref().is_some_and(|h| hosts.contains(h)) {
            tracing::warn!(host = ?host, "read request refused: host not allowed");
            return refusal(
                StatusCode::MISDIRECTED_REQUEST,
                "host not allowed on the read side; add it to TIDEMARK_ALLOWED_HOSTS",
            );
        }
    }
    if cross_site_write(&request) {
        tracing::warn!(origin = ?request.headers().get(header::ORIGIN), "cross-site write refused");
        return refusal(StatusCode::FORBIDDEN, "a write from another site's page is refused (Origin is not this host)");
    }
    let path = request.uri().path();
    if path == "/login" || guard.tokens.is_none() {
        return next.run(request).await;
    }
    match guard.token_ok(presented_token(request.headers())).await {
        Ok(true) => next.run(request).await,
        Ok(false) if request.method() == Method::GET && is_page(path) => Redirect::to("login").into_response(),
        Ok(false) => {
            let mut answer = refusal(StatusCode::UNAUTHORIZED, "an admin token is required (Authorization: Bearer)");
            answer.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
            answer
        }
        Err(error) => {
            tracing::error!(%error, "admin tokens unavailable");
            refusal(StatusCode::SERVICE_UNAVAILABLE, "admin tokens unavailable; try again")
        }
    }
}

/// The pages a person opens (the dashboard, the console): without a token they are sent
/// to sign in rather than answered with JSON.
fn is_page(path: &str) -> bool {
    path == "/" || path.ends_with('/') || path.ends_with("/console")
}

const LOGIN_PAGE: &str = r#"<!doctype html><meta charset="utf-8"><title>Tidemark sign-in</title>
<style>body{font:16px system-ui;margin:4rem auto;max-width:22rem}input,button{font:inherit;width:100%;margin:.3rem 0;padding:.4rem}</style>
<h1>Tidemark</h1><form method="post" action="login"><label>Admin token<input type="password" name="token" autofocus required></label><button>Sign in</button></form>"#;

async fn login_page() -> Html<&'static str> {
    Html(LOGIN_PAGE)
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
}

/// Checks the token and keeps it in an HTTP-only, same-site cookie for the dashboard's
/// requests; a wrong token gets the form again with `401`.
async fn login(State(guard): State<AdminGuard>, Form(form): Form<LoginForm>) -> Response {
    let token = form.token.trim();
    match guard.token_ok(Some(token)).await {
        Ok(true) => {
            let cookie = format!("{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/");
            let mut answer = Redirect::to("./").into_response();
            match header::HeaderValue::from_str(&cookie) {
                Ok(value) => {
                    answer.headers_mut().insert(header::SET_COOKIE, value);
                    answer
                }
                Err(_) => refusal(StatusCode::BAD_REQUEST, "the token holds characters a cookie cannot carry"),
            }
        }
        Ok(false) => (StatusCode::UNAUTHORIZED, Html(LOGIN_PAGE)).into_response(),
        Err(error) => {
            tracing::error!(%error, "admin tokens unavailable");
            refusal(StatusCode::SERVICE_UNAVAILABLE, "admin tokens unavailable; try again")
        }
    }
}

/// Tokens fixed at start (`TIDEMARK_ADMIN_TOKEN`, comma-separated for rotation).
pub struct FixedTokens(Vec<Digest>);

impl FixedTokens {
    pub fn new<'a>(tokens: impl IntoIterator<Item = &'a str>) -> Self {
        Self(tokens.into_iter().map(str::trim).filter(|t| !t.is_empty()).map(digest).collect())
    }
}

#[async_trait::async_trait]
impl SecretSet for FixedTokens {
    async fn digests(&self) -> Result<Vec<Digest>, SecretError> {
        Ok(self.0.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request as HttpRequest;
    use tower::ServiceExt;

    fn app(tokens: Option<&str>) -> Router {
        let guard = AdminGuard {
            tokens: tokens.map(|t| Arc::new(FixedTokens::new(t.split(','))) as Tokens),
            hosts: Some(Arc::new(AdminGuard::loopback_hosts(&["reports.internal".into()]))),
        };
        guard.protect(Router::new().route("/v1/stats", get(|| async { "stats" })).route("/", get(|| async { "page" })))
    }

    async fn status(app: Router, host: &str, extra: Option<(&str, &str)>, path: &str) -> StatusCode {
        let mut request = HttpRequest::get(path).header("host", host);
        if let Some((name, value)) = extra {
            request = request.header(name, value);
        }
        app.oneshot(request.body(Body::empty()).unwrap()).await.unwrap().status()
    }

    #[tokio::test]
    async fn a_rebound_host_is_refused() {
        assert_eq!(status(app(None), "127.0.0.1:8081", None, "/v1/stats").await, StatusCode::OK);
        assert_eq!(status(app(None), "localhost", None, "/v1/stats").await, StatusCode::OK);
        assert_eq!(status(app(None), "[::1]:8081", None, "/v1/stats").await, StatusCode::OK);
        assert_eq!(status(app(None), "REPORTS.internal:80", None, "/v1/stats").await, StatusCode::OK);
        assert_eq!(status(app(None), "evil.example:8081", None, "/v1/stats").await, StatusCode::MISDIRECTED_REQUEST);
    }

    #[tokio::test]
    async fn with_a_token_every_request_needs_it() {
        let tokens = Some("old-token-0123456789,new-token-0123456789");
        assert_eq!(status(app(tokens), "localhost", None, "/v1/stats").await, StatusCode::UNAUTHORIZED);
        let wrong = Some(("authorization", "Bearer nope"));
        assert_eq!(status(app(tokens), "localhost", wrong, "/v1/stats").await, StatusCode::UNAUTHORIZED);
        for token in ["old-token-0123456789", "new-token-0123456789"] {
            let bearer = format!("Bearer {token}");
            let ok = status(app(tokens), "localhost", Some(("authorization", &bearer)), "/v1/stats").await;
            assert_eq!(ok, StatusCode::OK, "both tokens of a rotation are valid");
        }
        let cookie = Some(("cookie", "theme=dark; tidemark_admin=new-token-0123456789"));
        assert_eq!(status(app(tokens), "localhost", cookie, "/v1/stats").await, StatusCode::OK);
        assert_eq!(status(app(tokens), "localhost", None, "/").await, StatusCode::SEE_OTHER, "a page sends to login");
    }

    #[tokio::test]
    async fn a_write_from_another_site_is_refused() {
        let app = || {
            let guard = AdminGuard { tokens: None, hosts: Some(Arc::new(AdminGuard::loopback_hosts(&[]))) };
            guard.protect(Router::new().route("/v1/jobs/x/runs", axum::routing::post(|| async { "started" })))
        };
        let post = |origin: Option<&str>| {
            let mut request = HttpRequest::post("/v1/jobs/x/runs").header("host", "127.0.0.1:8081");
            if let Some(origin) = origin {
                request = request.header("origin", origin);
            }
            request.body(Body::empty()).unwrap()
        };
        let status = |request: HttpRequest<Body>| async move { app().oneshot(request).await.unwrap().status() };
        assert_eq!(status(post(Some("https://evil.example"))).await, StatusCode::FORBIDDEN);
        assert_eq!(status(post(Some("http://127.0.0.1:9999"))).await, StatusCode::FORBIDDEN, "another port");
        assert_eq!(status(post(Some("http://127.0.0.1:8081"))).await, StatusCode::OK, "the console's own page");
        assert_eq!(status(post(None)).await, StatusCode::OK, "curl and programs send no Origin");
    }

    #[tokio::test]
    async fn login_sets_the_cookie_only_for_a_valid_token() {
        let post = |token: &str| {
            HttpRequest::post("/login")
                .header("host", "localhost")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from(format!("token={token}")))
                .unwrap()
        };
        let tokens = Some("good-token-0123456789");
        let answer = app(tokens).oneshot(post("good-token-0123456789")).await.unwrap();
        assert_eq!(answer.status(), StatusCode::SEE_OTHER);
        let cookie = answer.headers()[header::SET_COOKIE].to_str().unwrap();
        assert!(cookie.starts_with("tidemark_admin=good-token-0123456789;") && cookie.contains("HttpOnly"), "{cookie}");
        let answer = app(tokens).oneshot(post("bad")).await.unwrap();
        assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
        assert!(answer.headers().get(header::SET_COOKIE).is_none());
    }
}
