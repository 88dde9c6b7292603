//! SMS through an HTTP gateway: `POST {url}` with the JSON body
//! `{"id": "…", "from": sender, "to": "+49…", "text": "…"}`, the same id as
//! `Idempotency-Key` (a retry of one message carries the same id, so the gateway can drop
//! the duplicate), and `Authorization: Bearer {token}` when a token is configured; any 2xx
//! answer means accepted. A 4xx other than 408 and
//! 429 is a permanent refusal; anything else is retried.

use super::{Message, SendError};
use crate::config::SmsConfig;
use serde_json::json;

pub struct SmsGateway {
    http: reqwest::Client,
    url: String,
    token: Option<String>,
    sender: String,
}

impl SmsGateway {
    pub fn new(c: &SmsConfig, http: reqwest::Client) -> Self {
        Self {
            http,
            url: c.url.clone(),
            token: c.token.as_ref().map(|t| t.expose().to_string()),
            sender: c.sender.clone(),
        }
    }

    pub async fn send(&self, m: &Message) -> Result<(), SendError> {
        let mut req = self
            .http
            .post(&self.url)
            .timeout(std::time::Duration::from_secs(15))
            .header("Idempotency-Key", &m.id)
            .json(&json!({"id": m.id, "from": self.sender, "to": m.to, "text": m.text}));
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        let res = req
            .send()
            .await
            .map_err(|e| SendError::transient(format!("sms gateway: {e}")))?;
        let status = res.status();
        if status.is_success() {
            return Ok(());
        }
        let permanent =
            status.is_client_error() && status.as_u16() != 408 && status.as_u16() != 429;
        Err(SendError {
            permanent,
            gone: false,
            detail: format!("sms gateway answered {}", status.as_u16()),
        })
    }
}
