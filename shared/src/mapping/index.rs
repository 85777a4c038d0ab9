//! The Redis index of the table, which the workers read:
//!
//! - `<ns>:sj:mapping:v1-keys` (hash): customer key → the row in use, as JSON `{person, row}`;
//! - `<ns>:sj:mapping:v1-addresses` (hash): address key → the row in use for that address;
//! - `<ns>:sj:mapping:v1-meta` (hash): `t0` (Redis time, ms, when the store read began),
//!   `loaded_at` (RFC 3339), `rows`, `problems` (JSON array), `store`; its absence means "no index"
//!   (Redis restarted or flushed): look-ups wait for it to be rebuilt;
//! - `<ns>:sj:mapping:v1-fresh` (string, expires after `mapping.refresh`): while it exists the
//!   index is fresh; once gone, the next look-up re-reads the store (one process at a time, under
//!   the lock `<ns>:sj:mapping:v1-refresh-lock`);
//! - `<ns>:sj:mapping:v1-appended` (sorted set, Redis time in ms): rows appended recently, so a
//!   refresh whose store read began before an append does not drop that row from the index.
//!
//! A refresh builds the new hashes under temporary keys and swaps them in with one Lua script
//! (RENAME, then the recent appends applied again): readers see the old index or the new one,
//! never a half-built one.

use std::time::{Duration, UNIX_EPOCH};

use deadpool_redis::Pool;
use serde::{Deserialize, Serialize};

use super::table::Resolved;
use super::{AddressKey, MappingError, MappingRow};
use crate::store::Keys;

/// The index's keys.
#[derive(Debug, Clone)]
pub(crate) struct IndexKeys {
    pub by_key: String,
    pub by_address: String,
    pub meta: String,
    pub fresh: String,
    pub appended: String,
    pub lock: String,
}

impl IndexKeys {
    pub fn new(keys: &Keys) -> IndexKeys {
        let key = |what: &str| keys.key("mapping", &format!("v1-{what}"));
        IndexKeys {
            by_key: key("keys"),
            by_address: key("addresses"),
            meta: key("meta"),
            fresh: key("fresh"),
            appended: key("appended"),
            lock: key("refresh-lock"),
        }
    }
}

/// One index entry: the row, and whether a person wrote it (the Lua scripts read `person`).
#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    person: bool,
    row: MappingRow,
}

pub(crate) fn entry_json(row: &MappingRow) -> String {
    serde_json::to_string(&Entry { person: !row.is_auto(), row: row.clone() }).expect("rows serialize")
}

pub(crate) fn decode(json: &str) -> Result<MappingRow, MappingError> {
    serde_json::from_str::<Entry>(json)
        .map(|e| e.row)
        .map_err(|e| MappingError::Unavailable(format!("a mapping index entry in Redis is unreadable: {e}")))
}

pub(crate) fn redis_error(e: impl std::fmt::Display) -> MappingError {
    MappingError::Unavailable(format!("Redis: {e}"))
}

/// Puts an entry in a hash unless a person's row is there and this one is the bridge's.
const APPLY: &str = r#"
local function person(json)
  local ok, entry = pcall(cjson.decode, json)
  return ok and type(entry) == 'table' and entry.person == true
end
local function apply(hash, field, json)
  if field == '' then return false end
  local current = redis.call('HGET', hash, field)
  if current and person(current) and not person(json) then return false end
  redis.call('HSET', hash, field, json)
  return true
end
"#;

/// KEYS: by_key, by_address, appended. ARGV: ttl of `appended` (ms), then (key, address key or
/// '', entry) for each row.
const ADD: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 2, #ARGV, 3 do
  if apply(KEYS[1], ARGV[i], ARGV[i + 2]) then apply(KEYS[2], ARGV[i + 1], ARGV[i + 2]) end
  redis.call('ZADD', KEYS[3], now, cjson.encode({ARGV[i], ARGV[i + 1], ARGV[i + 2]}))
end
redis.call('PEXPIRE', KEYS[3], ARGV[1])
return now
"#;

/// KEYS: by_key, by_address, appended, new by_key, new by_address, meta, fresh. ARGV: t0 (ms),
/// freshness (ms), then meta's fields and values. A refresh whose read began before the one
/// already installed changes nothing (returns 0).
const SWAP: &str = r#"
local installed = redis.call('HGET', KEYS[6], 't0')
if installed and tonumber(installed) > tonumber(ARGV[1]) then
  redis.call('DEL', KEYS[4], KEYS[5])
  return 0
