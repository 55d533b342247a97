//! Requests to AWS APIs, signed with Signature Version 4 by `aws-sigv4` (the SDK's own
//! signer), for the DynamoDB source and `tidemark pipeline push`.
//!
//! Written with the signer and reqwest rather than `aws-sdk-dynamodb` and `aws-sdk-s3`
//! because the local `tidemark` binary does not link the AWS SDK (it is most of its
//! build), and because the DynamoDB source keeps items exactly as the API returns them
//! (DynamoDB JSON), which the SDK would decode into its own types first. Each call here
//! is one signed HTTP request.
//!
//! Credentials come from `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and
//! `AWS_SESSION_TOKEN` (what Lambda sets; elsewhere `aws configure export-credentials
//! --format env` prints them for any profile), the region from `AWS_REGION`.
//! `TIDEMARK_AWS_ENDPOINT` sends requests to one endpoint instead of AWS (moto,
//! LocalStack), as it does for the AWS adapters.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;

/// Larger answers are refused before they are read: a DynamoDB page is at most 1 MB.
pub const MAX_ANSWER_BYTES: usize = 16 << 20;

const ENDPOINT_VAR: &str = "TIDEMARK_AWS_ENDPOINT";

#[derive(Debug, thiserror::Error)]
pub enum AwsApiError {
    #[error(
        "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY \
         (for a profile: eval \"$(aws configure export-credentials --format env)\")"
    )]
    NoCredentials,
    #[error("no AWS region: set AWS_REGION")]
    NoRegion,
    #[error("{ENDPOINT_VAR} {0:?} is not an http(s) URL")]
    BadEndpoint(String),
    #[error("signing the request: {0}")]
    Sign(String),
    #[error("{service}: {source}")]
    Http { service: &'static str, source: reqwest::Error },
    #[error("{service} answered {status}: {code}: {message}")]
    Refused { service: &'static str, status: u16, code: String, message: String },
    #[error("{service} answered more than {MAX_ANSWER_BYTES} bytes")]
    TooLarge { service: &'static str },
    #[error("{service} answered something that is not JSON: {source}")]
    NotJson { service: &'static str, source: serde_json::Error },
}

impl AwsApiError {
    /// Worth another try: throttling, a server error, or the connection.
    pub fn is_transient(&self) -> bool {
        match self {
            AwsApiError::Http { .. } => true,
            AwsApiError::Refused { status, code, .. } => {
                *status >= 500 || code.contains("Throttl") || code.contains("ProvisionedThroughputExceeded")
            }
            _ => false,
        }
    }
}

/// Where and as whom requests go; read once from the environment.
#[derive(Clone)]
pub struct AwsApi {
    identity: Identity,
    region: String,
    endpoint: Option<String>,
    http: reqwest::Client,
}

impl std::fmt::Debug for AwsApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsApi").field("region", &self.region).field("endpoint", &self.endpoint).finish()
    }
}

impl AwsApi {
    pub fn from_env() -> Result<Self, AwsApiError> {
        Self::from_vars(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
    }

    /// From variables looked up by name, for tests.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, AwsApiError> {
        let (Some(key), Some(secret)) = (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) else {
            return Err(AwsApiError::NoCredentials);
        };
        let endpoint = match var(ENDPOINT_VAR) {
            Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
                Some(url.trim_end_matches('/').to_owned())
            }
            Some(url) => return Err(AwsApiError::BadEndpoint(url)),
            None => None,
        };
        // An emulator does not care which region; AWS does.
        let region = match (var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")), &endpoint) {
            (Some(region), _) => region,
            (None, Some(_)) => "us-east-1".to_owned(),
            (None, None) => return Err(AwsApiError::NoRegion),
        };
        let credentials = Credentials::new(key, secret, var("AWS_SESSION_TOKEN"), None, "environment");
        let tls = crate::tls::client_config(&crate::tls::Tls::Verify { ca: None })
            .map_err(|e| AwsApiError::Sign(e.to_string()))?;
        let mut http =
            reqwest::Client::builder().connect_timeout(Duration::from_secs(10)).timeout(Duration::from_secs(120));
        if let Some(tls) = tls {
            http = http.use_preconfigured_tls(tls);
        }
        let http = http.build().map_err(|source| AwsApiError::Http { service: "http client", source })?;
        Ok(AwsApi { identity: credentials.into(), region, endpoint, http })
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    /// One call of DynamoDB's JSON API (`Scan`, `DescribeTable`, ...).
    pub async fn dynamodb(&self, action: &str, body: &serde_json::Value) -> Result<serde_json::Value, AwsApiError> {
        const SERVICE: &str = "dynamodb";
        let url = match &self.endpoint {
            Some(endpoint) => format!("{endpoint}/"),
            None => format!("https://dynamodb.{}.amazonaws.com/", self.region),
        };
        let body = serde_json::to_vec(body).map_err(|source| AwsApiError::NotJson { service: SERVICE, source })?;
        let headers = [
            ("content-type", "application/x-amz-json-1.0".to_owned()),
            ("x-amz-target", format!("DynamoDB_20120810.{action}")),
        ];
        let answer = self.send(SERVICE, "POST", &url, &headers, body, SigningSettings::default()).await?;
        serde_json::from_slice(&answer).map_err(|source| AwsApiError::NotJson { service: SERVICE, source })
    }

    /// Puts one object into S3 (path-style on an emulator, virtual-hosted on AWS).
    pub async fn s3_put(&self, bucket: &str, key: &str, bytes: Vec<u8>) -> Result<(), AwsApiError> {
        let path: String = key.split('/').map(urlencoding).collect::<Vec<_>>().join("/");
        let url = match &self.endpoint {
            Some(endpoint) => format!("{endpoint}/{bucket}/{path}"),
            None => format!("https://{bucket}.s3.{}.amazonaws.com/{path}", self.region),
        };
        let mut settings = SigningSettings::default();
        // S3 signs the payload's hash in a header and takes the path as it is.
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        self.send("s3", "PUT", &url, &[], bytes, settings).await.map(drop)
    }

    async fn send(
        &self,
        service: &'static str,
        method: &str,
        url: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
        settings: SigningSettings,
    ) -> Result<Vec<u8>, AwsApiError> {
        let sign_error = |e: &dyn std::fmt::Display| AwsApiError::Sign(e.to_string());
        let params = v4::SigningParams::builder()
            .identity(&self.identity)
            .region(&self.region)
            .name(service)
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .map_err(|e| sign_error(&e))?
            .into();
        let signable = SignableRequest::new(
            method,
            url,
            headers.iter().map(|(name, value)| (*name, value.as_str())),
            SignableBody::Bytes(&body),
        )
        .map_err(|e| sign_error(&e))?;
        let (instructions, _) = sign(signable, &params).map_err(|e| sign_error(&e))?.into_parts();
        let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| sign_error(&e))?;
        let mut request = self.http.request(method, url);
        for (name, value) in headers.iter().map(|(n, v)| (*n, v.as_str())).chain(instructions.headers()) {
            request = request.header(name, value);
        }
        let http = |source| AwsApiError::Http { service, source };
        let mut response = request.body(body).send().await.map_err(http)?;
        let status = response.status();
        if response.content_length().is_some_and(|n| n > MAX_ANSWER_BYTES as u64) {
            return Err(AwsApiError::TooLarge { service });
        }
        let mut answer = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(http)? {
            if answer.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(AwsApiError::TooLarge { service });
            }
            answer.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            let (code, message) = refusal(&answer);
            return Err(AwsApiError::Refused { service, status: status.as_u16(), code, message });
        }
        Ok(answer)
    }
}

