//! The mapping table: Saberis customer key → Jobber client (and property), kept where the dealer
//! can read and edit it (a CSV file or a Google Sheet), cached in Redis for the workers.
//!
//! - [`CustomerKey`]: how a document's customer is named in the table.
//! - [`MappingRow`]: one row, as a person or the bridge (`made_by = "auto"`) wrote it.
//! - [`Mapping`]: look-ups through the Redis index, refreshed from the store every
//!   `mapping.refresh` (or at once by `sjctl mapping refresh`); rows the bridge adds are appended
//!   to the store and never rewrite a person's.
//! - [`Catalogs`]: the catalog table beside it (the dealer's multiplier and margin, or markup,
//!   per catalog), in the same store, cached in Redis the same way.

mod catalogs;
mod csv;
mod index;
mod key;
mod sheets;
mod table;

pub use catalogs::{Catalogs, CatalogsInUse};
pub use key::{address_key, address_key_of_text, address_text, normalize_name, AddressKey, CustomerKey};
pub use table::{resolve, NumberedRow, Resolved, Table, COLUMNS};

use std::sync::Arc;
use std::time::Duration;

use deadpool_redis::Pool;

use crate::config::{MappingSettings, MappingStoreKind};
use crate::store::{Keys, RedisLock};
use csv::CsvStore;
use index::IndexKeys;
use sheets::SheetsStore;

use crate::ids::{ClientId, PropertyId};

/// Who wrote a row the bridge appended.
pub const AUTO: &str = "auto";

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MappingRow {
    pub key: CustomerKey,
    pub client_id: ClientId,
    pub property_id: Option<PropertyId>,
    /// The customer's name in Saberis, for the person reading the table.
    pub saberis_name: String,
    /// `street | city | postal code`: readable, and what the address look-up indexes.
    pub saberis_address: String,
    /// `auto` (the bridge) or a person.
    pub made_by: String,
    /// When (RFC 3339 when the bridge wrote it; as typed otherwise).
    pub made_at: String,
    pub note: String,
}

/// Why the table could not be used.
#[derive(Debug, Clone, thiserror::Error)]
pub enum MappingError {
    /// The store or Redis did not answer: a later attempt may succeed.
    #[error("mapping store unavailable: {0}")]
    Unavailable(String),
    /// The store refused us or its content cannot be used (a person must act).
    #[error("mapping store unusable: {0}")]
    Unusable(String),
}

impl MappingError {
    /// `mapping.unavailable` or `mapping.unusable`.
    pub fn kind(&self) -> crate::failure::FailureKind {
        match self {
            MappingError::Unavailable(_) => crate::failure::FailureKind::MappingUnavailable,
            MappingError::Unusable(_) => crate::failure::FailureKind::MappingUnusable,
        }
    }

    pub fn is_transient(&self) -> bool {
        self.kind().is_transient()
    }
}

/// What a refresh read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RefreshReport {
    /// Rows in use after the refresh (one per key; a person's row wins over the bridge's).
    pub rows: usize,
    /// Rows skipped, each with a reason naming the row (`row 7: "Affinity" is not a customer key…`).
    pub problems: Vec<String>,
}

/// The rows the workers use now (the Redis index), for `sjctl mapping list`.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct InUse {
    /// Where the table is ([`Mapping::describe`]).
    pub store: String,
    /// When the index was read from the store (RFC 3339).
    pub loaded_at: Option<String>,
    /// One row per key, sorted by key.
    pub rows: Vec<MappingRow>,
    /// The rows the last read skipped (`row N: reason`).
    pub problems: Vec<String>,
}

impl Table {
    /// Reads a CSV text with the table's header (`sjctl mapping import`): `Err` when its first
    /// row is not a usable header.
    pub fn from_csv(text: &str) -> Result<Table, String> {
        Table::from_cells(&csv::parse_records(text))
    }
}

/// Where the table lives.
enum Store {
    Csv(CsvStore),
    Sheets(Box<SheetsStore>),
}

fn join_error(e: tokio::task::JoinError) -> MappingError {
    MappingError::Unavailable(format!("the mapping file task failed: {e}"))
}

impl Store {
    fn describe(&self) -> String {
        match self {
            Store::Csv(store) => store.describe(),
            Store::Sheets(store) => store.describe(),
        }
    }

    async fn read(&self) -> Result<Vec<(usize, Vec<String>)>, MappingError> {
        match self {
            Store::Csv(store) => {
                let store = store.clone();
                tokio::task::spawn_blocking(move || store.read_blocking()).await.map_err(join_error)?
            }
            Store::Sheets(store) => store.read().await,
        }
    }

