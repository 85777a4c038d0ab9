//! The Connections page: connecting Jobber from the browser through the sandbox's authorize page
//! (which approves with a form POST), the redirect coming back to the console's own public URL;
//! the tokens stored in Redis and the account shown; a replayed callback refused; admins only.

use std::collections::HashMap;

use reqwest::StatusCode;
use sj_shared::config::RedisSettings;
use sj_shared::jobber::{TokenState, TokenStore};
use sj_shared::store::Keys;
use tokio::process::Command;

use super::parked::Served;
use super::CLIENT_SECRET;
use crate::pipeline::Namespace;
use crate::support::built;

/// The hidden inputs of the sandbox's approve form.
fn hidden_inputs(html: &str) -> HashMap<String, String> {
    let mut found = HashMap::new();
    for part in html.split("<input type=\"hidden\" ").skip(1) {
        let attr = |name: &str| {
            let start = part.find(&format!("{name}=\""))? + name.len() + 2;
            Some(part[start..start + part[start..].find('"')?].to_owned())
        };
        if let (Some(name), Some(value)) = (attr("name"), attr("value")) {
            found.insert(name, value.replace("&amp;", "&").replace("&quot;", "\"").replace("&lt;", "<"));
        }
    }
    found
}

#[tokio::test]
async fn jobber_is_connected_in_the_browser_through_the_authorize_page() {
    let ns = Namespace::new("console-connect").await;
    let mut config = sj_sandbox::Config::default();
    config.oauth.auto_approve = false;
    config.account.name = "Harbour Cabinets Ltd.".to_owned();
    let sandbox = sj_sandbox::spawn(config).await.unwrap();
    // The console's public URL must be known before it starts (Jobber redirects there).
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let public_url = format!("http://127.0.0.1:{port}");
    let command = || {
        let mut cmd = Command::new(built("sj-console"));
        cmd.env_remove("SJ_CONFIG")
            .env("SJ_NAMESPACE", &ns.name)
            .env("SJ_LOG__FORMAT", "json")
            .env("SJ_JOBBER__API_URL", sandbox.base_url())
            .env("SJ_JOBBER__CLIENT_ID", "sandbox-client-id")
            .env("SJ_JOBBER__CLIENT_SECRET", CLIENT_SECRET);
        cmd
    };
    let console = Served::start(command, &format!("127.0.0.1:{port}"), Some(&public_url)).await;
    console.add_user(command, "ann", "admin").await;
    console.add_user(command, "rita", "reviewer").await;

    let mut rita = console.signed_in("rita").await;
    assert_eq!(rita.get("/connections").await.status, StatusCode::FORBIDDEN);

    let mut ann = console.signed_in("ann").await;
    let page = ann.get("/connections").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("not connected"), "{}", page.body);
    assert!(page.body.contains(&format!("{public_url}/connections/jobber/callback")), "{}", page.body);

    // Connect: the console sends the browser to Jobber's authorize page …
    let to_jobber = ann.post("/connections/jobber/connect", &[("csrf", &page.csrf())]).await;
    assert_eq!(to_jobber.status, StatusCode::SEE_OTHER, "{}", to_jobber.body);
    let authorize = to_jobber.location().to_owned();
    assert!(authorize.starts_with(&sandbox.url("/api/oauth/authorize")), "{authorize}");
    // … where the dealer's admin allows access (a form POST) …
    let jobber = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let approve = jobber.get(&authorize).send().await.unwrap().text().await.unwrap();
    assert!(approve.contains("Harbour Cabinets Ltd."), "{approve}");
    let mut form = hidden_inputs(&approve);
    form.insert("decision".to_owned(), "allow".to_owned());
    let back = jobber.post(sandbox.url("/api/oauth/authorize")).form(&form).send().await.unwrap();
    assert_eq!(back.status(), StatusCode::FOUND);
    let callback = back.headers()["location"].to_str().unwrap().to_owned();
    // … and Jobber sends the browser back to the console's own address.
    let path = callback.strip_prefix(&public_url).unwrap_or_else(|| panic!("{callback}"));
    assert!(path.starts_with("/connections/jobber/callback?"), "{path}");
    let done = ann.get(path).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}\n{}", done.body, console.log());
    let page = ann.get(done.location()).await;
    assert!(page.body.contains("Connected to Jobber account Harbour Cabinets Ltd."), "{}", page.body);
    assert!(page.body.contains("Access token valid until"), "{}", page.body);

    // The tokens are in Redis, where the workers take them.
    let pool = sj_shared::store::pool(&RedisSettings::default()).unwrap();
    let tokens = TokenStore::new(
        pool,
        Keys::new(&ns.name),
        reqwest::Client::new(),
        &sandbox.base_url(),
        "x",
        None,
        None,
    );
    assert!(matches!(tokens.state().await.unwrap(), TokenState::Connected(_)));

    // The same answer again (an old tab, a replay) is refused: its state was used.
    let again = ann.get(path).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "{}", again.body);

    // Disconnect asks first, then ends the connection.
    let page = ann.get("/connections").await;
    let ask = ann.post("/connections/jobber/disconnect", &[("csrf", &page.csrf())]).await;
    assert_eq!(ask.status, StatusCode::OK, "{}", ask.body);
    assert!(
        ask.body.contains("Harbour Cabinets Ltd.") && ask.body.contains("Yes, disconnect"),
        "{}",
        ask.body
    );
    assert!(matches!(tokens.state().await.unwrap(), TokenState::Connected(_)));
    let gone =
        ann.post("/connections/jobber/disconnect", &[("csrf", &page.csrf()), ("confirm", "yes")]).await;
    assert_eq!(gone.status, StatusCode::SEE_OTHER, "{}", gone.body);
    assert!(matches!(tokens.state().await.unwrap(), TokenState::Disconnected { .. }));

    let users = ann.get("/users").await;
    assert!(users.body.contains("<td>ann</td><td>jobber.connect</td>"), "{}", users.body);
    assert!(users.body.contains("<td>ann</td><td>jobber.disconnect</td>"), "{}", users.body);
    console.stop().await;
    ns.remove().await;
}
