//! Sending payment links to people: the `Notifier` picks, per channel, the real sink the
//! configuration names (SMTP for e-mail, an HTTP gateway for SMS) or the log sink, the
//! default, so development needs nothing. Queueing, retries and the record of every
//! send live in `services::payments::link_sends`; this module only talks to the outside.

pub mod push;
pub mod sms;
pub mod smtp;

use crate::config::Config;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Email,
    Sms,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Sms => "sms",
        }
    }

    pub fn from_db(s: &str) -> Self {
        match s {
            "sms" => Self::Sms,
            _ => Self::Email,
        }
    }
}

/// One message to one recipient. `subject` is used by e-mail only.
#[derive(Clone, Debug)]
pub struct Message {
    /// Stable across retries of the same message: a gateway deduplicates on it (sends are
    /// at least once: an instance that dies between the send and its record sends again).
    pub id: String,
    pub channel: Channel,
    pub to: String,
    pub subject: String,
    pub text: String,
}

/// Why a send failed: `permanent` failures are not retried (a recipient the server
/// refuses outright); everything else is.
#[derive(Debug)]
pub struct SendError {
    pub permanent: bool,
    /// The recipient no longer exists (a push subscription the push service dropped).
    pub gone: bool,
    pub detail: String,
}

impl SendError {
    pub fn transient(detail: impl Into<String>) -> Self {
        Self {
            permanent: false,
            gone: false,
            detail: detail.into(),
        }
    }
}

enum EmailSink {
    Log,
    Smtp(Box<smtp::SmtpSender>),
}

enum SmsSink {
    Log,
    Gateway(sms::SmsGateway),
}

pub struct Notifier {
    email: EmailSink,
    sms: SmsSink,
    /// Web Push, when a VAPID key is configured.
    push: Option<push::Pusher>,
}

impl Notifier {
    pub fn from_config(config: &Config, http: reqwest::Client) -> Result<Self, String> {
        let sms_http = http.clone();
        let email = match &config.smtp {
            Some(c) => EmailSink::Smtp(Box::new(smtp::SmtpSender::new(c)?)),
            None => EmailSink::Log,
        };
        let sms = match &config.sms {
            Some(c) => SmsSink::Gateway(sms::SmsGateway::new(c, sms_http)),
            None => SmsSink::Log,
        };
        let push = match &config.vapid_private_key {
            Some(k) => Some(push::Pusher::new(k.expose(), &config.vapid_subject, http)?),
            None => None,
        };
        Ok(Self { email, sms, push })
    }

    /// Pushes `payload` to a wallet's subscription.
    pub async fn push(&self, to: &push::Target, payload: &[u8]) -> Result<(), SendError> {
        match &self.push {
            Some(p) => p.send(to, payload).await,
            None => Err(SendError {
                permanent: true,
                gone: false,
                detail: "push is not configured (PINPAY_VAPID_PRIVATE_KEY)".into(),
            }),
        }
    }

    pub async fn send(&self, m: &Message) -> Result<(), SendError> {
        match (m.channel, &self.email, &self.sms) {
            (Channel::Email, EmailSink::Smtp(s), _) => s.send(m).await,
            (Channel::Sms, _, SmsSink::Gateway(g)) => g.send(m).await,
            (channel, _, _) => {
                // The log sink: the message is "delivered" to the server log.
                tracing::info!(
                    channel = channel.as_str(),
                    to = %m.to,
                    subject = %m.subject,
                    text = %m.text,
                    "message delivered to the log sink"
                );
                Ok(())
            }
        }
    }
}
