//! The digest email: what it says (subject, plain text and HTML alternatives, per document the fix
//! hint and the ways back) and sending it through SMTP with lettre.

use std::fmt::Write as _;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};
use sj_shared::config::{AlertSettings, SmtpTls};

use crate::alert::{Alert, Disposition};
use crate::digest::{Digest, Entry};

/// What every email of one installation shares.
#[derive(Debug, Clone)]
pub struct Context {
    /// The installation's namespace (empty: none), shown in the subject so operators of several
    /// installations tell them apart.
    pub namespace: String,
    /// The parked queue's page in the RabbitMQ management UI.
    pub parked_queue_url: String,
}

impl Context {
    /// `vhost` as it appears in the AMQP URL's path (percent-encoded; empty means `/`).
    pub fn new(settings: &AlertSettings, namespace: &str, vhost: &str, parked_queue: &str) -> Self {
        let vhost = if vhost.is_empty() || vhost == "/" { "%2F" } else { vhost };
        let base = settings.rabbitmq_ui_url.trim_end_matches('/');
        Self {
            namespace: namespace.to_owned(),
            parked_queue_url: format!("{base}/#/queues/{vhost}/{parked_queue}"),
        }
    }
}

/// An email, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// `[sj-bridge] 3 documents need attention: 2 rejected (parse), 1 parked (mapping)`.
pub fn subject<T>(digest: &Digest<T>, context: &Context) -> String {
    let entries = digest.entries();
    let mut parts = Vec::new();
    for disposition in [Disposition::Rejected, Disposition::Parked] {
        let of_kind: Vec<&Alert> =
            entries.iter().map(|e| &e.alert).filter(|a| a.disposition == disposition).collect();
        if of_kind.is_empty() {
            continue;
        }
        let mut families: Vec<&str> = of_kind.iter().map(|a| a.family()).collect();
        families.sort_unstable();
        families.dedup();
        parts.push(format!("{} {} ({})", of_kind.len(), disposition.as_str(), families.join(", ")));
    }
    let tag = if context.namespace.is_empty() {
        "[sj-bridge]".to_owned()
    } else {
        format!("[sj-bridge {}]", context.namespace)
    };
    let (n, verb) = match entries.len() {
        1 => ("1 document".to_owned(), "needs"),
        n => (format!("{n} documents"), "need"),
    };
    format!("{tag} {n} {verb} attention: {}", parts.join(", "))
}

/// One document's lines, shared by the text and HTML forms: (label, value).
fn facts<T>(entry: &Entry<T>, context: &Context) -> Vec<(&'static str, String)> {
    let alert = &entry.alert;
    let mut facts = vec![
        ("Customer", alert.customer.clone().unwrap_or_else(|| "(not known)".to_owned())),
        ("Error", alert.kind.to_string()),
        ("Reason", alert.reason.clone()),
    ];
    facts.extend(alert.more_problems.iter().map(|p| ("Also", p.clone())));
    let mut attempts = alert.attempts.to_string();
    if entry.failures > 1 {
        let _ = write!(attempts, " (failed {} times since the last email)", entry.failures);
    }
    facts.push(("Attempts", attempts));
    facts.push(("First failure", alert.first_failure.clone().unwrap_or_else(|| "(not known)".to_owned())));
    if let Some(kept_at) = &alert.kept_at {
        facts.push(("File kept at", kept_at.clone()));
    }
    facts.push(("What to do", alert.kind.hint().to_owned()));
    match alert.disposition {
        Disposition::Parked => {
            facts.push(("Replay", format!("sjctl dlq replay --id {}", alert.parked_id)));
        }
        Disposition::Rejected => {
            // Never a quote message: nothing to replay. The record beside the parked messages
            // only informs; it can go once the file is fixed.
            facts.push((
                "Then",
                format!("sjctl dlq purge --id {}  (its record among the dead letters)", alert.parked_id),
            ));
        }
    }
    facts.push(("Dead letters", context.parked_queue_url.clone()));
    facts
}

