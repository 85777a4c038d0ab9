//! `sjctl undo`: what the bridge wrote for a document leaves Jobber (lines after a question; a
//! quote by the operator's hand in Jobber), and the document can be sent again.

use serde_json::Value;

use super::{sjctl, text};
use crate::pipeline::jobs::{existing_job, job_lines, JOB_PATTERN};
use crate::pipeline::routing::{existing_quote, kitchen_with_po};
use crate::pipeline::worker::Bridge;
use crate::support::samples;

async fn history_totals(bridge: &Bridge) -> Value {
    let out = sjctl(bridge, &["history", "--json"], "").await;
    let history: Value = serde_json::from_slice(&out.stdout).unwrap();
    history["totals"].clone()
}

/// Jobber's public API cannot delete a quote: undo shows the quote with its link and exits 3;
/// once the quote is deleted in Jobber, the same command forgets the document.
#[tokio::test]
async fn undo_of_a_created_quote_waits_for_its_deletion_in_jobber_then_the_file_can_be_sent_again() {
    let mut bridge = Bridge::start("undo").await;
    bridge.add(&samples().join("saberis/kitchen-harbour-lane.xml"), "kitchen.xml");
    bridge.poll_once(&[]).await;
    bridge.start_workers(1);
    bridge.wait_until("the quote", || async { bridge.quotes().await.len() == 1 }).await;
    let number = bridge.quotes().await[0]["quote_number"].as_str().unwrap().to_owned();

    // Shown with its link in Jobber; nothing is asked, nothing removed, nothing forgotten.
    let out = sjctl(&bridge, &["undo", "--file", "kitchen.xml"], "").await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let said = text(&out);
    assert!(said.contains(&format!("Quote #{number}")) && said.contains("Harbour Lane Builders"), "{said}");
    assert!(said.contains("2911.85"), "the total is shown: {said}");
    assert!(said.contains(&bridge.sandbox.url("/web/quotes/")), "the quote's link in Jobber: {said}");
    assert!(said.contains(&format!("Delete quote #{number} in Jobber")), "{said}");
    assert_eq!(bridge.quotes().await.len(), 1);
    assert_eq!(history_totals(&bridge).await["undone"].as_u64(), Some(0));

    // The operator deletes it in Jobber; the same command then forgets the document.
    let deleted = reqwest::Client::new()
        .delete(bridge.sandbox.url(&format!("/_admin/jobber/quotes/{number}")))
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success());
    let out = sjctl(&bridge, &["undo", "--file", "kitchen.xml"], "").await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("no longer in Jobber"), "{}", text(&out));
    assert_eq!(history_totals(&bridge).await["undone"].as_u64(), Some(1));

    // Nothing is known of it any more.
    let out = sjctl(&bridge, &["undo", "--file", "kitchen.xml", "--yes"], "").await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("no record"), "{}", text(&out));

    // The same file again is a new document to the bridge: written again, not skipped.
    bridge.add(&samples().join("saberis/kitchen-harbour-lane.xml"), "kitchen.xml");
    bridge.poll_once(&[]).await;
    bridge
        .wait_until("the quote written again", || async {
            bridge.worker_log_lines(&["quote created", "kitchen.xml"]) == 2
        })
        .await;
    assert_eq!(bridge.quotes().await.len(), 1);
    bridge.stop().await;
}

#[tokio::test]
async fn undo_of_po_routed_lines_removes_only_those_lines() {
    let mut bridge = Bridge::start("undo-lines").await;
    let number = existing_quote(&bridge).await;
    kitchen_with_po(&bridge, &format!("Q#{number}"), "kitchen.xml");
    bridge.poll_once(&[]).await;
    bridge.start_workers(1);
    let lines = |quotes: Vec<Value>| quotes[0]["line_items"].as_array().unwrap().len();
    bridge.wait_until("the added lines", || async { lines(bridge.quotes().await) == 6 }).await;
    let hash = {
        let reader = sj_shared::intake::DocumentReader::default();
        let kitchen = std::fs::read_to_string(samples().join("saberis/kitchen-harbour-lane.xml")).unwrap();
        let bytes = kitchen.replace("PO-2231", &format!("Q#{number}")).into_bytes();
        let source = sj_shared::message::Source::now(sj_shared::message::SourceKind::File, "kitchen.xml");
        String::from(reader.quote_request(&bytes, None, source, false).unwrap().content_hash)
    };
    let out = sjctl(&bridge, &["undo", "--hash", &hash, "--yes"], "").await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("5 line(s)") && text(&out).contains("B24, SB36"), "{}", text(&out));
    let quotes = bridge.quotes().await;
    assert_eq!(quotes.len(), 1, "the quote stays");
    let names: Vec<&str> =
        quotes[0]["line_items"].as_array().unwrap().iter().map(|l| l["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Design visit"], "the person's line stays");
    bridge.stop().await;
}

/// Lines the bridge added to a job (PO routing to a job): shown with the job's link, removed
/// (`jobDeleteLineItems`) once the operator says yes; the staff's own line stays, and the file
/// can be sent again.
#[tokio::test]
async fn undo_of_lines_added_to_a_job_removes_only_those_lines() {
    let mut bridge = Bridge::start("undo-job").await;
    bridge.env.push(("SJ_QUOTE__PO_JOB_PATTERN".into(), JOB_PATTERN.into()));
    let number = existing_job(&bridge).await;
    kitchen_with_po(&bridge, &format!("J#{number}"), "kitchen.xml");
    bridge.poll_once(&[]).await;
    bridge.start_workers(1);
    bridge.wait_until("the added lines", || async { job_lines(&bridge).await.len() == 6 }).await;

    // Asked, answered no: nothing removed, nothing forgotten.
    let out = sjctl(&bridge, &["undo", "--file", "kitchen.xml"], "n\n").await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let said = text(&out);
    assert!(said.contains(&format!("5 line(s) the bridge added to job #{number}")), "{said}");
    assert!(said.contains("Aspen Ridge Homes") && said.contains("B24, SB36"), "{said}");
    assert!(said.contains(&bridge.sandbox.url("/web/jobs/")), "the job's link in Jobber: {said}");
    assert_eq!(job_lines(&bridge).await.len(), 6);

    let out = sjctl(&bridge, &["undo", "--file", "kitchen.xml"], "y\n").await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("Removed."), "{}", text(&out));
    let names: Vec<String> =
        job_lines(&bridge).await.iter().map(|l| l["name"].as_str().unwrap().to_owned()).collect();
    assert_eq!(names, ["Install labour"], "the staff's line stays");
    assert_eq!(history_totals(&bridge).await["undone"].as_u64(), Some(1));

    // Forgotten: the same file again adds its lines again.
    kitchen_with_po(&bridge, &format!("J#{number}"), "kitchen.xml");
    bridge.poll_once(&[]).await;
    bridge.wait_until("the lines added again", || async { job_lines(&bridge).await.len() == 6 }).await;
    bridge.stop().await;
}
