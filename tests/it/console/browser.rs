//! The console in a real browser (headless Chromium over WebDriver, `support::browser`): what a
//! person sees and does, with the page's JavaScript, cookies and forms as a browser runs them.

use fantoccini::Locator;
use sj_shared::config::RedisSettings;
use sj_shared::store::{History, Keys, Outcome, QuoteRecord};

use super::Console;
use crate::support::browser::Chrome;

/// Fills in the sign-in form and presses **Sign in**, as a person does.
pub async fn sign_in(chrome: &Chrome, name: &str, password: &str) {
    let form = chrome.client.form(Locator::Css("form[action='/sign-in']")).await.unwrap();
    form.set_by_name("name", name).await.unwrap();
    form.set_by_name("password", password).await.unwrap();
    chrome.click_and_wait("form[action='/sign-in'] button[type=submit]").await;
}

/// Some history in the console's namespace: a quote written, a parked document.
async fn history(console: &Console) -> History {
    let pool = sj_shared::store::pool(&RedisSettings::default()).unwrap();
    History::new(pool, &Keys::new(&console.ns.name))
}

#[tokio::test]
async fn browser_no_session_lands_on_sign_in_then_the_form_signs_in() {
    let console = Console::start("console-browser-sign-in").await;
    console.add_user("ann", "admin", "ann's long password").await;
    let history = history(&console).await;
    let quote = QuoteRecord { quote_number: "41".to_owned(), ..QuoteRecord::default() };
    history.record(Outcome::Created, "kitchen-harbour-lane.xml", Some(&quote), None).await;
    history
        .record(
            Outcome::Parked,
            "bath-gatineau.json",
            None,
            Some(("mapping.no-customer-name", "the document has no customer name")),
        )
        .await;
    let chrome = Chrome::start().await;

    // No session: the browser ends on the sign-in page, which remembers where it was going.
    chrome.goto(&format!("{}/history?q=kitchen", console.url)).await;
    assert_eq!(chrome.location().await, "/sign-in?next=%2Fhistory%3Fq%3Dkitchen");
    assert!(chrome.body_text().await.contains("Sign in"));

    // A wrong password: the form again, with the reason.
    sign_in(&chrome, "ann", "not the password").await;
    assert!(chrome.body_text().await.contains("Wrong name or password"), "{}", chrome.body_text().await);
    // The right one: the page it was going to, signed in.
    sign_in(&chrome, "ann", "ann's long password").await;
    chrome.wait_for_path("/history").await;
    assert_eq!(chrome.location().await, "/history?q=kitchen");
    let text = chrome.body_text().await;
    assert!(text.contains("ann (admin)") && text.contains("kitchen-harbour-lane.xml"), "{text}");
    assert!(!text.contains("bath-gatineau.json"), "the search applies: {text}");

    // The history page at phone width, for docs/console.md (WRITE_SCREENSHOTS=1 writes docs/img/).
    let shot = chrome.screenshot(&format!("{}/history", console.url), "console-history-phone.png").await;
    assert!(tokio::fs::metadata(&shot).await.unwrap().len() > 1000, "{}", shot.display());
    // At that width everything fits: no sideways scrolling (else: which elements stick out).
    let wide = chrome
        .client
        .execute(
            "const w = window.innerWidth; return [document.documentElement.scrollWidth - w, \
             [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > w + 0.5) \
             .map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right)).slice(0, 8)]",
            vec![],
        )
        .await
        .unwrap();
    assert!(wide[0].as_i64().unwrap() <= 0, "the page scrolls sideways at phone width: {wide}");

    // Signing out (the header's button): back to the sign-in page; the history is closed again.
    chrome.click_and_wait("form[action='/sign-out'] button").await;
    chrome.wait_for_path("/sign-in").await;
    chrome.goto(&format!("{}/history", console.url)).await;
    assert_eq!(chrome.location().await, "/sign-in?next=%2Fhistory");

    chrome.stop().await;
    console.stop().await;
}

