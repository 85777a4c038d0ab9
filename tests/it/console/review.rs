//! Review before writing (`review.when`), end to end: the real `sj-poller`, `sj-worker` and
//! `sj-console` processes against the real RabbitMQ and Redis and the sandbox's Jobber. A held
//! document waits in the console (nothing in Jobber), a reviewer changes it and approves, and the
//! workers write it as decided, once.

use std::process::Stdio;
use std::time::Duration;

use reqwest::StatusCode;
use rust_decimal::Decimal;
use serde_json::Value;
use sj_shared::config::{PricingSettings, UnpricedCatalog};
use sj_shared::intake::DocumentReader;
use sj_shared::message::{QuoteRequest, Source, SourceKind};
use sj_shared::pricing::{self, CatalogTable};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

use super::{Browser, Page};
use crate::pipeline::worker::Bridge;
use crate::support::{binary, real_fixtures, samples};

const TABLE: &str = "catalog,brand,multiplier,margin,markup,updated_by,updated_at\n\
                     HLX_26A1,Harbour Lux,0.45,35%,,maria,2026-12-01\n\
                     HLX_HW*,Harbour Lux hardware,,,10,maria,2026-12-01\n";

/// An `sj-console` in the bridge's namespace, with its settings.
struct ReviewConsole {
    child: Option<Child>,
    url: String,
    dir: tempfile::TempDir,
}

impl ReviewConsole {
    async fn start(bridge: &Bridge, extra: &[(&str, &str)]) -> ReviewConsole {
        binary("sj-console", "sj-console").await;
        let mut console =
            ReviewConsole { child: None, url: String::new(), dir: tempfile::tempdir().unwrap() };
        console.serve(bridge, extra).await;
        console
    }

    fn command(&self, bridge: &Bridge, extra: &[(&str, &str)]) -> Command {
        // The bridge's settings (namespace, mapping and catalog tables, review.when), then the
        // console's own.
        let mut cmd = bridge.command("sj-console", "sj-console");
        cmd.env("SJ_CONSOLE__LISTEN", "127.0.0.1:0")
            .env("SJ_CONSOLE__DATABASE", self.dir.path().join("console.sqlite3"))
            .envs(extra.iter().copied())
            .kill_on_drop(true);
        cmd
    }

    async fn serve(&mut self, bridge: &Bridge, extra: &[(&str, &str)]) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("console.log"))
            .unwrap();
        let mut child =
            self.command(bridge, extra).arg("serve").stdout(Stdio::piped()).stderr(log).spawn().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line()).await;
        let address = match line {
            Ok(Ok(Some(line))) => line.strip_prefix("listening on ").map(str::to_owned),
            _ => None,
        };
        let address = address.unwrap_or_else(|| panic!("sj-console did not start: {}", self.log()));
        self.url = format!("http://{address}");
        self.child = Some(child);
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("console.log")).unwrap_or_default()
    }

    async fn add_user(&self, bridge: &Bridge, name: &str, role: &str) {
        let mut child = self
            .command(bridge, &[])
            .args(["user", "add", name, "--role", role])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use tokio::io::AsyncWriteExt as _;
        let mut input = child.stdin.take().unwrap();
        input.write_all(b"a long password here\n").await.unwrap();
        drop(input);
        let out = child.wait_with_output().await.unwrap();
        assert!(out.status.success(), "user add: {}", super::text(&out));
    }

    async fn signed_in(&self, name: &str) -> Browser {
        let mut browser = Browser {
            base: self.url.clone(),
            http: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap(),
            cookies: Vec::new(),
        };
        let page = browser.sign_in(name, "a long password here").await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
        browser
    }

    async fn kill_9(&mut self) {
        let mut child = self.child.take().expect("running");
        child.start_kill().unwrap();
        child.wait().await.unwrap();
    }

    async fn stop(mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
    }
}

/// A bridge with `review.when` and the catalog table above.
async fn bridge(test: &str, when: &str) -> Bridge {
    let mut bridge = Bridge::start(test).await;
    bridge.env.push(("SJ_REVIEW__WHEN".into(), when.into()));
    std::fs::write(bridge.mapping_csv().with_file_name("catalogs.csv"), TABLE).unwrap();
    bridge
}

fn kitchen() -> QuoteRequest {
    let path = samples().join("saberis/kitchen-harbour-lane.xml");
    let reader = DocumentReader::default();
    let bytes = reader.read_file(&path).unwrap();
    reader.quote_request(&bytes, None, Source::now(SourceKind::File, "kitchen.xml"), false).unwrap()
}