    async fn append(&self, rows: &[MappingRow]) -> Result<(), MappingError> {
        match self {
            Store::Csv(store) => {
                let (store, rows) = (store.clone(), rows.to_vec());
                tokio::task::spawn_blocking(move || store.append_blocking(&rows)).await.map_err(join_error)?
            }
            Store::Sheets(store) => store.append(rows).await,
        }
    }

    async fn check(&self) -> Result<String, MappingError> {
        match self {
            Store::Csv(store) => {
                let store = store.clone();
                tokio::task::spawn_blocking(move || store.check_blocking()).await.map_err(join_error)?
            }
            Store::Sheets(store) => store.check().await,
        }
    }
}

struct Inner {
    pool: Pool,
    index: IndexKeys,
    store: Store,
    /// How long a read of the store stays fresh (`mapping.refresh`).
    refresh: Duration,
    /// How long one process may hold the refresh lock (and others wait for a missing index).
    lease: Duration,
}

/// The table, for look-ups and appends. Cheap to clone (one per process is enough).
#[derive(Clone)]
pub struct Mapping {
    inner: Arc<Inner>,
}

/// After a failed background refresh, the store is not read again for this long (at most
/// `mapping.refresh`).
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(10);

impl Mapping {
    /// The table of `settings.store`. For Google Sheets, reads the service account's key file
    /// now (a missing or broken key is [`MappingError::Unusable`]); nothing is contacted yet.
    pub fn new(settings: &MappingSettings, pool: Pool, keys: Keys) -> Result<Mapping, MappingError> {
        let store = match settings.store {
            MappingStoreKind::Csv => Store::Csv(CsvStore {
                path: settings.csv.path.clone(),
                header: &COLUMNS,
                setting: "mapping.csv.path",
            }),
            MappingStoreKind::Sheets => Store::Sheets(Box::new(SheetsStore::new(&settings.sheets)?)),
        };
        let lease = (settings.sheets.request_timeout.0 * 4).max(Duration::from_secs(30));
        Ok(Mapping {
            inner: Arc::new(Inner {
                pool,
                index: IndexKeys::new(&keys),
                store,
                refresh: settings.refresh.0,
                lease,
            }),
        })
    }

    /// `csv mapping.csv`, `Google Sheet <id> tab Sheet1`: for logs and `sjctl verify`.
    pub fn describe(&self) -> String {
        self.inner.store.describe()
    }

    /// Shows the index's rows and age in `/metrics` (`sj_mapping_rows`, `sj_mapping_age_seconds`),
    /// read from Redis at each scrape.
    pub fn export_metrics(&self) {
        let mapping = self.clone();
        crate::observe::on_scrape(move || {
            let inner = mapping.inner.clone();
            async move {
                let stats = index::stats(&inner.pool, &inner.index).await.ok().flatten();
                crate::observe::metrics().mapping_index(stats.map(|(rows, t0)| (rows, t0 / 1000)));
            }
        });
    }

    /// The row for a customer key (refreshing the Redis index first when it is stale or gone).
    pub async fn lookup(&self, key: &CustomerKey) -> Result<Option<MappingRow>, MappingError> {
        self.get(&self.inner.index.by_key, key.as_str()).await
    }

    /// The row whose `saberis_address` has this [`address_key`].
    pub async fn lookup_address(&self, address_key: &AddressKey) -> Result<Option<MappingRow>, MappingError> {
        if address_key.as_str().is_empty() {
            return Ok(None);
        }
        self.get(&self.inner.index.by_address, address_key.as_str()).await
    }

    /// Appends a row to the store, then to the Redis index.
    pub async fn append(&self, row: &MappingRow) -> Result<(), MappingError> {
        self.append_all(std::slice::from_ref(row)).await
    }

    /// Appends rows to the store in one write (one request for a Sheet), then to the index.
    pub async fn append_all(&self, rows: &[MappingRow]) -> Result<(), MappingError> {
        if rows.is_empty() {
            return Ok(());
        }
        self.inner.store.append(rows).await?;
        index::add(&self.inner.pool, &self.inner.index, rows).await.map_err(|e| {
            MappingError::Unavailable(format!(
                "the row is in {}, but not yet in the Redis index ({e})",
                self.describe()
            ))
        })?;
        tracing::info!(store = %self.describe(), rows = rows.len(), first_key = %rows[0].key, "mapping rows appended");
        Ok(())
    }

    /// Reads the store again now and replaces the Redis index.
    pub async fn refresh(&self) -> Result<RefreshReport, MappingError> {
        let inner = &self.inner;
        let lock = RedisLock::acquire(&inner.pool, &inner.index.lock, inner.lease, inner.lease)
            .await
            .map_err(index::redis_error)?
            .ok_or_else(|| {
                MappingError::Unavailable(format!(
                    "another process has been reading the mapping table for over {}",
                    humantime::format_duration(inner.lease)
                ))
            })?;
        let report = self.reload().await;
        lock.release(&inner.pool).await;
        report
    }

