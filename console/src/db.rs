//! The console's durable store: one SQLite file in WAL mode (a crash of the process loses no
//! committed write), its schema brought up to date by numbered migrations, each applied once in
//! a transaction and recorded in `schema_version`.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

/// The schema, one step per entry: entry `i` is version `i + 1`. Never edit a step that has
/// shipped; add one.
const MIGRATIONS: &[&str] = &[
    // 1: users, sessions, sign-in attempts, audit, Jobber webhook events, console flags.
    "CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        role TEXT NOT NULL CHECK (role IN ('viewer', 'reviewer', 'admin')),
        password_hash TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE sessions (
        token_hash TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        csrf_token TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
    );
    CREATE INDEX sessions_by_expiry ON sessions (expires_at);
    CREATE TABLE sign_in_attempts (
        id INTEGER PRIMARY KEY,
        user_name TEXT NOT NULL,
        address TEXT NOT NULL,
        at INTEGER NOT NULL,
        succeeded INTEGER NOT NULL
    );
    CREATE INDEX attempts_by_user ON sign_in_attempts (user_name, at);
    CREATE INDEX attempts_by_address ON sign_in_attempts (address, at);
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        detail TEXT NOT NULL
    );
    CREATE TABLE webhook_events (
        id INTEGER PRIMARY KEY,
        dedup_key TEXT NOT NULL UNIQUE,
        topic TEXT NOT NULL,
        item_id TEXT NOT NULL,
        account_id TEXT NOT NULL,
        occurred_at TEXT NOT NULL,
        received_at INTEGER NOT NULL,
        body TEXT NOT NULL
    );
    CREATE TABLE flags (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        set_at INTEGER NOT NULL
    );",
    // 2: the OAuth `state` of each "Connect Jobber" in flight (single use, checked at the callback).
    "CREATE TABLE oauth_states (
        state TEXT PRIMARY KEY,
        user_name TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );",
    // 3: documents held for review (`review.when`), each decision, and the outbox of approved
    // documents to publish (a row is sent once the broker confirmed it).
    "CREATE TABLE reviews (
        id INTEGER PRIMARY KEY,
        content_hash TEXT NOT NULL UNIQUE,
        source TEXT NOT NULL,
        customer TEXT NOT NULL,
        total TEXT NOT NULL,
        reasons TEXT NOT NULL,
        item TEXT NOT NULL,
        traceparent TEXT,
        held_at INTEGER NOT NULL,
        status TEXT NOT NULL DEFAULT 'waiting' CHECK (status IN ('waiting', 'approved', 'rejected')),
        decided_by TEXT,
        decided_at INTEGER,
        decision TEXT,
        changes TEXT,
        reject_reason TEXT
    );
    CREATE INDEX reviews_by_status ON reviews (status, id);
    CREATE TABLE review_outbox (
        id INTEGER PRIMARY KEY,
        review_id INTEGER NOT NULL REFERENCES reviews (id),
        body TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        sent_at INTEGER
    );
    CREATE INDEX outbox_unsent ON review_outbox (sent_at);",
];

/// The flag set by an `APP_DISCONNECT` webhook (value: when it occurred), shown as a banner on
/// every page until an admin connects the bridge to Jobber again.
pub const FLAG_JOBBER_DISCONNECTED: &str = "jobber_disconnected";

/// Unix seconds now.
pub fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs() as i64
}

/// Who may do what. Ordered: each role may do what the ones before it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Reads every page.
    Viewer,
    /// And approves, rejects and replays documents (later slices).
    Reviewer,
    /// And manages users, purges, connects Jobber.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Reviewer => "reviewer",
            Role::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        [Role::Viewer, Role::Reviewer, Role::Admin].into_iter().find(|r| r.as_str() == text)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub created_at: i64,
}

/// A signed-in session, as looked up by its token.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: User,
    pub csrf_token: String,
}

/// One stored Jobber webhook event.
#[derive(Debug, Clone)]
pub struct WebhookEvent {
    pub topic: String,
    pub item_id: String,
    pub occurred_at: String,
    pub received_at: i64,
}

/// What a failed write or read of the store says.
pub type DbResult<T> = Result<T, rusqlite::Error>;

/// The console's database: one connection, used for a moment at a time.
pub struct Db {
    conn: Mutex<Connection>,
}