/// The error code and message of a refusal: DynamoDB's JSON (`__type`, `message`) or
/// S3's XML (`<Code>`, `<Message>`).
fn refusal(body: &[u8]) -> (String, String) {
    if let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) {
        let text = |key: &str| json.get(key).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
        let code = text("__type");
        let message = if text("message").is_empty() { text("Message") } else { text("message") };
        return (code.rsplit('#').next().unwrap_or_default().to_owned(), message);
    }
    let text = String::from_utf8_lossy(body);
    let tag = |name: &str| {
        let open = format!("<{name}>");
        let start = text.find(&open)? + open.len();
        let end = text[start..].find(&format!("</{name}>"))? + start;
        Some(text[start..end].to_owned())
    };
    let fallback: String = text.chars().take(200).collect();
    (tag("Code").unwrap_or_default(), tag("Message").unwrap_or(fallback))
}

/// Percent-encodes one path segment as S3 expects (RFC 3986 unreserved characters kept).
fn urlencoding(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| (*v).to_owned())
    }

    #[test]
    fn credentials_and_a_region_are_required_against_aws() {
        let err = AwsApi::from_vars(vars(&[("AWS_REGION", "eu-west-1")])).unwrap_err();
        assert!(err.to_string().contains("AWS_ACCESS_KEY_ID"), "{err}");
        let keys = [("AWS_ACCESS_KEY_ID", "k"), ("AWS_SECRET_ACCESS_KEY", "s")];
        assert!(matches!(AwsApi::from_vars(vars(&keys)), Err(AwsApiError::NoRegion)));
        let with_endpoint = [keys[0], keys[1], ("TIDEMARK_AWS_ENDPOINT", "http://127.0.0.1:5000/")];
        let api = AwsApi::from_vars(vars(&with_endpoint)).unwrap();
        assert_eq!((api.region(), api.endpoint.as_deref()), ("us-east-1", Some("http://127.0.0.1:5000")));
        let bad = [keys[0], keys[1], ("TIDEMARK_AWS_ENDPOINT", "file:///etc")];
        assert!(matches!(AwsApi::from_vars(vars(&bad)), Err(AwsApiError::BadEndpoint(_))));
    }

    #[test]
    fn refusals_name_the_code_from_json_or_xml() {
        let json = br#"{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"no table"}"#;
        assert_eq!(refusal(json), ("ResourceNotFoundException".to_owned(), "no table".to_owned()));
        let xml = b"<Error><Code>NoSuchBucket</Code><Message>The bucket does not exist</Message></Error>";
        assert_eq!(refusal(xml), ("NoSuchBucket".to_owned(), "The bucket does not exist".to_owned()));
        let throttled = AwsApiError::Refused {
            service: "dynamodb",
            status: 400,
            code: "ProvisionedThroughputExceededException".into(),
            message: String::new(),
        };
        assert!(throttled.is_transient());
        let missing =
            AwsApiError::Refused { service: "s3", status: 404, code: "NoSuchBucket".into(), message: String::new() };
        assert!(!missing.is_transient());
    }

    #[test]
    fn object_keys_are_encoded_per_segment() {
        assert_eq!(urlencoding("pipeline.toml"), "pipeline.toml");
        assert_eq!(urlencoding("a b+c"), "a%20b%2Bc");
    }
}