    /// Every valid row of the store, as written, in store order (read now, not from Redis).
    pub async fn rows(&self) -> Result<Vec<MappingRow>, MappingError> {
        Ok(self.read_table().await?.rows.into_iter().map(|r| r.row).collect())
    }

    /// The store's rows with their row numbers, and the rows skipped (read now, not from Redis).
    pub async fn read_table(&self) -> Result<Table, MappingError> {
        let cells = self.inner.store.read().await?;
        Table::from_cells(&cells).map_err(|e| MappingError::Unusable(format!("{}: {e}", self.describe())))
    }

    /// The rows in use as the workers see them (the Redis index, refreshed first when stale).
    pub async fn in_use(&self) -> Result<InUse, MappingError> {
        let inner = &self.inner;
        let (exists, fresh, _) = index::probe(&inner.pool, &inner.index, &inner.index.meta, "t0").await?;
        if !(exists && fresh) {
            self.ensure(exists).await?;
        }
        let rows = index::all_rows(&inner.pool, &inner.index).await?;
        let meta = index::meta(&inner.pool, &inner.index).await?;
        Ok(InUse {
            store: meta.store.unwrap_or_else(|| self.describe()),
            loaded_at: meta.loaded_at,
            rows,
            problems: meta.problems,
        })
    }

    /// For `sjctl verify`: the table can be read and (as far as can be told without writing)
    /// written. Does not touch Redis.
    pub async fn check_store(&self) -> Result<String, MappingError> {
        self.inner.store.check().await
    }

    async fn get(&self, hash: &str, field: &str) -> Result<Option<MappingRow>, MappingError> {
        let inner = &self.inner;
        let (exists, fresh, value) = index::probe(&inner.pool, &inner.index, hash, field).await?;
        let value = if exists && fresh {
            value
        } else {
            self.ensure(exists).await?;
            index::hget(&inner.pool, hash, field).await?
        };
        value.as_deref().map(index::decode).transpose()
    }

    /// Makes sure there is an index. A stale one is refreshed by whichever process takes the
    /// lock (the others go on with it); a missing one is waited for, or built.
    async fn ensure(&self, exists: bool) -> Result<(), MappingError> {
        let inner = &self.inner;
        let lock = || RedisLock::try_acquire(&inner.pool, &inner.index.lock, inner.lease);
        if exists {
            let Some(held) = lock().await.map_err(index::redis_error)? else {
                return Ok(());
            };
            // Another process may have refreshed it between our look and the lock.
            let result = match index::exists(&inner.pool, &inner.index.fresh).await {
                Ok(true) => Ok(()),
                _ => self.reload().await.map(|_| ()),
            };
            held.release(&inner.pool).await;
            if let Err(e) = result {
                tracing::warn!(store = %self.describe(), error = %e, "cannot refresh the mapping index; using the one in Redis");
                let _ = index::mark_fresh(&inner.pool, &inner.index, RETRY_AFTER_FAILURE.min(inner.refresh))
                    .await;
            }
            return Ok(());
        }
        let deadline = tokio::time::Instant::now() + inner.lease;
        loop {
            if index::exists(&inner.pool, &inner.index.meta).await? {
                return Ok(());
            }
            if let Some(held) = lock().await.map_err(index::redis_error)? {
                let result = match index::exists(&inner.pool, &inner.index.meta).await {
                    Ok(true) => Ok(()),
                    _ => self.reload().await.map(|_| ()),
                };
                held.release(&inner.pool).await;
                return result;
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(MappingError::Unavailable(
                    "the mapping index is being rebuilt by another process; try again".to_owned(),
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Reads the store and installs a new index (the caller holds the lock).
    async fn reload(&self) -> Result<RefreshReport, MappingError> {
        let inner = &self.inner;
        let t0 = index::now_ms(&inner.pool).await?;
        let table = self.read_table().await?;
        let resolved = table.resolve();
        let install = index::Install {
            resolved: &resolved,
            problems: &table.problems,
            t0,
            fresh_for: inner.refresh,
            store: self.describe(),
        };
        let before = index::install(&inner.pool, &inner.index, install).await?;
        if let Some(before) = before {
            tracing::debug!(store = %self.describe(), rows = resolved.by_key.len(), "mapping index refreshed");
            if before != table.problems && !table.problems.is_empty() {
                tracing::warn!(
                    store = %self.describe(),
                    problems = %table.problems.join("; "),
                    "mapping table rows skipped"
                );
            }
        }
        Ok(RefreshReport { rows: resolved.by_key.len(), problems: table.problems })
    }
}
