//! The alerter's SMTP over TLS, for real: the sink serves STARTTLS (required before any mail) or
//! implicit TLS with a certificate from the test's own authority (`support::tls`), which the
//! alerter trusts through `SSL_CERT_FILE`, and SMTP AUTH (offered only once encrypted). A
//! certificate it cannot trust sends nothing: the alert waits unacked and is back in its queue
//! when the alerter stops, to go out once the certificate is trusted.

use std::ffi::OsString;

use super::{body, publisher, reject, subject, wait_until, Alerter, Sink};
use crate::pipeline::Namespace;
use crate::support::tls::{Ca, ServerCert};

/// The sink's options for TLS mode `mode` (`--starttls` or `--tls`) with `cert`, and SMTP AUTH.
fn sink_options(mode: &str, cert: &ServerCert, auth: Option<(&str, &str)>) -> Vec<OsString> {
    let mut options: Vec<OsString> = vec![mode.into(), cert.cert.clone().into(), cert.key.clone().into()];
    if let Some((user, password)) = auth {
        options.extend(["--auth".into(), user.into(), password.into()]);
    }
    options
}

/// A rejected document is emailed over `tls` (the alerter's `alerts.smtp.tls`), authenticated.
async fn a_digest_goes_out_over(test: &str, tls: &str, sink_mode: &str) {
    let ns = Namespace::new(test).await;
    let ca = Ca::new("sj test CA").await;
    let auth = ("sj-alerter", "s3cret-for-smtp");
    let mut sink =
        Sink::with_options(sink_options(sink_mode, &ca.issue(&["DNS:localhost"]).await, Some(auth)));
    sink.start().await;
    let ca_file = ca.cert.display().to_string();
    let alerter = Alerter::start(
        &ns,
        &sink,
        &[
            ("SJ_ALERTS__SMTP__HOST", "localhost"),
            ("SJ_ALERTS__SMTP__TLS", tls),
            ("SJ_ALERTS__SMTP__USERNAME", auth.0),
            ("SJ_ALERTS__SMTP__PASSWORD", auth.1),
            ("SSL_CERT_FILE", &ca_file),
        ],
    )
    .await;
    let publisher = publisher(&ns).await;
    reject(&publisher, "truncated.xml", "parse.malformed-xml", "the document ends inside <Description>")
        .await;

    let mails = sink.wait_for_mails(1).await;
    let mail = &mails[0];
    assert!(mail["tls"].as_str().is_some_and(|v| v.starts_with("TLSv1.")), "came encrypted: {mail:#}");
    assert_eq!(mail["login"], auth.0, "sent authenticated: {mail:#}");
    assert_eq!(
        subject(mail),
        format!("[sj-bridge {}] 1 document needs attention: 1 rejected (parse)", ns.name)
    );
    assert!(body(mail).contains("1. truncated.xml: REJECTED by the poller"), "{}", body(mail));
    alerter.wait_for_log("digest emailed").await;
    assert_eq!(alerter.log_lines(auth.1), 0, "the password stays out of the logs");
    alerter.stop().await;
    assert_eq!(ns.peek_count(&ns.topology.alerts_queue()).await, 0, "acked once emailed");
    ns.remove().await;
}

#[tokio::test]
async fn a_digest_goes_out_over_starttls_with_smtp_auth_trusting_a_private_ca() {
    a_digest_goes_out_over("alert-starttls", "starttls", "--starttls").await;
}

#[tokio::test]
async fn a_digest_goes_out_over_implicit_tls_with_smtp_auth_trusting_a_private_ca() {
    a_digest_goes_out_over("alert-implicit-tls", "tls", "--tls").await;
}

/// The sink over `tls` with `cert`, the alerter trusting `trusted` and reaching the sink as
/// `host`: nothing is sent, the log says why (`refusal`), and the alert is back in its queue once
/// the alerter stops. Then an alerter trusting and reaching the sink as `fixed` says (CA, host)
/// delivers it.
async fn refused_then_delivered(
    test: &str,
    (tls, sink_mode): (&str, &str),
    cert: &ServerCert,
    (trusted, host): (&Ca, &str),
    refusal: &str,
    fixed: (&Ca, &str),
) {
    let ns = Namespace::new(test).await;
    let mut sink = Sink::with_options(sink_options(sink_mode, cert, None));
    sink.start().await;
    let publisher = publisher(&ns).await;
    let alerts = ns.topology.alerts_queue();
    let env = |(ca, host): (&Ca, &str)| {
        vec![
            ("SJ_ALERTS__SMTP__HOST".to_owned(), host.to_owned()),
            ("SJ_ALERTS__SMTP__TLS".to_owned(), tls.to_owned()),
            ("SSL_CERT_FILE".to_owned(), ca.cert.display().to_string()),
        ]
    };
    let start = async |to: (&Ca, &str)| {
        let env = env(to);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        Alerter::start(&ns, &sink, &env).await
    };

    let alerter = start((trusted, host)).await;
    reject(&publisher, "a.xml", "parse.malformed-xml", "not XML").await;
    alerter.wait_for_log("the mail server is not taking the email").await;
    let log = std::fs::read_to_string(&alerter.log).unwrap();
    let line = log.lines().find(|l| l.contains("the mail server is not taking the email")).unwrap();
    assert!(line.contains(refusal), "the reason is in the log line: {line}");
    assert!(sink.mails().is_empty(), "{:#?}", sink.mails());
    assert_eq!(alerter.log_lines("parked, not emailed"), 0, "not refused for good, just not sent");
    alerter.stop().await;
    // Given back at stop: a quorum queue shows a requeue a moment later.
    wait_until("the alert back in its queue, not lost", || async { ns.peek_count(&alerts).await == 1 }).await;
    assert_eq!(ns.peek_count(&ns.topology.undeliverable_alerts_queue()).await, 0);

    // The configuration fixed (the certificate trusted, or its name used), the same alert goes out.
    let alerter = start(fixed).await;
    let mails = sink.wait_for_mails(1).await;
    assert!(body(&mails[0]).contains("a.xml: REJECTED"), "{}", body(&mails[0]));
    assert!(mails[0]["tls"].as_str().is_some_and(|v| v.starts_with("TLSv1.")), "{:#}", mails[0]);
    alerter.wait_for_log("digest emailed").await;
    alerter.stop().await;
    assert_eq!(ns.peek_count(&alerts).await, 0);
    ns.remove().await;
}

