//! The reload providers behind one interface: where an order is placed and which secret
//! its confirmations are signed with.
//!
//! - `sandbox` (built in, not offered in production): placing an order is a no-op; the
//!   reload worker confirms it itself after `PINPAY_RELOAD_SANDBOX_DELAY_MS`.
//! - `acquirer` (when `PINPAY_RELOAD_ACQUIRER_URL` is set): a card acquirer's hosted order
//!   flow in the shape of Worldpay's. The order is created by `POST` of JSON
//!   (`merchant_code, order_code, amount, currency, description, shopper,
//!   notification_url`), the acquirer answers `{reference, payment_url}`, the payer pays on
//!   that page, and the acquirer confirms at `notification_url` with a MAC.

use crate::config::{AcquirerConfig, Config, Environment};
use crate::domain::money::Money;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// What a provider needs to place an order.
pub struct OrderToPlace<'a> {
    pub order_code: &'a str,
    pub amount: Money,
    pub currency: &'a str,
    pub shopper: &'a str,
}

/// A placed order: the provider's reference and where the payer completes it.
#[derive(Debug, Default)]
pub struct Placement {
    pub reference: Option<String>,
    pub payment_url: Option<String>,
}

#[derive(Debug)]
pub enum PlaceError {
    /// Worth another try later (network, timeout, 5xx).
    Retry(String),
    /// The provider said no; the order fails.
    Refused(String),
}

pub enum Provider<'a> {
    Sandbox(&'a Config),
    Acquirer(&'a Config, &'a AcquirerConfig),
}

impl<'a> Provider<'a> {
    /// The provider of this name if this server offers it.
    pub fn named(config: &'a Config, name: &str) -> Option<Self> {
        match name {
            "sandbox" if config.environment != Environment::Production => {
                Some(Self::Sandbox(config))
            }
            "acquirer" => config
                .reload_acquirer
                .as_ref()
                .map(|a| Self::Acquirer(config, a)),
            _ => None,
        }
    }

    /// The names of the providers this server offers.
    pub fn offered(config: &Config) -> Vec<&'static str> {
        ["sandbox", "acquirer"]
            .into_iter()
            .filter(|n| Provider::named(config, n).is_some())
            .collect()
    }

    pub fn name(&self) -> &'static str {
        match self {
            Self::Sandbox(_) => "sandbox",
            Self::Acquirer(..) => "acquirer",
        }
    }

    /// The secret the provider's confirmation MACs are made with.
    pub fn mac_secret(&self) -> &str {
        match self {
            Self::Sandbox(c) => c.reload_sandbox_secret.expose(),
            Self::Acquirer(_, a) => a.mac_secret.expose(),
        }
    }

    pub async fn place(
        &self,
        http: &reqwest::Client,
        order: OrderToPlace<'_>,
    ) -> Result<Placement, PlaceError> {
        match self {
            Self::Sandbox(_) => Ok(Placement::default()),
            Self::Acquirer(config, a) => place_with_acquirer(http, config, a, order).await,
        }
    }
}

#[derive(Serialize)]
struct AcquirerOrder<'a> {
    merchant_code: &'a str,
    order_code: &'a str,
    amount: String,
    currency: &'a str,
    description: String,
    shopper: &'a str,
    notification_url: String,
}

#[derive(Deserialize)]
struct AcquirerAnswer {
    reference: String,
    payment_url: String,
}

async fn place_with_acquirer(
    http: &reqwest::Client,
    config: &Config,
    a: &AcquirerConfig,
    order: OrderToPlace<'_>,
) -> Result<Placement, PlaceError> {
    let body = AcquirerOrder {
        merchant_code: &a.merchant_code,
        order_code: order.order_code,
        amount: order.amount.to_string(),
        currency: order.currency,
        description: format!("PinPay reload for {}", order.shopper),
        shopper: order.shopper,
        notification_url: format!("{}/v1/reload/confirmations/acquirer", config.public_url),
    };
    // The order code is the acquirer's deduplication key: a placement retried after an
    // instance died mid-send names the same order.
    let mut req = http
        .post(&a.url)
        .timeout(Duration::from_secs(10))
        .header("Idempotency-Key", body.order_code)
        .json(&body);
    if let Some(password) = &a.password {
        req = req.basic_auth(&a.merchant_code, Some(password.expose()));
    }
    let res = req
        .send()
        .await
        .map_err(|e| PlaceError::Retry(format!("the acquirer could not be reached ({e})")))?;
    let status = res.status();
    if status.is_server_error() || status.as_u16() == 429 {
        return Err(PlaceError::Retry(format!(
            "the acquirer answered HTTP {status}"
        )));
    }
    if !status.is_success() {
        return Err(PlaceError::Refused(format!(
            "the acquirer refused the order (HTTP {})",
            status.as_u16()
        )));
    }
    let answer: AcquirerAnswer = res
        .json()
        .await
        .map_err(|_| PlaceError::Retry("the acquirer's answer is not the expected JSON".into()))?;
    let url_ok = answer.payment_url.len() <= 2048
        && matches!(url::Url::parse(&answer.payment_url), Ok(u) if matches!(u.scheme(), "http" | "https"));
    if !url_ok || answer.reference.is_empty() || answer.reference.len() > 128 {
        return Err(PlaceError::Retry(
            "the acquirer's answer has no usable reference or payment_url".into(),
        ));
    }
    Ok(Placement {
        reference: Some(answer.reference),
        payment_url: Some(answer.payment_url),
    })
}