end
for _, pair in ipairs({{KEYS[4], KEYS[1]}, {KEYS[5], KEYS[2]}}) do
  if redis.call('EXISTS', pair[1]) == 1 then
    redis.call('RENAME', pair[1], pair[2])
    redis.call('PERSIST', pair[2])
  else
    redis.call('DEL', pair[2])
  end
end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. ARGV[1])
for _, member in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
  local p = cjson.decode(member)
  if apply(KEYS[1], p[1], p[3]) then apply(KEYS[2], p[2], p[3]) end
end
redis.call('DEL', KEYS[6])
redis.call('HSET', KEYS[6], unpack(ARGV, 3))
redis.call('SET', KEYS[7], '1', 'PX', ARGV[2])
return 1
"#;

/// How long a recent append is remembered at most (refreshes forget it sooner).
const APPENDED_TTL: Duration = Duration::from_secs(24 * 3600);
/// Temporary keys of a refresh that died before its swap disappear by themselves.
const TEMP_TTL: Duration = Duration::from_secs(600);

/// Redis' clock, in ms (one clock for every process).
pub(crate) async fn now_ms(pool: &Pool) -> Result<u64, MappingError> {
    let mut conn = pool.get().await.map_err(redis_error)?;
    let (secs, micros): (u64, u64) = redis::cmd("TIME").query_async(&mut conn).await.map_err(redis_error)?;
    Ok(secs * 1000 + micros / 1000)
}

/// `(index exists, index fresh, the hash's value for field)`, in one round trip.
pub(crate) async fn probe(
    pool: &Pool,
    keys: &IndexKeys,
    hash: &str,
    field: &str,
) -> Result<(bool, bool, Option<String>), MappingError> {
    let mut conn = pool.get().await.map_err(redis_error)?;
    redis::pipe()
        .exists(&keys.meta)
        .exists(&keys.fresh)
        .hget(hash, field)
        .query_async(&mut conn)
        .await
        .map_err(redis_error)
}

pub(crate) async fn hget(pool: &Pool, hash: &str, field: &str) -> Result<Option<String>, MappingError> {
    let mut conn = pool.get().await.map_err(redis_error)?;
    redis::cmd("HGET").arg(hash).arg(field).query_async(&mut conn).await.map_err(redis_error)
}

pub(crate) async fn exists(pool: &Pool, key: &str) -> Result<bool, MappingError> {
    let mut conn = pool.get().await.map_err(redis_error)?;
    redis::cmd("EXISTS").arg(key).query_async(&mut conn).await.map_err(redis_error)
}

/// Marks the index fresh for `ttl` (after a failed refresh: not to re-read the store on every
/// look-up while it fails).
pub(crate) async fn mark_fresh(pool: &Pool, keys: &IndexKeys, ttl: Duration) -> Result<(), MappingError> {
    let mut conn = pool.get().await.map_err(redis_error)?;
    redis::cmd("SET")
        .arg(&keys.fresh)
        .arg(1)
        .arg("PX")
        .arg(ttl.as_millis().max(1) as u64)
        .query_async::<()>(&mut conn)
        .await
        .map_err(redis_error)
}

/// What the meta hash says about the installed index.
#[derive(Debug, Clone, Default)]
pub(crate) struct Meta {
    pub loaded_at: Option<String>,
    pub problems: Vec<String>,
    pub store: Option<String>,
}

/// The rows in the index now and when its table was read (Unix ms); None when there is no index.
pub(crate) async fn stats(pool: &Pool, keys: &IndexKeys) -> Result<Option<(u64, u64)>, MappingError> {
    let mut conn = pool.get().await.map_err(redis_error)?;
    let (rows, t0): (u64, Option<u64>) = redis::pipe()
        .cmd("HLEN")
        .arg(&keys.by_key)
        .cmd("HGET")
        .arg(&keys.meta)
        .arg("t0")
        .query_async(&mut conn)
        .await
        .map_err(redis_error)?;
    Ok(t0.map(|t0| (rows, t0)))
}

pub(crate) async fn meta(pool: &Pool, keys: &IndexKeys) -> Result<Meta, MappingError> {
    let mut conn = pool.get().await.map_err(redis_error)?;
    let fields: std::collections::HashMap<String, String> =
        redis::cmd("HGETALL").arg(&keys.meta).query_async(&mut conn).await.map_err(redis_error)?;
    Ok(Meta {
        loaded_at: fields.get("loaded_at").cloned(),
        problems: fields.get("problems").and_then(|p| serde_json::from_str(p).ok()).unwrap_or_default(),
        store: fields.get("store").cloned(),
    })
}

