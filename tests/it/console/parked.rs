//! The Parked page over HTTP, on real dead letters (real poller and worker, RabbitMQ, Redis, the
//! sandbox): a document parked for want of a mapping row is fixed by picking its Jobber client
//! and replaying in one step; the roles (a viewer cannot replay, a reviewer cannot purge) and
//! the purge's confirmation.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::process::{Child, Command};

use super::{text, Browser};
use crate::pipeline::worker::Bridge;
use crate::support::{binary, samples};

/// An `sj-console` process with a bridge's settings (its namespace, sandbox, mapping table).
pub(super) struct Served {
    child: Child,
    pub url: String,
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Served {
    /// Starts `sj-console serve` with `command`'s settings plus the console's own.
    pub async fn start(command: impl Fn() -> Command, listen: &str, public_url: Option<&str>) -> Served {
        binary("sj-console", "sj-console").await;
        let dir = tempfile::tempdir().unwrap();
        let mut env = vec![
            ("SJ_CONSOLE__LISTEN".to_owned(), listen.to_owned()),
            ("SJ_CONSOLE__DATABASE".to_owned(), dir.path().join("console.sqlite3").display().to_string()),
        ];
        if let Some(url) = public_url {
            env.push(("SJ_CONSOLE__PUBLIC_URL".to_owned(), url.to_owned()));
        }
        let mut child = command()
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .arg("serve")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.path().join("console.log")).unwrap())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line()).await;
        let address = match line {
            Ok(Ok(Some(line))) => line.strip_prefix("listening on ").map(str::to_owned),
            _ => None,
        };
        let log = std::fs::read_to_string(dir.path().join("console.log")).unwrap_or_default();
        let address = address.unwrap_or_else(|| panic!("sj-console did not start: {log}"));
        Served { child, url: format!("http://{address}"), dir, env }
    }

    pub async fn add_user(&self, command: impl Fn() -> Command, name: &str, role: &str) {
        let mut child = command()
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .args(["user", "add", name, "--role", role])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        input.write_all(format!("{name}'s long password\n").as_bytes()).await.unwrap();
        drop(input);
        let out = child.wait_with_output().await.unwrap();
        assert!(out.status.success(), "user add {name}: {}", text(&out));
    }

    /// A browser signed in as `name` (password: "NAME's long password").
    pub async fn signed_in(&self, name: &str) -> Browser {
        let mut browser = Browser {
            base: self.url.clone(),
            http: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap(),
            cookies: Vec::new(),
        };
        let page = browser.sign_in(name, &format!("{name}'s long password")).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
        browser
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("console.log")).unwrap_or_default()
    }

    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

/// The `sj-console` command with the bridge's settings.
fn console_command(bridge: &Bridge) -> impl Fn() -> Command + '_ {
    move || bridge.command("sj-console", "sj-console")
}

