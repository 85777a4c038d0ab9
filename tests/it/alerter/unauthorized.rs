//! Jobber refusing the bridge's tokens: the workers tell the alerter once per disconnection,
//! whatever their number or restarts, and it emails the notice in the operators' words. Real
//! workers, RabbitMQ, Redis, sandbox and SMTP sink.

use super::{assert_no_more_mail, body, subject, Alerter, Sink};
use crate::pipeline::worker::Bridge;

#[tokio::test]
async fn jobber_refusing_the_tokens_is_one_email_whatever_the_workers() {
    let mut bridge = Bridge::start("alert-unauthorized").await;
    // Redis holds no tokens and the configured refresh token is one Jobber refuses: as after a
    // Redis wipe that lost the only valid refresh token (docs/operations.md).
    bridge.env.push(("SJ_JOBBER__REFRESH_TOKEN".into(), "a-refresh-token-jobber-refuses".into()));
    let mut sink = Sink::new();
    sink.start().await;
    let alerter = Alerter::start(&bridge.ns, &sink, &[]).await;
    bridge.start_workers(2);

    let mails = sink.wait_for_mails(1).await;
    let mail = &mails[0];
    assert_eq!(
        subject(mail),
        format!("[sj-bridge {}] Jobber refuses the bridge's connection: reconnect it", bridge.ns.name)
    );
    let text = body(mail);
    assert!(
        text.starts_with(
            "Jobber refuses the bridge's connection: reconnect it in the console (Connections) or with \
             `sjctl jobber connect`; documents wait."
        ),
        "{text}"
    );
    assert!(text.contains("Jobber refused the token refresh"), "{text}");
    // Both workers keep finding it while they wait, and a restarted one too: no second email.
    bridge
        .wait_until("both workers refused", || async {
            bridge.worker_log_lines(&["Jobber not usable yet"]) >= 4
        })
        .await;
    bridge.workers.kill_all().await;
    bridge.start_workers(1);
    bridge
        .wait_until("the new worker refused", || async {
            bridge.worker_log_lines(&["Jobber not usable yet"]) >= 5
        })
        .await;
    assert_no_more_mail(&sink, 1).await;
    assert_eq!(bridge.worker_log_lines(&["the operators are told (sj.alerts)", "refuses"]), 1);

    alerter.stop().await;
    assert_eq!(bridge.ns.peek_count(&bridge.ns.topology.alerts_queue()).await, 0, "the notice acked");
    bridge.stop().await;
}