/// The customer total of a request by the dealer's rules, with `table` (as the tests' bridges
/// price: an unpriced catalog at the default markup).
fn total_with(table: &str, request: &QuoteRequest) -> String {
    let cells: Vec<(usize, Vec<String>)> =
        table.lines().enumerate().map(|(i, l)| (i + 1, l.split(',').map(str::to_owned).collect())).collect();
    let table = CatalogTable::from_cells(&cells).unwrap();
    let settings =
        PricingSettings { unpriced_catalog: UnpricedCatalog::Default, ..PricingSettings::default() };
    pricing::price(&settings, &table, request).unwrap().total.to_string()
}

fn money(value: &Value) -> String {
    format!("{:.2}", value.as_f64().unwrap())
}

/// The first review's id on `/review` once one shows.
async fn first_review(bridge: &Bridge, browser: &mut Browser, count: usize) -> Page {
    let mut list = browser.get("/review").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while list.body.matches("href=\"/review/").count() / 2 < count {
        assert!(tokio::time::Instant::now() < deadline, "no review shown: {}", list.body);
        tokio::time::sleep(Duration::from_millis(200)).await;
        list = browser.get("/review").await;
        let _ = bridge;
    }
    list
}

/// The form of a review page as a person sends it: every input with its value (checkboxes and
/// radios as they are), then `changes` on top.
fn form_of(page: &Page, changes: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = Vec::new();
    let body = &page.body;
    let form_start = body.find("class=\"review\"").expect("the approval form");
    let form_end = form_start + body[form_start..].find("</form>").unwrap();
    for input in body[form_start..form_end].split("<input").skip(1) {
        let tag = &input[..input.find('>').unwrap()];
        let attr = |name: &str| {
            let key = format!("{name}=\"");
            tag.find(&key).map(|i| {
                let rest = &tag[i + key.len()..];
                rest[..rest.find('"').unwrap()].to_owned()
            })
        };
        let Some(name) = attr("name") else { continue };
        let kind = attr("type").unwrap_or_default();
        if (kind == "checkbox" || kind == "radio") && !tag.contains(" checked") {
            continue;
        }
        fields.push((name, attr("value").unwrap_or_default().replace("&#38;", "&").replace("&amp;", "&")));
    }
    for (name, value) in changes {
        fields.retain(|(k, _)| k != name);
        fields.push(((*name).to_owned(), (*value).to_owned()));
    }
    fields
}

/// Approves with `changes`: the form, the confirmation page, then the confirmation.
async fn approve(browser: &mut Browser, id: &str, changes: &[(&str, &str)]) -> Page {
    let page = browser.get(&format!("/review/{id}")).await;
    let fields = form_of(&page, changes);
    let refs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let confirm = browser.post(&format!("/review/{id}/approve"), &refs).await;
    assert_eq!(confirm.status, StatusCode::OK, "{}", confirm.body);
    assert!(confirm.body.contains("Confirm: write it to Jobber"), "{}", confirm.body);
    let mut fields = fields;
    fields.push(("confirmed".to_owned(), "yes".to_owned()));
    let refs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let done = browser.post(&format!("/review/{id}/approve"), &refs).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let _ = confirm;
    done
}

fn review_ids(list: &Page) -> Vec<String> {
    let mut ids: Vec<String> = list
        .body
        .split("href=\"/review/")
        .skip(1)
        .map(|s| s[..s.find('"').unwrap()].to_owned())
        .filter(|s| s.chars().all(|c| c.is_ascii_digit()))
        .collect();
    ids.dedup();
    ids
}

