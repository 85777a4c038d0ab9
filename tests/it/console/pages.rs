//! Signing in, roles, CSRF and the history page.

use reqwest::StatusCode;
use sj_shared::config::RedisSettings;
use sj_shared::store::{History, Keys, Outcome, QuoteRecord};

use super::Console;

#[tokio::test]
async fn sign_in_roles_csrf_and_the_sign_in_limit() {
    let console = Console::start("console-auth").await;
    console.add_user("ann", "admin", "ann's long password").await;
    console.add_user("vic", "viewer", "vic's long password").await;
    let short = console.cli(&["user", "add", "tim", "--role", "viewer"], "short\n").await;
    assert!(
        !short.status.success() && super::text(&short).contains("at least 10"),
        "{}",
        super::text(&short)
    );
    let list = super::text(&console.cli(&["user", "list"], "").await);
    assert!(
        list.contains("ann") && list.contains("admin") && list.contains("vic") && !list.contains("tim"),
        "{list}"
    );

    // No session: every page sends to the sign-in page, remembering where it was going.
    let mut nobody = console.browser();
    let page = nobody.get("/history?q=kitchen").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), "/sign-in?next=%2Fhistory%3Fq%3Dkitchen");
    assert_eq!(nobody.get("/").await.location(), "/sign-in");
    assert_eq!(nobody.get("/healthz").await.status, StatusCode::OK);
    let sign_in = nobody.get("/sign-in").await;
    assert!(sign_in.body.contains(r#"name="viewport""#), "usable on a phone");
    let css = nobody.get("/static/console.css").await;
    assert_eq!(
        (css.status, css.headers["content-type"].to_str().unwrap()),
        (StatusCode::OK, "text/css; charset=utf-8")
    );

    // Signing in: an HttpOnly, SameSite=Lax cookie, not Secure over plain http.
    let mut ann = console.browser();
    let signed = ann.sign_in("ann", "ann's long password").await;
    assert_eq!((signed.status, signed.location()), (StatusCode::SEE_OTHER, "/"));
    let cookie = signed
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("sj_session="));
    let cookie = cookie.expect("a session cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && !cookie.contains("Secure"),
        "{cookie}"
    );
    let home = ann.get("/").await;
    assert_eq!(home.status, StatusCode::OK, "{}", home.body);
    assert!(home.body.contains("ann (admin)"), "{}", home.body);

    let mut vic = console.browser();
    assert_eq!(vic.sign_in("vic", "vic's long password").await.status, StatusCode::SEE_OTHER);

    // A form POST without its CSRF token, or with another session's, is refused.
    assert_eq!(ann.post("/sign-out", &[]).await.status, StatusCode::FORBIDDEN);
    let vic_csrf = vic.get("/").await.csrf();
    assert_eq!(ann.post("/users/vic/remove", &[("csrf", &vic_csrf)]).await.status, StatusCode::FORBIDDEN);
    // The sign-in form too.
    assert_eq!(
        nobody.post("/sign-in", &[("name", "ann"), ("password", "ann's long password")]).await.status,
        StatusCode::FORBIDDEN
    );

    // Roles: a viewer reads but cannot use the admin action, nor see the users page.
    assert_eq!(vic.get("/history").await.status, StatusCode::OK);
    assert_eq!(vic.get("/users").await.status, StatusCode::FORBIDDEN);
    assert_eq!(vic.post("/users/ann/remove", &[("csrf", &vic_csrf)]).await.status, StatusCode::FORBIDDEN);
    // An admin can: the viewer is gone, and so is their session.
    let users = ann.get("/users").await;
    assert_eq!(users.status, StatusCode::OK);
    assert!(users.body.contains("vic"), "{}", users.body);
    let removed = ann.post("/users/vic/remove", &[("csrf", &users.csrf())]).await;
    assert_eq!((removed.status, removed.location()), (StatusCode::SEE_OTHER, "/users"));
    assert_eq!(vic.get("/").await.status, StatusCode::SEE_OTHER);
    assert!(!super::text(&console.cli(&["user", "list"], "").await).contains("vic"));

    // Signing out ends the session.
    let csrf = ann.get("/").await.csrf();
    let token = ann.session().unwrap();
    assert_eq!(ann.post("/sign-out", &[("csrf", &csrf)]).await.status, StatusCode::SEE_OTHER);
    let mut replay = console.browser();
    replay.set_session(&token);
    assert_eq!(replay.get("/").await.status, StatusCode::SEE_OTHER, "the old token is dead");

    // Wrong passwords: refused, and past 5 a minute the 6th is 429 even with the right one.
    let mut mallory = console.browser();
    for _ in 0..5 {
        let page = mallory.sign_in("ann", "not the password").await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED);
        assert!(page.body.contains("Wrong name or password"), "{}", page.body);
    }
    let limited = mallory.sign_in("ann", "ann's long password").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS, "{}", limited.body);
    let retry: u64 = limited.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert!(mallory.session().is_none());

    console.stop().await;
}

#[tokio::test]
async fn the_history_page_shows_entries_newest_first_escaped_and_searchable() {
    let console = Console::start("console-history").await;
    console.add_user("ann", "viewer", "ann's long password").await;
    let pool = sj_shared::store::pool(&RedisSettings::default()).unwrap();
    let history = History::new(pool, &Keys::new(&console.ns.name));
    let quote = QuoteRecord { quote_number: "41".to_owned(), ..QuoteRecord::default() };
    history.record(Outcome::Created, "kitchen-harbour-lane.xml", Some(&quote), None).await;
    history
        .record(
            Outcome::Parked,
            "<script>alert(1)</script>",
            None,
            Some(("mapping.no-customer-name", "Côté & fils")),
        )
        .await;

    let mut ann = console.browser();
    ann.sign_in("ann", "ann's long password").await;
    let page = ann.get("/history").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("kitchen-harbour-lane.xml") && page.body.contains("quote #41"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("<script>alert(1)</script>"), "not escaped: {}", page.body);
    assert!(
        page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;") || page.body.contains("&#60;script&#62;"),
        "{}",
        page.body
    );
    assert!(page.body.contains("Côté &amp; fils") || page.body.contains("Côté &#38; fils"), "{}", page.body);
    let parked = page.body.find("alert(1)").unwrap();
    let created = page.body.find("kitchen-harbour-lane.xml").unwrap();
    assert!(parked < created, "newest first");
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'"), "{csp}");

    let found = ann.get("/history?q=HARBOUR").await;
    assert!(
        found.body.contains("kitchen-harbour-lane.xml") && !found.body.contains("alert(1)"),
        "{}",
        found.body
    );
    let by_customer = ann.get("/history?q=c%C3%B4t%C3%A9").await;
    assert!(
        by_customer.body.contains("alert(1)") && !by_customer.body.contains("kitchen-harbour"),
        "{}",
        by_customer.body
    );
    let today = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()[..10].to_owned();
    let on_day = ann.get(&format!("/history?from={today}&to={today}")).await;
    assert!(on_day.body.contains("kitchen-harbour-lane.xml"), "{}", on_day.body);
    let before = ann.get("/history?from=2020-01-01&to=2020-01-02").await;
    assert!(before.body.contains("Nothing found") && !before.body.contains("kitchen"), "{}", before.body);

    let home = ann.get("/").await;
    assert!(home.body.contains("Quotes created</dt><dd>1"), "{}", home.body);
    console.stop().await;
}