fn heading<T>(entry: &Entry<T>) -> String {
    let alert = &entry.alert;
    let what = match alert.disposition {
        Disposition::Rejected => "REJECTED by the poller",
        Disposition::Parked => "PARKED",
    };
    format!("{}: {what}", alert.key.source)
}

/// Renders a digest as an email.
pub fn render<T>(digest: &Digest<T>, context: &Context) -> Rendered {
    let subject = subject(digest, context);
    let intro = "These Saberis documents did not become Jobber quotes and need a person.";

    let mut text = format!("{intro}\n\n");
    for (i, entry) in digest.entries().iter().enumerate() {
        let _ = writeln!(text, "{}. {}", i + 1, heading(entry));
        for (label, value) in facts(entry, context) {
            let _ = writeln!(text, "   {:<14} {value}", format!("{label}:"));
        }
        text.push('\n');
    }
    text.push_str(
        "-- \nsj-alerter: one email per window of failures; the same document failing again is counted.\n",
    );

    let mut html = String::from("<!DOCTYPE html>\n<html><body style=\"font-family: sans-serif\">\n");
    let _ = writeln!(html, "<p>{}</p>", escape(intro));
    for (i, entry) in digest.entries().iter().enumerate() {
        let _ = writeln!(html, "<h3>{}. {}</h3>", i + 1, escape(&heading(entry)));
        html.push_str("<table cellpadding=\"3\">\n");
        for (label, value) in facts(entry, context) {
            let value = match label {
                "Replay" | "Then" => format!("<code>{}</code>", escape(&value)),
                "Dead letters" => format!("<a href=\"{0}\">{0}</a>", escape(&value)),
                _ => escape(&value),
            };
            let _ = writeln!(html, "<tr><th align=\"left\" valign=\"top\">{label}</th><td>{value}</td></tr>");
        }
        html.push_str("</table>\n");
    }
    html.push_str("</body></html>\n");
    Rendered { subject, text, html }
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Settings the mailer cannot work with; found at start (exit code 1).
#[derive(Debug, thiserror::Error)]
pub enum MailConfigError {
    #[error("alerts.{key}: {value:?} is not an email address ({reason})")]
    Address { key: &'static str, value: String, reason: String },
    #[error("alerts.smtp: username and password go together (SJ_ALERTS__SMTP__PASSWORD or alerts.smtp.password_file)")]
    HalfCredentials,
    #[error("alerts.smtp: {0}")]
    Tls(String),
}

/// Why an email did not go out, classified once, here: the loop only reads the class.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The server was unreachable, timed out, or answered 4xx: try again later.
    #[error("{0}")]
    Transient(String),
    /// The server refused this email for good (5xx), or it could not be built: retrying the
    /// same email cannot help.
    #[error("{0}")]
    Permanent(String),
}

/// Sends emails to the configured recipients through the configured SMTP server.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Vec<Mailbox>,
}

impl Mailer {
    pub fn new(settings: &AlertSettings) -> Result<Self, MailConfigError> {
        let address = |key: &'static str, value: &str| {
            value.parse::<Mailbox>().map_err(|e| MailConfigError::Address {
                key,
                value: value.to_owned(),
                reason: e.to_string(),
            })
        };
        let from = address("from", &settings.from)?;
        let to = settings.to.iter().map(|t| address("to", t)).collect::<Result<Vec<_>, _>>()?;