/// The id the Parked page shows for the row of `source`.
fn parked_id(page: &str, source: &str) -> String {
    let at = page.find(&format!(r#"<td class="source">{source}</td>"#)).unwrap_or_else(|| panic!("{page}"));
    let row = &page[..at];
    let start = row.rfind(r#"<a href="/parked/"#).unwrap() + r#"<a href="/parked/"#.len();
    row[start..start + row[start..].find('"').unwrap()].to_owned()
}

fn mapping_rows(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap_or_default().lines().skip(1).map(str::to_owned).collect()
}

#[tokio::test]
async fn a_parked_document_is_mapped_and_replayed_in_one_step_and_purged_only_by_an_admin() {
    let mut bridge = Bridge::start("console-parked").await;
    bridge.env.push(("SJ_MAPPING__ON_NO_MATCH".into(), "park".into()));
    bridge.add(&samples().join("saberis/kitchen-harbour-lane.xml"), "kitchen.xml");
    bridge.add(&samples().join("saberis/bath-gatineau.json"), "bath.json");
    bridge.poll_once(&[]).await;
    bridge.start_consuming_worker().await;
    let parked_queue = bridge.ns.topology.parked_queue();
    bridge
        .wait_until("two parked documents", || async { bridge.ns.peek_count(&parked_queue).await == 2 })
        .await;

    // The dealer's client in Jobber, under a name the worker's search did not find.
    let token = bridge.sandbox.issue_tokens().access_token;
    let reply = crate::sandbox::gql(
        &bridge.sandbox,
        &token,
        "mutation($input: ClientCreateInput!) { clientCreate(input: $input) { client { id } userErrors { message } } }",
        json!({"input": {"companyName": "HLB Construction (Harbour Lane)", "isCompany": true}}),
    )
    .await;
    let client_id = reply.json["data"]["clientCreate"]["client"]["id"].as_str().unwrap().to_owned();

    let console = Served::start(console_command(&bridge), "127.0.0.1:0", None).await;
    for (name, role) in [("vic", "viewer"), ("rita", "reviewer"), ("ann", "admin")] {
        console.add_user(console_command(&bridge), name, role).await;
    }

    // A viewer sees both, with the reason and what to do, and cannot replay.
    let mut vic = console.signed_in("vic").await;
    let page = vic.get("/parked").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body.contains("mapping.no-match") && page.body.contains("mapping.no-customer-name"),
        "{}",
        page.body
    );
    assert!(page.body.contains("2 parked"), "{}", page.body);
    let kitchen = parked_id(&page.body, "kitchen.xml");
    let bath = parked_id(&page.body, "bath.json");
    let refused = vic.post(&format!("/parked/{kitchen}/replay"), &[("csrf", &page.csrf())]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    // Reading takes nothing away.
    bridge.wait_until("both still parked", || async { bridge.ns.peek_count(&parked_queue).await == 2 }).await;

    // A reviewer searches Jobber by name, picks the client, and the document is replayed at once.
    let mut rita = console.signed_in("rita").await;
    let one = rita.get(&format!("/parked/{kitchen}?q=Harbour")).await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.body);
    assert!(one.body.contains("HLB Construction (Harbour Lane)"), "{}", one.body);
    assert!(one.body.contains("name:harbour lane builders"), "the mapping key: {}", one.body);
    let done = rita
        .post(
            &format!("/parked/{kitchen}/map-and-replay"),
            &[("csrf", &one.csrf()), ("client_id", client_id.as_str())],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}\n{}", done.body, console.log());
    bridge.wait_until("the replayed quote", || async { bridge.quotes().await.len() == 1 }).await;
    let quote = &bridge.quotes().await[0];
    let number: u64 = {
        use base64::Engine as _;
        let gid = base64::engine::general_purpose::STANDARD.decode(&client_id).unwrap();
        String::from_utf8(gid).unwrap().rsplit('/').next().unwrap().parse().unwrap()
    };
    assert_eq!(quote["client_id"].as_u64(), Some(number), "the quote is for the picked client: {quote}");
    let rows = mapping_rows(&bridge.mapping_csv());
    assert!(
        rows.iter().any(|r| r.starts_with("name:harbour lane builders,")
            && r.contains(&client_id)
            && r.contains(",rita,")),
        "the row, made by rita: {rows:?}"
    );
    bridge
        .wait_until("only the bath left", || async { bridge.ns.peek_count(&parked_queue).await == 1 })
        .await;

    // Purging needs an admin, and asks first.
    let page = rita.get("/parked").await;
    assert!(!page.body.contains("kitchen.xml"), "{}", page.body);
    let refused = rita.post(&format!("/parked/{bath}/purge"), &[("csrf", &page.csrf())]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let mut ann = console.signed_in("ann").await;
    let page = ann.get(&format!("/parked/{bath}")).await;
    let ask = ann.post(&format!("/parked/{bath}/purge"), &[("csrf", &page.csrf())]).await;
    assert_eq!(ask.status, StatusCode::OK);
    assert!(
        ask.body.contains("for good?") && ask.body.contains(r#"name="confirm" value="yes""#),
        "{}",
        ask.body
    );
    bridge
        .wait_until("the bath still parked", || async { bridge.ns.peek_count(&parked_queue).await == 1 })
        .await;
    let purged =
        ann.post(&format!("/parked/{bath}/purge"), &[("csrf", &page.csrf()), ("confirm", "yes")]).await;
    assert_eq!(purged.status, StatusCode::SEE_OTHER, "{}", purged.body);
    bridge.wait_until("nothing parked", || async { bridge.ns.peek_count(&parked_queue).await == 0 }).await;

    // The audit names who did what.
    let users = ann.get("/users").await;
    for action in ["parked.map-and-replay", "parked.purge"] {
        assert!(users.body.contains(action), "{action}: {}", users.body);
    }
    assert!(users.body.contains("<td>rita</td><td>parked.map-and-replay</td>"), "{}", users.body);
    assert!(users.body.contains("<td>ann</td><td>parked.purge</td>"), "{}", users.body);
    assert_eq!(bridge.worker_log_lines(&["quote created", "kitchen.xml"]), 1);
    console.stop().await;
    bridge.stop().await;
}
