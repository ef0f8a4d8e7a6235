//! [`WebhookSender`]: one webhook call, one attempt — POST of a JSON body to a configured URL
//! (reqwest on rustls with ring, the system's CA store). A 2xx answer is delivered; anything
//! else (another status, a refused connection, the timeout) is an error the outbox retries
//! like a mail.

use std::time::Duration;

/// Why a call failed (the text goes into the notification log).
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("the receiver answered {status}: {body}")]
    Status { status: u16, body: String },
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("{0}")]
    Request(String),
}

/// Longest part of a receiver's error body kept for the log.
const MAX_ERROR_BODY: usize = 200;

/// Posts webhook bodies; one connection pool for every receiver.
#[derive(Clone)]
pub struct WebhookSender {
    client: reqwest::Client,
}

impl WebhookSender {
    pub fn new() -> Result<WebhookSender, WebhookError> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("trapline/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| WebhookError::Request(e.to_string()))?;
        Ok(WebhookSender { client })
    }

    /// POSTs `json` to `url` within `timeout`.
    pub async fn send(&self, url: &str, json: &str, timeout: Duration) -> Result<(), WebhookError> {
        let request = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(json.to_string())
            .timeout(timeout);
        let response = request.send().await.map_err(|e| {
            if e.is_timeout() {
                WebhookError::Timeout(timeout)
            } else {
                WebhookError::Request(without_url(&e))
            }
        })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let body = response.text().await.unwrap_or_default();
        Err(WebhookError::Status {
            status: status.as_u16(),
            body: body.chars().take(MAX_ERROR_BODY).collect(),
        })
    }
}

/// The error's text without the URL, which may carry a token in its query.
fn without_url(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text.replace(url.as_str(), "(webhook url)");
    }
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}