        let smtp = &settings.smtp;
        type Transport = AsyncSmtpTransport<Tokio1Executor>;
        let tls_error = |e: lettre::transport::smtp::Error| MailConfigError::Tls(e.to_string());
        let builder = match smtp.tls {
            // No TLS: a relay on the same host or a private network.
            SmtpTls::None => Transport::builder_dangerous(&smtp.host),
            SmtpTls::Starttls => Transport::starttls_relay(&smtp.host).map_err(tls_error)?,
            SmtpTls::Tls => Transport::relay(&smtp.host).map_err(tls_error)?,
        };
        let mut builder = builder.port(smtp.port).timeout(Some(smtp.timeout.0));
        match (&smtp.username, &smtp.password) {
            (Some(user), Some(password)) => {
                if smtp.tls == SmtpTls::None {
                    tracing::warn!(host = %smtp.host, "alerts.smtp: sending the password without TLS");
                }
                builder = builder.credentials(Credentials::new(user.clone(), password.expose().to_owned()));
            }
            (None, None) => {}
            _ => return Err(MailConfigError::HalfCredentials),
        }
        Ok(Self { transport: builder.build(), from, to })
    }

    /// Sends one email; Ok once the server accepted it (250 after DATA).
    pub async fn send(&self, email: &Rendered) -> Result<(), SendError> {
        let mut builder = Message::builder().from(self.from.clone()).subject(&email.subject);
        for to in &self.to {
            builder = builder.to(to.clone());
        }
        let message = builder
            .multipart(MultiPart::alternative_plain_html(email.text.clone(), email.html.clone()))
            .map_err(|e| SendError::Permanent(format!("cannot build the email: {e}")))?;
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            // 530/534/535/538: the server refuses our login, not this email. Every email would
            // fail the same way until the configuration is fixed, so the alerts wait for it
            // rather than being parked one by one.
            Err(e) if e.status().is_some_and(|code| is_login_refused(&code.to_string())) => {
                Err(SendError::Transient(format!(
                    "the SMTP server refused the login (check alerts.smtp.username and the password): {e}"
                )))
            }
            Err(e) if e.is_permanent() => Err(SendError::Permanent(e.to_string())),
            Err(e) => Err(SendError::Transient(e.to_string())),
        }
    }
}

