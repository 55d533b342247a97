//! The AWS clients, built once at cold start.
//!
//! Credentials and region come from the standard chain (the Lambda environment, a
//! profile, `AWS_*` variables). `TIDEMARK_AWS_ENDPOINT`, when set, sends every client to
//! one endpoint instead of AWS (moto, LocalStack); S3 then uses path-style addressing,
//! which is what emulators on a single host:port serve.

use aws_config::{BehaviorVersion, SdkConfig};

pub const ENDPOINT_VAR: &str = "TIDEMARK_AWS_ENDPOINT";

#[derive(Debug, thiserror::Error)]
pub enum AwsConfigError {
    #[error("{var}: {reason}")]
    Invalid { var: &'static str, reason: String },
}

/// Where the clients send their requests: AWS itself, or an emulator's URL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Endpoint(Option<String>);

impl Endpoint {
    pub fn aws() -> Self {
        Endpoint(None)
    }

    pub fn parse(url: &str) -> Result<Self, AwsConfigError> {
        let rest = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://"));
        match rest {
            Some(host) if !host.is_empty() && !host.contains(' ') => {
                Ok(Endpoint(Some(url.trim_end_matches('/').into())))
            }
            _ => Err(AwsConfigError::Invalid {
                var: ENDPOINT_VAR,
                reason: format!("{url:?} is not an http:// or https:// URL"),
            }),
        }
    }

    pub fn url(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

#[derive(Clone, Debug)]
pub struct AwsClients {
    /// The loaded configuration (credentials, region), e.g. for signing OpenSearch.
    pub sdk: SdkConfig,
    pub kinesis: aws_sdk_kinesis::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub s3: aws_sdk_s3::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub redshift: aws_sdk_redshiftdata::Client,
    pub sns: aws_sdk_sns::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
}

impl AwsClients {
    /// The standard credential and region chain, plus the endpoint override.
    pub async fn load(endpoint: &Endpoint) -> Self {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(url) = endpoint.url() {
            loader = loader.endpoint_url(url);
        }
        Self::from_sdk(&loader.load().await, endpoint.url().is_some())
    }

    pub fn from_sdk(sdk: &SdkConfig, path_style: bool) -> Self {
        let s3 = aws_sdk_s3::config::Builder::from(sdk).force_path_style(path_style).build();
        Self {
            sdk: sdk.clone(),
            kinesis: aws_sdk_kinesis::Client::new(sdk),
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            s3: aws_sdk_s3::Client::from_conf(s3),
            secrets: aws_sdk_secretsmanager::Client::new(sdk),
            redshift: aws_sdk_redshiftdata::Client::new(sdk),
            sns: aws_sdk_sns::Client::new(sdk),
            lambda: aws_sdk_lambda::Client::new(sdk),
            cloudwatch: aws_sdk_cloudwatch::Client::new(sdk),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_must_be_a_url() {
        assert_eq!(Endpoint::parse("http://127.0.0.1:5000/").unwrap().url(), Some("http://127.0.0.1:5000"));
        let err = Endpoint::parse("127.0.0.1:5000").unwrap_err().to_string();
        assert!(err.starts_with("TIDEMARK_AWS_ENDPOINT:"), "{err}");
    }
}