impl Db {
    /// Opens (creating it if needed) the file, in WAL mode, and applies the migrations not yet
    /// applied.
    pub fn open(path: &Path) -> DbResult<Db> {
        let mut conn = Connection::open(path)?;
        configure(&conn)?;
        migrate(&mut conn)?;
        Ok(Db { conn: Mutex::new(conn) })
    }

    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The schema version applied.
    pub fn schema_version(&self) -> DbResult<i64> {
        version(&self.conn())
    }

    // Users.

    pub fn add_user(&self, name: &str, role: Role, password_hash: &str) -> DbResult<()> {
        self.conn().execute(
            "INSERT INTO users (name, role, password_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![name, role.as_str(), password_hash, now()],
        )?;
        Ok(())
    }

    pub fn users(&self) -> DbResult<Vec<User>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT id, name, role, created_at FROM users ORDER BY name")?;
        let rows = stmt.query_map([], user_row)?;
        rows.collect()
    }

    /// The user and their password hash, by name.
    pub fn user_with_hash(&self, name: &str) -> DbResult<Option<(User, String)>> {
        self.conn()
            .query_row(
                "SELECT id, name, role, created_at, password_hash FROM users WHERE name = ?1",
                [name],
                |row| Ok((user_row(row)?, row.get(4)?)),
            )
            .optional()
    }

    /// Removes a user and their sessions; whether there was one.
    pub fn remove_user(&self, name: &str) -> DbResult<bool> {
        Ok(self.conn().execute("DELETE FROM users WHERE name = ?1", [name])? > 0)
    }

    // Sessions.

    pub fn create_session(
        &self,
        token_hash: &str,
        user_id: i64,
        csrf: &str,
        lifetime: Duration,
    ) -> DbResult<()> {
        let now = now();
        let conn = self.conn();
        conn.execute("DELETE FROM sessions WHERE expires_at <= ?1", [now])?;
        conn.execute(
            "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![token_hash, user_id, csrf, now, now + lifetime.as_secs() as i64],
        )?;
        Ok(())
    }

    /// The live session of a token's hash.
    pub fn session(&self, token_hash: &str) -> DbResult<Option<Session>> {
        self.conn()
            .query_row(
                "SELECT u.id, u.name, u.role, u.created_at, s.csrf_token
                 FROM sessions s JOIN users u ON u.id = s.user_id
                 WHERE s.token_hash = ?1 AND s.expires_at > ?2",
                params![token_hash, now()],
                |row| Ok(Session { user: user_row(row)?, csrf_token: row.get(4)? }),
            )
            .optional()
    }

    pub fn end_session(&self, token_hash: &str) -> DbResult<()> {
        self.conn().execute("DELETE FROM sessions WHERE token_hash = ?1", [token_hash])?;
        Ok(())
    }

    // Sign-in attempts.

    pub fn record_attempt(&self, user_name: &str, address: &str, succeeded: bool) -> DbResult<()> {
        let conn = self.conn();
        let now = now();
        conn.execute("DELETE FROM sign_in_attempts WHERE at < ?1", [now - 24 * 60 * 60])?;
        conn.execute(
            "INSERT INTO sign_in_attempts (user_name, address, at, succeeded) VALUES (?1, ?2, ?3, ?4)",
            params![user_name, address, now, succeeded],
        )?;
        Ok(())
    }

    /// The failed attempts since `since` (Unix seconds) for a user name and for an address, with
    /// the oldest of each (to say when the limit lifts).
    pub fn failed_attempts(
        &self,
        user_name: &str,
        address: &str,
        since: i64,
    ) -> DbResult<[(u32, Option<i64>); 2]> {
        let conn = self.conn();
        let count = |column: &str, value: &str| -> DbResult<(u32, Option<i64>)> {
            conn.query_row(
                &format!(
                    "SELECT COUNT(*), MIN(at) FROM sign_in_attempts WHERE {column} = ?1 AND at >= ?2 AND NOT succeeded"
                ),
                params![value, since],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
        };
        Ok([count("user_name", user_name)?, count("address", address)?])
    }

    // Audit.

    pub fn audit(&self, actor: &str, action: &str, detail: &str) -> DbResult<()> {
        self.conn().execute(
            "INSERT INTO audit (at, actor, action, detail) VALUES (?1, ?2, ?3, ?4)",
            params![now(), actor, action, detail],
        )?;
        Ok(())
    }

    /// The latest audit records, newest first: (at, actor, action, detail).
    pub fn recent_audit(&self, limit: u32) -> DbResult<Vec<(i64, String, String, String)>> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT at, actor, action, detail FROM audit ORDER BY id DESC LIMIT ?1")?;
        let rows = stmt.query_map([limit], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        rows.collect()
    }

    // Webhook events.

    /// Stores an event once: false when one with the same key is already stored.
    pub fn store_webhook_event(
        &self,
        dedup_key: &str,
        topic: &str,
        item_id: &str,
        account_id: &str,
        occurred_at: &str,
        body: &str,
    ) -> DbResult<bool> {
        let inserted = self.conn().execute(
            "INSERT OR IGNORE INTO webhook_events (dedup_key, topic, item_id, account_id, occurred_at, received_at, body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![dedup_key, topic, item_id, account_id, occurred_at, now(), body],
        )?;
        Ok(inserted > 0)
    }

    pub fn recent_webhook_events(&self, limit: u32) -> DbResult<Vec<WebhookEvent>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT topic, item_id, occurred_at, received_at FROM webhook_events ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit], |r| {
            Ok(WebhookEvent {
                topic: r.get(0)?,
                item_id: r.get(1)?,
                occurred_at: r.get(2)?,
                received_at: r.get(3)?,
            })
        })?;
        rows.collect()
    }

    pub fn webhook_event_count(&self) -> DbResult<i64> {
        self.conn().query_row("SELECT COUNT(*) FROM webhook_events", [], |r| r.get(0))
    }

    // Flags.

    pub fn set_flag(&self, name: &str, value: &str) -> DbResult<()> {
        self.conn().execute(
            "INSERT INTO flags (name, value, set_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (name) DO UPDATE SET value = excluded.value, set_at = excluded.set_at",
            params![name, value, now()],
        )?;
        Ok(())
    }

    pub fn flag(&self, name: &str) -> DbResult<Option<String>> {
        self.conn().query_row("SELECT value FROM flags WHERE name = ?1", [name], |r| r.get(0)).optional()
    }

    pub fn clear_flag(&self, name: &str) -> DbResult<()> {
        self.conn().execute("DELETE FROM flags WHERE name = ?1", [name])?;
        Ok(())
    }

    // OAuth states (connecting Jobber from the console).

    /// Records the `state` of a Jobber authorization begun by `user_name`.
    pub fn put_oauth_state(&self, state: &str, user_name: &str) -> DbResult<()> {
        let conn = self.conn();
        conn.execute("DELETE FROM oauth_states WHERE created_at < ?1", [now() - 24 * 60 * 60])?;
        conn.execute(
            "INSERT INTO oauth_states (state, user_name, created_at) VALUES (?1, ?2, ?3)",
            params![state, user_name, now()],
        )?;
        Ok(())
    }

    /// Takes a `state` back (once): the user who began it and when, if it was recorded.
    pub fn take_oauth_state(&self, state: &str) -> DbResult<Option<(String, i64)>> {
        let conn = self.conn();
        let found = conn
            .query_row("SELECT user_name, created_at FROM oauth_states WHERE state = ?1", [state], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        conn.execute("DELETE FROM oauth_states WHERE state = ?1", [state])?;
        Ok(found)
    }
}