/// SMTP codes of a refused authentication (RFC 4954): 530, 534, 535, 538.
fn is_login_refused(code: &str) -> bool {
    matches!(code, "530" | "534" | "535" | "538")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::AlertKey;
    use crate::digest::Digests;
    use std::time::{Duration, Instant};

    fn alert(source: &str, disposition: Disposition, kind: &str) -> Alert {
        Alert {
            key: AlertKey { source: source.to_owned(), content_hash: None },
            disposition,
            parked_id: format!("id-{source}"),
            customer: (disposition == Disposition::Parked).then(|| "Harbour Lane <Builders>".to_owned()),
            kind: sj_shared::failure::KindName::parse(kind),
            reason: format!("{kind}: it went wrong"),
            more_problems: Vec::new(),
            attempts: 1,
            first_failure: Some("2026-01-02T03:04:05Z".to_owned()),
            kept_at: (disposition == Disposition::Rejected).then(|| format!("rejected/{source}")),
        }
    }

    fn context() -> Context {
        let settings = AlertSettings { rabbitmq_ui_url: "http://mq:15672/".to_owned(), ..Default::default() };
        Context::new(&settings, "", "%2f", "sj.quotes.dead")
    }

    fn digest(alerts: Vec<Alert>) -> Digest<()> {
        let t0 = Instant::now();
        let mut digests = Digests::new(Duration::from_secs(1), 50);
        for a in alerts {
            digests.add(a, (), t0);
        }
        digests.close_due(t0 + Duration::from_secs(1));
        digests.take_ready().unwrap()
    }

    #[test]
    fn the_subject_says_how_many_and_what_kind() {
        let d = digest(vec![
            alert("a.xml", Disposition::Rejected, "parse.malformed-xml"),
            alert("b.xml", Disposition::Rejected, "parse.invalid-value"),
            alert("c.json", Disposition::Parked, "mapping.no-customer-name"),
        ]);
        assert_eq!(
            subject(&d, &context()),
            "[sj-bridge] 3 documents need attention: 2 rejected (parse), 1 parked (mapping)"
        );
        let one = digest(vec![alert("a.xml", Disposition::Parked, "jobber.user-error")]);
        let ctx = Context { namespace: "acme".to_owned(), ..context() };
        assert_eq!(subject(&one, &ctx), "[sj-bridge acme] 1 document needs attention: 1 parked (jobber)");
    }

    #[test]
    fn the_dead_letters_page_is_in_the_brokers_virtual_host() {
        let settings = AlertSettings::default();
        let vhost = |url: &str| sj_shared::config::SecretUrl::parse(url).unwrap().path().to_owned();
        let context = Context::new(&settings, "", &vhost("amqp://mq:5672"), "sj.quotes.dead");
        assert_eq!(context.parked_queue_url, "http://127.0.0.1:15672/#/queues/%2F/sj.quotes.dead");
        let context = Context::new(&settings, "", &vhost("amqp://u:p@mq:5672/prod?heartbeat=30"), "q");
        assert_eq!(context.parked_queue_url, "http://127.0.0.1:15672/#/queues/prod/q");
        let context = Context::new(&settings, "", &vhost("amqp://guest:guest@127.0.0.1:5672/%2f"), "q");
        assert_eq!(context.parked_queue_url, "http://127.0.0.1:15672/#/queues/%2f/q");
    }

    fn fix_hint(kind: &str) -> &'static str {
        sj_shared::failure::KindName::parse(kind).hint()
    }

    #[test]
    fn the_fix_hint_is_the_most_specific_one() {
        assert!(fix_hint("parse.too-deep").contains("put it back in incoming/"));
        assert!(fix_hint("sanity.price-above-limit").contains("[sanity]"));
        assert!(fix_hint("mapping.no-customer-name").contains("mapping"));
        assert!(fix_hint("mapping.ambiguous-client").contains("the reason lists them"));
        assert!(fix_hint("routing.quote-missing").contains("po_quote_missing"));
    }

    #[test]
    fn a_refused_login_is_told_apart_from_a_refused_email() {
        assert!(is_login_refused("535") && is_login_refused("530"));
        assert!(!is_login_refused("550") && !is_login_refused("554"));
        assert!(fix_hint("jobber.unauthorized").contains("sjctl jobber connect"));
        assert!(fix_hint("jobber.unavailable").contains("check Jobber"));
        assert_eq!(fix_hint("something.new"), sj_shared::failure::UNKNOWN_KIND_HINT);
    }

    #[test]
    fn the_body_says_what_to_do_for_each_document_in_text_and_html() {
        let d = digest(vec![
            alert("price-slip.xml", Disposition::Rejected, "sanity.price-above-limit"),
            alert("bath.json", Disposition::Parked, "mapping.no-customer-name"),
        ]);
        let mail = render(&d, &context());
        let text = &mail.text;
        assert!(text.contains("1. price-slip.xml: REJECTED by the poller"), "{text}");
        assert!(text.contains("File kept at:  rejected/price-slip.xml"), "{text}");
        assert!(text.contains("2. bath.json: PARKED"), "{text}");
        assert!(text.contains("Customer:      Harbour Lane <Builders>"), "{text}");
        assert!(text.contains("Replay:        sjctl dlq replay --id id-bath.json"), "{text}");
        assert!(text.contains("First failure: 2026-01-02T03:04:05Z"), "{text}");
        assert!(text.contains("http://mq:15672/#/queues/%2f/sj.quotes.dead"), "{text}");
        assert!(!text.contains("failed 1 times"));
        let html = &mail.html;
        assert!(html.contains("Harbour Lane &lt;Builders&gt;"), "escaped: {html}");
        assert!(html.contains("<code>sjctl dlq replay --id id-bath.json</code>"), "{html}");
        assert!(html.contains("<a href=\"http://mq:15672/#/queues/%2f/sj.quotes.dead\">"), "{html}");
    }

    #[test]
    fn a_repeated_document_shows_its_count() {
        let a = alert("a.json", Disposition::Parked, "jobber.unavailable");
        let mail = render(&digest(vec![a.clone(), a]), &context());
        assert!(mail.text.contains("failed 2 times"), "{}", mail.text);
        assert_eq!(mail.text.matches("a.json: PARKED").count(), 1);
    }

    #[test]
    fn addresses_and_credentials_are_checked_at_start() {
        let bad = AlertSettings { to: vec!["not an address".to_owned()], ..Default::default() };
        assert!(matches!(Mailer::new(&bad), Err(MailConfigError::Address { key: "to", .. })));
        let mut half = AlertSettings::default();
        half.smtp.username = Some("me".to_owned());
        assert!(matches!(Mailer::new(&half), Err(MailConfigError::HalfCredentials)));
        assert!(Mailer::new(&AlertSettings::default()).is_ok(), "the defaults work");
    }
}
