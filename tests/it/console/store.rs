//! The console's SQLite file: an online backup that reads, and a `kill -9` that loses nothing.

use reqwest::StatusCode;

use super::{text, Console};

#[tokio::test]
async fn the_database_is_backed_up_online_and_survives_kill_9() {
    let mut console = Console::start("console-store").await;
    console.add_user("ann", "admin", "ann's long password").await;
    let mut ann = console.browser();
    assert_eq!(ann.sign_in("ann", "ann's long password").await.status, StatusCode::SEE_OTHER);
    assert_eq!(ann.get("/").await.status, StatusCode::OK);

    // Backup while the console runs: a copy another sj-console reads.
    let copy = console.dir.path().join("copy.sqlite3");
    let out = console.cli(&["backup", copy.to_str().unwrap()], "").await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("(1 users)"), "{}", text(&out));
    let again = console.cli(&["backup", copy.to_str().unwrap()], "").await;
    assert!(!again.status.success() && text(&again).contains("already exists"), "{}", text(&again));
    let listed =
        console.command().env("SJ_CONSOLE__DATABASE", &copy).args(["user", "list"]).output().await.unwrap();
    assert!(listed.status.success() && text(&listed).contains("ann"), "{}", text(&listed));

    // kill -9, then start again on the same file: the user and the session are still there.
    console.kill_9().await;
    console.serve().await;
    let token = ann.session().unwrap();
    let mut same = console.browser();
    same.set_session(&token);
    let home = same.get("/").await;
    assert_eq!(home.status, StatusCode::OK, "{}", home.body);
    assert!(home.body.contains("ann (admin)"), "{}", home.body);
    console.stop().await;
}