fn user_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    let role: String = row.get(2)?;
    Ok(User {
        id: row.get(0)?,
        name: row.get(1)?,
        role: Role::parse(&role).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                2,
                rusqlite::types::Type::Text,
                format!("role {role:?}").into(),
            )
        })?,
        created_at: row.get(3)?,
    })
}

fn configure(conn: &Connection) -> DbResult<()> {
    conn.busy_timeout(Duration::from_secs(5))?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(mode, "SQLite did not switch to WAL");
    }
    // Every commit reaches the disk before it is answered.
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
}

fn version(conn: &Connection) -> DbResult<i64> {
    conn.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_version", [], |r| r.get(0))
}

/// Applies the migrations not yet applied, all in one transaction (a failed step leaves the
/// file as it was).
fn migrate(conn: &mut Connection) -> DbResult<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
    )?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let applied = version(&tx)?;
    if applied > MIGRATIONS.len() as i64 {
        return Err(rusqlite::Error::InvalidParameterName(format!(
            "the database has schema version {applied}, newer than this sj-console knows ({}): use a newer sj-console",
            MIGRATIONS.len()
        )));
    }
    for (i, step) in MIGRATIONS.iter().enumerate().skip(applied as usize) {
        tx.execute_batch(step)?;
        tx.execute(
            "INSERT INTO schema_version (version, applied_at) VALUES (?1, ?2)",
            params![i as i64 + 1, now()],
        )?;
    }
    tx.commit()
}

