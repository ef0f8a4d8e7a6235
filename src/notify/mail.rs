//! [`Mailer`]: one mail, one SMTP delivery attempt — lettre's async transport on tokio with
//! rustls (ring; the system's CA store), as `[smtp]` says: `security = none | starttls | tls`,
//! optional authentication.
//!
//! Retries, grouping and bookkeeping are the outbox's; this file only talks SMTP. The password
//! is read once from `password_file` when the configuration loads and lives in a
//! [`Secret`](crate::config::Secret): it is in no `Debug` output, no log line, no error text.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{SmtpSecurity, SmtpSettings};

/// Why a mail was not delivered (the text goes into the notification log).
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("bad address {0:?}")]
    Address(String),
    #[error("cannot build the message: {0}")]
    Build(String),
    #[error("TLS setup: {0}")]
    Tls(String),
    #[error("SMTP: {0}")]
    Smtp(String),
    #[error("no answer from the SMTP server within {0:?}")]
    Timeout(Duration),
}

/// Sends mail through the configured SMTP server.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    timeout: Duration,
    /// `host:port`, for logs.
    server: String,
}

impl Mailer {
    /// The transport for `settings` (no connection is made yet).
    pub fn new(settings: &SmtpSettings) -> Result<Mailer, MailError> {
        let from: Mailbox = settings
            .from
            .parse()
            .map_err(|_| MailError::Address(settings.from.clone()))?;
        let tls = |host: &str| {
            let mut builder = TlsParameters::builder(host.to_string());
            if let Some(pem) = &settings.ca_pem {
                use rustls::pki_types::{CertificateDer, pem::PemObject};
                // A CA file often holds a chain; lettre's Certificate takes one at a time.
                for der in CertificateDer::pem_slice_iter(pem) {
                    let der = der.map_err(|e| MailError::Tls(format!("smtp.ca_file: {e}")))?;
                    let certificate = Certificate::from_der(der.to_vec())
                        .map_err(|e| MailError::Tls(format!("smtp.ca_file: {e}")))?;
                    builder = builder.add_root_certificate(certificate);
                }
            }
            builder
                .build_rustls()
                .map_err(|e| MailError::Tls(e.to_string()))
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host)
            .port(settings.port)
            .timeout(Some(settings.timeout));
        builder = match settings.security {
            SmtpSecurity::None => builder.tls(Tls::None),
            SmtpSecurity::StartTls => builder.tls(Tls::Required(tls(&settings.host)?)),
            SmtpSecurity::Tls => builder.tls(Tls::Wrapper(tls(&settings.host)?)),
        };
        if let (Some(user), Some(password)) = (&settings.username, &settings.password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.0.clone()));
        }
        Ok(Mailer {
            transport: builder.build(),
            from,
            timeout: settings.timeout,
            server: format!("{}:{}", settings.host, settings.port),
        })
    }

    /// `host:port` of the server.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// Builds the mail (text and HTML alternatives) without sending it.
    pub fn message(
        &self,
        to: &str,
        subject: &str,
        text: &str,
        html: &str,
    ) -> Result<Message, MailError> {
        let to: Mailbox = to.parse().map_err(|_| MailError::Address(to.to_string()))?;
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .multipart(
                MultiPart::alternative()
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_PLAIN)
                            .body(text.to_string()),
                    )
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_HTML)
                            .body(html.to_string()),
                    ),
            )
            .map_err(|e| MailError::Build(e.to_string()))
    }

    /// One delivery attempt, bounded by the configured timeout as a whole.
    pub async fn send(
        &self,
        to: &str,
        subject: &str,
        text: &str,
        html: &str,
    ) -> Result<(), MailError> {
        let message = self.message(to, subject, text, html)?;
        // lettre's timeout is per command; this one bounds the whole dialogue too.
        let whole = self.timeout.saturating_mul(3);
        match tokio::time::timeout(whole, self.transport.send(message)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => Err(MailError::Smtp(error.to_string())),
            Err(_) => Err(MailError::Timeout(whole)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn settings(security: SmtpSecurity) -> SmtpSettings {
        SmtpSettings {
            host: "127.0.0.1".into(),
            port: 1,
            security,
            username: Some("u".into()),
            password: Some(Secret("hunter2".into())),
            from: "trapline@example.net".into(),
            timeout: Duration::from_secs(2),
            ca_pem: None,
        }
    }

    #[tokio::test]
    async fn a_refused_connection_is_an_error_without_the_password() {
        for security in [
            SmtpSecurity::None,
            SmtpSecurity::StartTls,
            SmtpSecurity::Tls,
        ] {
            let mailer = Mailer::new(&settings(security)).unwrap();
            let error = mailer
                .send("ops@example.net", "s", "t", "<p>h</p>")
                .await
                .unwrap_err()
                .to_string();
            assert!(!error.contains("hunter2"), "{error}");
        }
        let mailer = Mailer::new(&settings(SmtpSecurity::None)).unwrap();
        assert!(matches!(
            mailer.send("not an address", "s", "t", "h").await,
            Err(MailError::Address(_))
        ));
        let formatted = String::from_utf8(
            mailer
                .message(
                    "ops@example.net",
                    "[CRITICAL] db1: disk",
                    "plain",
                    "<p>html</p>",
                )
                .unwrap()
                .formatted(),
        )
        .unwrap();
        assert!(formatted.contains("Subject: [CRITICAL] db1: disk"));
        assert!(formatted.contains("multipart/alternative"));
    }
}