/// Every row in use, sorted by key.
pub(crate) async fn all_rows(pool: &Pool, keys: &IndexKeys) -> Result<Vec<MappingRow>, MappingError> {
    let mut conn = pool.get().await.map_err(redis_error)?;
    let entries: Vec<(String, String)> =
        redis::cmd("HGETALL").arg(&keys.by_key).query_async(&mut conn).await.map_err(redis_error)?;
    let mut rows = entries.iter().map(|(_, json)| decode(json)).collect::<Result<Vec<_>, _>>()?;
    rows.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(rows)
}

/// Adds appended rows to the index (a person's row in the index stays ahead of the bridge's).
pub(crate) async fn add(pool: &Pool, keys: &IndexKeys, rows: &[MappingRow]) -> Result<(), MappingError> {
    let mut conn = pool.get().await.map_err(redis_error)?;
    let script = redis::Script::new(&format!("{APPLY}{ADD}"));
    let mut invocation = script.key(&keys.by_key);
    invocation.key(&keys.by_address).key(&keys.appended).arg(APPENDED_TTL.as_millis() as u64);
    for row in rows {
        invocation
            .arg(row.key.as_str())
            .arg(row.address_key().as_ref().map_or("", AddressKey::as_str))
            .arg(entry_json(row));
    }
    invocation.invoke_async::<u64>(&mut conn).await.map_err(redis_error)?;
    Ok(())
}

/// What a refresh installs.
pub(crate) struct Install<'a> {
    pub resolved: &'a Resolved,
    pub problems: &'a [String],
    /// Redis time when the store read began.
    pub t0: u64,
    pub fresh_for: Duration,
    pub store: String,
}

/// Builds the new index under temporary keys and swaps it in. Returns the problems the index
/// held before (to log only what changed), or `None` when a newer refresh was already installed.
pub(crate) async fn install(
    pool: &Pool,
    keys: &IndexKeys,
    new: Install<'_>,
) -> Result<Option<Vec<String>>, MappingError> {
    let before = meta(pool, keys).await?.problems;
    let token = format!("{}-{}", std::process::id(), new.t0);
    let (temp_keys, temp_addresses) =
        (format!("{}.tmp.{token}", keys.by_key), format!("{}.tmp.{token}", keys.by_address));
    let mut conn = pool.get().await.map_err(redis_error)?;
    let mut pipe = redis::pipe();
    pipe.del(&temp_keys).ignore().del(&temp_addresses).ignore();
    let by_key: Vec<(String, String)> =
        new.resolved.by_key.iter().map(|(k, row)| (k.as_str().to_owned(), entry_json(row))).collect();
    let by_address: Vec<(String, String)> =
        new.resolved.by_address.iter().map(|(a, row)| (a.to_string(), entry_json(row))).collect();
    for (temp, entries) in [(&temp_keys, &by_key), (&temp_addresses, &by_address)] {
        for chunk in entries.chunks(500) {
            pipe.hset_multiple(temp, chunk).ignore();
        }
        pipe.pexpire(temp, TEMP_TTL.as_millis() as i64).ignore();
    }
    pipe.query_async::<()>(&mut conn).await.map_err(redis_error)?;

    let loaded_at = humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_millis(new.t0)).to_string();
    let problems = serde_json::to_string(new.problems).expect("strings serialize");
    let script = redis::Script::new(&format!("{APPLY}{SWAP}"));
    let mut invocation = script.key(&keys.by_key);
    invocation
        .key(&keys.by_address)
        .key(&keys.appended)
        .key(&temp_keys)
        .key(&temp_addresses)
        .key(&keys.meta)
        .key(&keys.fresh)
        .arg(new.t0)
        .arg(new.fresh_for.as_millis().max(1) as u64)
        .arg("t0")
        .arg(new.t0)
        .arg("loaded_at")
        .arg(loaded_at)
        .arg("rows")
        .arg(new.resolved.by_key.len())
        .arg("problems")
        .arg(problems)
        .arg("store")
        .arg(new.store);
    let swapped: i64 = invocation.invoke_async(&mut conn).await.map_err(redis_error)?;
    Ok((swapped == 1).then_some(before))
}
