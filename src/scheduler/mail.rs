//! Mails a report's file through `[smtp]` (lettre, TLS by rustls).

use std::path::Path;
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{Report, Smtp, SmtpTls};

/// How long a mail server may take to answer.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Sends the file of a run to the report's addresses; the error says what
/// failed, without secrets.
pub async fn send(
    smtp: &Smtp,
    report: &Report,
    path: &Path,
    bytes: Vec<u8>,
    period: &str,
) -> Result<(), String> {
    let message = message(smtp, report, path, bytes, period)?;
    deliver(smtp, message).await
}

/// Sends a mail through `[smtp]`; the error says what failed, without
/// secrets.
pub async fn deliver(smtp: &Smtp, message: Message) -> Result<(), String> {
    let builder = match smtp.tls {
        SmtpTls::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host),
        SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host),
        SmtpTls::None => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(
            smtp.host.as_str(),
        )),
    }
    .map_err(|e| format!("smtp {}: {e}", smtp.host))?;
    let mut builder = builder.port(smtp.port).timeout(Some(TIMEOUT));
    if let Some((user, password)) = &smtp.login {
        builder = builder.credentials(Credentials::new(user.clone(), password.expose().to_owned()));
    }
    let transport = builder.build();
    transport.send(message).await.map(|_| ()).map_err(|e| {
        format!(
            "smtp {}:{} ({}): {e}",
            smtp.host,
            smtp.port,
            smtp.tls.name()
        )
    })
}

/// The mail: a short text and the file attached.
/// A mail address of the config as lettre takes it.
pub fn mailbox(text: &str) -> Result<Mailbox, String> {
    text.parse::<Mailbox>()
        .map_err(|e| format!("`{text}` is not a mail address: {e}"))
}

fn message(
    smtp: &Smtp,
    report: &Report,
    path: &Path,
    bytes: Vec<u8>,
    period: &str,
) -> Result<Message, String> {
    let parse = mailbox;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| report.name.clone());
    let content_type = ContentType::parse(report.format.content_type())
        .map_err(|e| format!("content type: {e}"))?;
    let text = format!(
        "The {} report \"{}\" for {period} is attached ({file_name}, {} bytes).\n\
         It is also kept at {}.\n\n-- telleverk\n",
        report.kind.name(),
        report.name,
        bytes.len(),
        path.display()
    );
    let mut builder = Message::builder()
        .from(parse(&smtp.from)?)
        .subject(format!("telleverk: {} {period}", report.name));
    for to in &report.email_to {
        builder = builder.to(parse(to)?);
    }
    builder
        .multipart(
            MultiPart::mixed()
                .singlepart(SinglePart::plain(text))
                .singlepart(Attachment::new(file_name).body(bytes, content_type)),
        )
        .map_err(|e| format!("cannot build the mail: {e}"))
}