/// Copies the database at `from` to the new file `to` with SQLite's online backup (the console
/// may keep running and writing), then checks the copy; returns its user count.
pub fn backup(from: &Path, to: &Path) -> Result<i64, String> {
    if to.exists() {
        return Err(format!("{} already exists: name a new file", to.display()));
    }
    if !from.is_file() {
        return Err(format!("{} does not exist (console.database)", from.display()));
    }
    let source = Connection::open_with_flags(from, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| format!("cannot open {}: {e}", from.display()))?;
    source.busy_timeout(Duration::from_secs(5)).map_err(|e| e.to_string())?;
    let mut copy = Connection::open(to).map_err(|e| format!("cannot create {}: {e}", to.display()))?;
    {
        let backup = rusqlite::backup::Backup::new(&source, &mut copy).map_err(|e| e.to_string())?;
        backup
            .run_to_completion(256, Duration::from_millis(10), None)
            .map_err(|e| format!("backup to {} failed: {e}", to.display()))?;
    }
    let check: String =
        copy.query_row("PRAGMA integrity_check", [], |r| r.get(0)).map_err(|e| format!("the copy: {e}"))?;
    if check != "ok" {
        return Err(format!("the copy {} fails its integrity check: {check}", to.display()));
    }
    copy.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0)).map_err(|e| format!("the copy: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_apply_once_and_are_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.sqlite3");
        let db = Db::open(&path).unwrap();
        assert_eq!(db.schema_version().unwrap(), MIGRATIONS.len() as i64);
        db.add_user("ann", Role::Admin, "h").unwrap();
        drop(db);
        let db = Db::open(&path).unwrap();
        assert_eq!(db.schema_version().unwrap(), MIGRATIONS.len() as i64);
        assert_eq!(db.users().unwrap()[0].name, "ann");
        let mode: String = db.conn().query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
    }

    #[test]
    fn sessions_expire_and_go_with_their_user() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("c.sqlite3")).unwrap();
        db.add_user("bob", Role::Viewer, "h").unwrap();
        let bob = db.user_with_hash("bob").unwrap().unwrap().0;
        db.create_session("live", bob.id, "csrf", Duration::from_secs(60)).unwrap();
        db.create_session("dead", bob.id, "csrf", Duration::ZERO).unwrap();
        assert_eq!(db.session("live").unwrap().unwrap().user.name, "bob");
        assert!(db.session("dead").unwrap().is_none());
        assert!(db.remove_user("bob").unwrap());
        assert!(db.session("live").unwrap().is_none());
    }

    #[test]
    fn webhook_events_are_stored_once() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("c.sqlite3")).unwrap();
        assert!(db.store_webhook_event("k", "QUOTE_CREATE", "q1", "a", "t", "{}").unwrap());
        assert!(!db.store_webhook_event("k", "QUOTE_CREATE", "q1", "a", "t", "{}").unwrap());
        assert_eq!(db.webhook_event_count().unwrap(), 1);
    }

    #[test]
    fn an_oauth_state_is_taken_once() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("c.sqlite3")).unwrap();
        db.put_oauth_state("s1", "ann").unwrap();
        assert_eq!(db.take_oauth_state("s1").unwrap().map(|(user, _)| user).as_deref(), Some("ann"));
        assert_eq!(db.take_oauth_state("s1").unwrap(), None);
        assert_eq!(db.take_oauth_state("other").unwrap(), None);
    }

    #[test]
    fn failed_attempts_are_counted_per_user_and_per_address() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("c.sqlite3")).unwrap();
        db.record_attempt("ann", "10.0.0.1", false).unwrap();
        db.record_attempt("ann", "10.0.0.2", false).unwrap();
        db.record_attempt("bob", "10.0.0.1", true).unwrap();
        let [user, address] = db.failed_attempts("ann", "10.0.0.1", now() - 60).unwrap();
        assert_eq!((user.0, address.0), (2, 1));
    }
}