#[tokio::test]
async fn always_holds_the_document_and_an_approval_with_a_new_margin_writes_it_at_the_new_totals() {
    let mut bridge = bridge("review-approve", r#"["always"]"#).await;
    let console = ReviewConsole::start(&bridge, &[]).await;
    console.add_user(&bridge, "maria", "reviewer").await;
    bridge.add(&samples().join("saberis/kitchen-harbour-lane.xml"), "kitchen.xml");
    bridge.start_consuming_worker().await;
    bridge.poll_once(&[]).await;
    let mut browser = console.signed_in("maria").await;
    let list = first_review(&bridge, &mut browser, 1).await;
    assert!(list.body.contains("kitchen.xml") && list.body.contains("always"), "{}", list.body);
    assert!(bridge.quotes().await.is_empty(), "nothing written before the approval");

    let id = review_ids(&list)[0].clone();
    let page = browser.get(&format!("/review/{id}")).await;
    for text in ["Harbour Lane Builders", "Harbour Lux: HLX_26A1", "MSRP", "COGS", "Customer price", "0.45"] {
        assert!(page.body.contains(text), "{text} missing: {}", page.body);
    }
    let held_total = total_with(TABLE, &kitchen());
    assert!(page.body.contains(&held_total), "the held total {held_total}: {}", page.body);

    // HLX_26A1 at a 40 % margin, for this document only.
    approve(&mut browser, &id, &[("cat0_margin", "40")]).await;
    bridge.wait_until("the quote", || async { bridge.quotes().await.len() == 1 }).await;
    let table_40 = TABLE.replace("0.45,35%", "0.45,40%");
    let expected = total_with(&table_40, &kitchen());
    assert_ne!(expected, held_total);
    assert_eq!(money(&bridge.quotes().await[0]["amounts"]["total"]), expected);
    // The catalog table is not changed by a this-document-only margin.
    let table = std::fs::read_to_string(bridge.mapping_csv().with_file_name("catalogs.csv")).unwrap();
    assert!(!table.contains("40%"), "{table}");

    // The page shows the result; the history says who approved.
    let mut shown = browser.get(&format!("/review/{id}")).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !shown.body.contains("Written to Jobber: quote #") {
        assert!(tokio::time::Instant::now() < deadline, "{}", shown.body);
        tokio::time::sleep(Duration::from_millis(200)).await;
        shown = browser.get(&format!("/review/{id}")).await;
    }
    assert!(shown.body.contains("approved by maria"), "{}", shown.body);
    let history = browser.get("/history").await;
    assert!(
        history.body.contains("approved by maria") && history.body.contains("margin 40%"),
        "{}",
        history.body
    );
    assert!(history.body.contains("for-review"), "{}", history.body);
    // Approving again is refused: decided once.
    let again = browser
        .post(&format!("/review/{id}/approve"), &[("csrf", &shown.csrf()), ("confirmed", "yes")])
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(bridge.quotes().await.len(), 1);
    console.stop().await;
    bridge.stop().await;
}

#[tokio::test]
async fn a_rejected_document_is_not_written_and_the_history_says_by_whom() {
    let mut bridge = bridge("review-reject", r#"["always"]"#).await;
    let console = ReviewConsole::start(&bridge, &[]).await;
    console.add_user(&bridge, "sam", "reviewer").await;
    console.add_user(&bridge, "vic", "viewer").await;
    bridge.add(&samples().join("saberis/vanity-single-item.json"), "vanity.json");
    bridge.start_consuming_worker().await;
    bridge.poll_once(&[]).await;
    let mut viewer = console.signed_in("vic").await;
    let list = first_review(&bridge, &mut viewer, 1).await;
    let id = review_ids(&list)[0].clone();
    // A viewer may look, not decide.
    let page = viewer.get(&format!("/review/{id}")).await;
    assert!(!page.body.contains("Approve…"), "{}", page.body);
    let refused =
        viewer.post(&format!("/review/{id}/reject"), &[("csrf", &page.csrf()), ("reason", "no")]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    let mut sam = console.signed_in("sam").await;
    let page = sam.get(&format!("/review/{id}")).await;
    let done = sam
        .post(&format!("/review/{id}/reject"), &[("csrf", &page.csrf()), ("reason", "wrong customer")])
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let history = sam.get("/history").await;
    assert!(history.body.contains("rejected by sam: wrong customer"), "{}", history.body);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(bridge.quotes().await.is_empty(), "nothing written");
    console.stop().await;
    bridge.stop().await;
}

#[tokio::test]
async fn total_above_holds_only_the_bigger_document() {
    let mut bridge = bridge("review-total", r#"["total-above:2000"]"#).await;
    let console = ReviewConsole::start(&bridge, &[]).await;
    console.add_user(&bridge, "maria", "reviewer").await;
    bridge.add(&samples().join("saberis/kitchen-harbour-lane.xml"), "kitchen.xml");
    bridge.add(&samples().join("saberis/vanity-single-item.json"), "vanity.json");
    bridge.start_consuming_worker().await;
    bridge.poll_once(&[]).await;
    bridge.wait_until("the vanity's quote", || async { bridge.quotes().await.len() == 1 }).await;
    let mut browser = console.signed_in("maria").await;
    let list = first_review(&bridge, &mut browser, 1).await;
    assert!(list.body.contains("kitchen.xml") && !list.body.contains("vanity.json"), "{}", list.body);
    assert!(list.body.contains("total-above:2000"), "{}", list.body);
    assert_eq!(bridge.quotes().await.len(), 1, "the kitchen waits");
    console.stop().await;
    bridge.stop().await;
}

#[tokio::test]
async fn an_approval_committed_while_the_broker_is_out_of_reach_is_published_after_a_kill_9_and_written_once()
{
    let mut bridge = bridge("review-outbox", r#"["always"]"#).await;
    let mut console = ReviewConsole::start(&bridge, &[]).await;
    console.add_user(&bridge, "maria", "reviewer").await;
    bridge.add(&samples().join("saberis/vanity-single-item.json"), "vanity.json");
    bridge.start_consuming_worker().await;
    bridge.poll_once(&[]).await;
    let mut browser = console.signed_in("maria").await;
    let id = review_ids(&first_review(&bridge, &mut browser, 1).await)[0].clone();
    // The console again, its broker out of reach: the approval is committed, not published; then
    // the console dies (kill -9) before it could publish.
    console.kill_9().await;
    console.serve(&bridge, &[("SJ_AMQP__URL", "amqp://guest:guest@127.0.0.1:1/%2f")]).await;
    let mut browser = console.signed_in("maria").await;
    approve(&mut browser, &id, &[]).await;
    let page = browser.get(&format!("/review/{id}")).await;
    assert!(page.body.contains("being handed to the bridge"), "{}", page.body);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(bridge.quotes().await.is_empty());
    console.kill_9().await;
    // Restarted with its broker: the outbox republishes, the workers write it once.
    console.serve(&bridge, &[]).await;
    bridge.wait_until("the quote", || async { bridge.quotes().await.len() == 1 }).await;
    // Published twice (say a crash after the publish, before the mark): still one quote.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(bridge.quotes().await.len(), 1);
    assert!(console.log().contains("approved document handed to the workers"), "{}", console.log());
    console.stop().await;
    bridge.stop().await;
}

#[tokio::test]
async fn with_sanity_a_catalog_slip_shows_its_lines_and_leaving_the_line_out_writes_the_quote_without_it() {
    let Some(dir) = real_fixtures("review_sanity_slip") else { return };
    let mut bridge = bridge("review-sanity", r#"["sanity"]"#).await;
    let console = ReviewConsole::start(&bridge, &[]).await;
    console.add_user(&bridge, "maria", "reviewer").await;
    let fixture = dir.join("xml/5a59324e-f3a7-428c-b0a9-45cefa88bb79.xml");
    bridge.add(&fixture, "slip.xml");
    bridge.start_consuming_worker().await;
    bridge.poll_once(&[]).await;
    let mut browser = console.signed_in("maria").await;
    let list = first_review(&bridge, &mut browser, 1).await;
    assert!(list.body.contains("sanity"), "{}", list.body);
    let id = review_ids(&list)[0].clone();
    let page = browser.get(&format!("/review/{id}")).await;
    for text in ["Lines the sanity rules refuse", "UCB151284", "100660.00", "sanity.price-above-limit"] {
        assert!(page.body.contains(text), "{text}: {}", page.body);
    }
    // The offending line's field names: `line{s}_{l}_leave`.
    let at = page.body.find("_leave\" value=\"on\"> Leave this line out").expect("a line to leave out");
    let start = page.body[..at].rfind("name=\"").unwrap() + "name=\"".len();
    let leave = format!("{}_leave", &page.body[start..at]);
    approve(&mut browser, &id, &[(&leave, "on")]).await;
    bridge.wait_until("the quote", || async { bridge.quotes().await.len() == 1 }).await;
    let quote = &bridge.quotes().await[0];
    let names: Vec<String> = quote["line_items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| format!("{} {}", i["name"], i["description"]))
        .collect();
    assert!(names.iter().all(|n| !n.contains("UCB151284")), "{names:?}");
    assert!(!names.is_empty());
    let history = browser.get("/history").await;
    assert!(
        history.body.contains("approved by maria") && history.body.contains("line UCB151284 left out"),
        "{}",
        history.body
    );
    let total: Decimal = money(&quote["amounts"]["total"]).parse().unwrap();
    assert!(total < Decimal::from(100_000), "{total}");
    console.stop().await;
    bridge.stop().await;
}