#[tokio::test]
async fn starttls_with_an_untrusted_certificate_sends_nothing_and_keeps_the_alert() {
    let (trusted, stranger) = (Ca::new("sj test CA").await, Ca::new("someone else's CA").await);
    let cert = stranger.issue(&["DNS:localhost"]).await;
    let refusal = "invalid peer certificate: UnknownIssuer";
    let modes = ("starttls", "--starttls");
    let fixed = (&stranger, "localhost");
    refused_then_delivered("alert-starttls-untrusted", modes, &cert, (&trusted, "localhost"), refusal, fixed)
        .await;
}

#[tokio::test]
async fn implicit_tls_with_an_untrusted_certificate_sends_nothing_and_keeps_the_alert() {
    let (trusted, stranger) = (Ca::new("sj test CA").await, Ca::new("someone else's CA").await);
    let cert = stranger.issue(&["DNS:localhost"]).await;
    let refusal = "invalid peer certificate: UnknownIssuer";
    let modes = ("tls", "--tls");
    let fixed = (&stranger, "localhost");
    refused_then_delivered("alert-tls-untrusted", modes, &cert, (&trusted, "localhost"), refusal, fixed)
        .await;
}

#[tokio::test]
async fn a_certificate_for_another_name_is_refused() {
    // Trusted, but for localhost only, and the alerter is told 127.0.0.1; then told localhost.
    let ca = Ca::new("sj test CA").await;
    let localhost_only = ca.issue(&["DNS:localhost"]).await;
    let refusal = r#"certificate not valid for name \"127.0.0.1\""#;
    let modes = ("starttls", "--starttls");
    refused_then_delivered(
        "alert-tls-name",
        modes,
        &localhost_only,
        (&ca, "127.0.0.1"),
        refusal,
        (&ca, "localhost"),
    )
    .await;
}

#[tokio::test]
async fn a_refused_login_keeps_the_alerts_waiting_instead_of_parking_them() {
    // A wrong password refuses every email alike (535): the configuration is at fault, not the
    // alert, so nothing is parked; the alerts wait and go out once the password is right.
    let ns = Namespace::new("alert-bad-login").await;
    let ca = Ca::new("sj test CA").await;
    let cert = ca.issue(&["DNS:localhost"]).await;
    let mut sink = Sink::with_options(sink_options("--starttls", &cert, Some(("sj-alerter", "right"))));
    sink.start().await;
    let ca_file = ca.cert.display().to_string();
    let start = async |password: &str| {
        let env = [
            ("SJ_ALERTS__SMTP__HOST", "localhost"),
            ("SJ_ALERTS__SMTP__TLS", "starttls"),
            ("SJ_ALERTS__SMTP__USERNAME", "sj-alerter"),
            ("SJ_ALERTS__SMTP__PASSWORD", password),
            ("SSL_CERT_FILE", ca_file.as_str()),
        ];
        Alerter::start(&ns, &sink, &env).await
    };
    let publisher = publisher(&ns).await;
    let alerter = start("wrong").await;
    reject(&publisher, "b.xml", "parse.malformed-xml", "not XML").await;
    alerter.wait_for_log("refused the login").await;
    assert!(sink.mails().is_empty());
    assert_eq!(alerter.log_lines("parked, not emailed"), 0, "a login refused is no refused email");
    alerter.stop().await;
    let alerts = ns.topology.alerts_queue();
    wait_until("the alert waiting in its queue", || async { ns.peek_count(&alerts).await == 1 }).await;
    assert_eq!(ns.peek_count(&ns.topology.undeliverable_alerts_queue()).await, 0);

    let alerter = start("right").await;
    let mails = sink.wait_for_mails(1).await;
    assert!(body(&mails[0]).contains("b.xml: REJECTED"), "{}", body(&mails[0]));
    alerter.wait_for_log("digest emailed").await;
    alerter.stop().await;
    ns.remove().await;
}