#[tokio::test]
async fn browser_shows_a_script_in_a_customer_name_as_text() {
    let console = Console::start("console-browser-script").await;
    console.add_user("ann", "viewer", "ann's long password").await;
    let history = history(&console).await;
    history
        .record(
            Outcome::Parked,
            "<script>alert(1)</script>.xml",
            None,
            Some((
                "mapping.unknown-client",
                "customer <script>alert(1)</script> <img src=x onerror=alert(2)>",
            )),
        )
        .await;
    let chrome = Chrome::start().await;
    chrome.goto(&format!("{}/sign-in?next=%2Fhistory", console.url)).await;
    sign_in(&chrome, "ann", "ann's long password").await;
    chrome.wait_for_path("/history").await;

    // No alert opened (an unescaped script would run, or at least be a <script> element).
    assert_eq!(chrome.open_alert().await, None);
    let scripts = chrome.client.find_all(Locator::Css("main script, main img")).await.unwrap();
    assert!(scripts.is_empty(), "the customer's name became {} element(s)", scripts.len());
    // The name is on the page as the text it is, visible.
    let cell = chrome.client.find(Locator::Css("table.history td.source")).await.unwrap();
    assert_eq!(cell.text().await.unwrap(), "<script>alert(1)</script>.xml");
    assert!(cell.is_displayed().await.unwrap());
    let text = chrome.body_text().await;
    assert!(text.contains("customer <script>alert(1)</script> <img src=x onerror=alert(2)>"), "{text}");
    // Still none after the page has had time to run anything.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(chrome.open_alert().await, None);

    chrome.stop().await;
    console.stop().await;
}

#[tokio::test]
async fn browser_admin_removes_a_user_through_the_form_and_a_form_without_its_token_is_refused() {
    let console = Console::start("console-browser-users").await;
    console.add_user("ann", "admin", "ann's long password").await;
    console.add_user("vic", "viewer", "vic's long password").await;
    console.add_user("sam", "viewer", "sam's long password").await;
    let chrome = Chrome::start().await;
    chrome.goto(&format!("{}/sign-in", console.url)).await;
    sign_in(&chrome, "ann", "ann's long password").await;
    chrome.wait_for_path("/").await;
    chrome.click_and_wait("header nav a[href='/users']").await;
    chrome.wait_for_path("/users").await;

    // sam's form with its CSRF token taken out by script: refused, and sam stays.
    let removed = chrome
        .client
        .execute(
            "const input = document.querySelector(\"form[action='/users/sam/remove'] input[name=csrf]\");\
             input.remove(); return document.querySelectorAll(\"form[action='/users/sam/remove'] input[name=csrf]\").length",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(removed, serde_json::json!(0));
    chrome.click_and_wait("form[action='/users/sam/remove'] button").await;
    chrome.wait_for_path("/users/sam/remove").await;
    let text = chrome.body_text().await;
    assert!(text.contains("This form has expired or did not come from the console"), "{text}");
    let list = super::text(&console.cli(&["user", "list"], "").await);
    assert!(list.contains("sam"), "{list}");

    // vic's form as the page has it: vic is removed, the page shows the users without vic.
    chrome.goto(&format!("{}/users", console.url)).await;
    chrome.click_and_wait("form[action='/users/vic/remove'] button").await;
    chrome.wait_for_path("/users").await;
    let names: Vec<String> = {
        let mut names = Vec::new();
        for cell in chrome
            .client
            .find_all(Locator::Css("main table:first-of-type tbody td:first-child"))
            .await
            .unwrap()
        {
            names.push(cell.text().await.unwrap());
        }
        names
    };
    assert!(names.contains(&"sam".to_owned()) && !names.contains(&"vic".to_owned()), "{names:?}");
    let list = super::text(&console.cli(&["user", "list"], "").await);
    assert!(list.contains("sam") && !list.contains("vic"), "{list}");

    chrome.stop().await;
    console.stop().await;
}
