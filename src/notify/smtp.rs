//! E-mail through SMTP (lettre): plain, STARTTLS or TLS, with optional credentials.

use super::{Message, SendError};
use crate::config::{SmtpConfig, SmtpTls};
use lettre::message::{header::ContentType, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

pub struct SmtpSender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl SmtpSender {
    pub fn new(c: &SmtpConfig) -> Result<Self, String> {
        let builder = match c.tls {
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&c.host),
            SmtpTls::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&c.host)
                .map_err(|e| format!("PINPAY_SMTP_HOST: {e}"))?,
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&c.host)
                .map_err(|e| format!("PINPAY_SMTP_HOST: {e}"))?,
        };
        let mut builder = builder
            .port(c.port)
            .timeout(Some(std::time::Duration::from_secs(15)));
        if let (Some(user), Some(password)) = (&c.username, &c.password) {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password.expose().to_string(),
            ));
        }
        let from = c
            .from
            .parse()
            .map_err(|e| format!("PINPAY_SMTP_FROM: {e}"))?;
        Ok(Self {
            transport: builder.build(),
            from,
        })
    }

    pub async fn send(&self, m: &Message) -> Result<(), SendError> {
        let to: Mailbox = m.to.parse().map_err(|e| SendError {
            permanent: true,
            gone: false,
            detail: format!("recipient: {e}"),
        })?;
        let email = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&m.subject)
            // The same Message-ID on every retry: a receiver can tell a resend.
            .message_id(Some(format!("<{}@pinpay>", m.id)))
            .header(ContentType::TEXT_PLAIN)
            .body(m.text.clone())
            .map_err(|e| SendError {
                permanent: true,
                gone: false,
                detail: format!("message: {e}"),
            })?;
        match self.transport.send(email).await {
            Ok(_) => Ok(()),
            Err(e) => Err(SendError {
                permanent: e.is_permanent(),
                gone: false,
                detail: format!("smtp: {e}"),
            }),
        }
    }
}
