//! The catalog table: the dealer's price rule per catalog (multiplier and margin, or markup),
//! kept beside the mapping table in the same store (`catalogs.csv` beside the mapping's CSV file,
//! or the `Catalogs` tab of the same Google Sheet), cached in Redis for the workers.
//!
//! - Read like the mapping: the Redis copy is used while fresh (`mapping.refresh`), then read
//!   again from the store by whichever process takes the refresh lock; `sjctl catalogs refresh`
//!   does it at once.
//! - Append-only, as the mapping: the bridge appends a row (brand and numbers blank) for a
//!   catalog it meets that no row names, once (claimed in Redis first), so staff see what to fill
//!   in; `sjctl catalogs set` appends a row whose numbers win over the earlier rows of that name.
//!   Neither rewrites what a person wrote.

use std::sync::Arc;
use std::time::Duration;

use deadpool_redis::Pool;
use redis::AsyncCommands as _;

use super::csv::{CsvStore, Lines};
use super::index::redis_error;
use super::sheets::SheetsStore;
use super::MappingError;
use crate::catalog_name::catalog_key;
use crate::config::{MappingSettings, MappingStoreKind};
use crate::pricing::{catalog_header_of, CatalogHeader, CatalogRow, CatalogTable, CATALOG_COLUMNS};
use crate::store::{Keys, RedisLock};

/// Who wrote the rows the bridge appends.
pub const AUTO: &str = "auto";

/// How long a claim to append a catalog's row keeps others from appending it too.
const APPEND_CLAIM: Duration = Duration::from_secs(24 * 3600);

enum Store {
    Csv(CsvStore),
    Sheets(Box<SheetsStore>),
}

struct Inner {
    pool: Pool,
    store: Store,
    /// The table as last read (JSON of [`Cached`]), kept until replaced.
    table_key: String,
    /// Exists while the copy is fresh.
    fresh_key: String,
    lock_key: String,
    keys: Keys,
    refresh: Duration,
    lease: Duration,
}

/// The Redis copy.
#[derive(serde::Serialize, serde::Deserialize)]
struct Cached {
    table: CatalogTable,
    loaded_at: String,
    store: String,
}

/// The catalog table as the workers and `sjctl catalogs` see it.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct CatalogsInUse {
    pub store: String,
    pub loaded_at: Option<String>,
    pub table: CatalogTable,
}

/// The catalog table, for look-ups and appends. Cheap to clone.
#[derive(Clone)]
pub struct Catalogs {
    inner: Arc<Inner>,
}

fn join_error(e: tokio::task::JoinError) -> MappingError {
    MappingError::Unavailable(format!("the catalog file task failed: {e}"))
}

fn rfc3339_now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

impl Catalogs {
    /// The catalog table of `settings.store`. For Google Sheets, reads the service account's
    /// key now; nothing is contacted yet.
    pub fn new(settings: &MappingSettings, pool: Pool, keys: Keys) -> Result<Catalogs, MappingError> {
        let store = match settings.store {
            MappingStoreKind::Csv => Store::Csv(CsvStore {
                path: settings.csv.catalogs(),
                header: &CATALOG_COLUMNS,
                setting: "mapping.csv.catalogs_path",
            }),
            MappingStoreKind::Sheets => {
                let mut sheets = settings.sheets.clone();
                sheets.tab = sheets.catalog_tab.clone();
                Store::Sheets(Box::new(SheetsStore::new(&sheets)?))
            }
        };
        let key = |what: &str| keys.key("catalogs", &format!("v1-{what}"));
        Ok(Catalogs {
            inner: Arc::new(Inner {
                pool,
                store,
                table_key: key("table"),
                fresh_key: key("fresh"),
                lock_key: key("refresh-lock"),
                keys,
                refresh: settings.refresh.0,
                lease: (settings.sheets.request_timeout.0 * 4).max(Duration::from_secs(30)),
            }),
        })
    }

    /// `csv catalogs.csv`, `Google Sheet <id> tab Catalogs`.
    pub fn describe(&self) -> String {
        match &self.inner.store {
            Store::Csv(store) => store.describe(),
            Store::Sheets(store) => store.describe(),
        }
    }

    /// Reads the store now (not Redis).
    pub async fn read_store(&self) -> Result<CatalogTable, MappingError> {
        let cells = match &self.inner.store {
            Store::Csv(store) => {
                let store = store.clone();
                tokio::task::spawn_blocking(move || store.read_blocking()).await.map_err(join_error)??
            }
            Store::Sheets(store) => match store.read().await {
                Ok(cells) => cells,
                // A sheet without the catalog tab yet (the dealer adds it when pricing by table):
                // an empty table, so catalogs are priced by the settings or parked as unpriced.
                Err(MappingError::Unusable(e)) if e.contains("has no tab") => {
                    tracing::warn!(store = %self.describe(), "the sheet has no catalog tab yet: an empty catalog table \
                        (add the tab, or set mapping.sheets.catalog_tab)");
                    Vec::new()
                }
                Err(e) => return Err(e),
            },
        };
        CatalogTable::from_cells(&cells)
            .map_err(|e| MappingError::Unusable(format!("{}: {e}", self.describe())))
    }

    /// The table the workers price with: the Redis copy while fresh, else read again from the
    /// store (by one process; the others go on with the copy, or wait for a first one).
    pub async fn table(&self) -> Result<CatalogTable, MappingError> {
        Ok(self.in_use().await?.table)
    }

    /// [`Catalogs::table`] with when and from where it was read.
    pub async fn in_use(&self) -> Result<CatalogsInUse, MappingError> {
        let inner = &self.inner;
        let deadline = tokio::time::Instant::now() + inner.lease;
        loop {
            let (cached, fresh) = self.cached().await?;
            if let (Some(cached), true) = (&cached, fresh) {
                return Ok(in_use(cached));
            }
            match RedisLock::try_acquire(&inner.pool, &inner.lock_key, inner.lease)
                .await
                .map_err(redis_error)?
            {
                Some(lock) => {
                    let result = self.reload().await;
                    lock.release(&inner.pool).await;
                    return match (result, cached) {
                        (Ok(read), _) => Ok(read),
                        (Err(e), Some(cached)) => {
                            tracing::warn!(store = %self.describe(), error = %e,
                                "cannot read the catalog table again; pricing with the copy in Redis");
                            self.mark_fresh(Duration::from_secs(10).min(inner.refresh)).await?;
                            Ok(in_use(&cached))
                        }
                        (Err(e), None) => Err(e),
                    };
                }
                None if cached.is_some() => return Ok(in_use(&cached.expect("checked"))),
                None if tokio::time::Instant::now() >= deadline => {
                    return Err(MappingError::Unavailable(
                        "the catalog table is being read by another process; try again".to_owned(),
                    ))
                }
                None => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// Reads the store again now and replaces the Redis copy.
    pub async fn refresh(&self) -> Result<CatalogsInUse, MappingError> {
        let inner = &self.inner;
        let lock = RedisLock::acquire(&inner.pool, &inner.lock_key, inner.lease, inner.lease)
            .await
            .map_err(redis_error)?
            .ok_or_else(|| {
                MappingError::Unavailable(
                    "another process has been reading the catalog table for too long".to_owned(),
                )
            })?;
        let result = self.reload().await;
        lock.release(&inner.pool).await;
        result
    }

    /// For `sjctl verify`: the table reads and (as far as can be told without writing) can be
    /// written. Does not touch Redis.
    pub async fn check_store(&self) -> Result<String, MappingError> {
        let count = |cells: &[(usize, Vec<String>)]| {
            let table = CatalogTable::from_cells(cells)?;
            Ok(format!("{} catalog rows, {} unusable", table.rows.len(), table.problems.len()))
        };
        match &self.inner.store {
            Store::Csv(store) => {
                let store = store.clone();
                tokio::task::spawn_blocking(move || store.check_with_blocking(count))
                    .await
                    .map_err(join_error)?
            }
            Store::Sheets(store) => store.check_with(count).await,
        }
    }

    /// Appends a row for each catalog no row names yet (brand and numbers blank, `updated_by =
    /// auto`), each once among all workers; returns the catalogs appended.
    pub async fn append_missing(&self, catalogs: &[String]) -> Result<Vec<String>, MappingError> {
        let table = self.table().await?;
        let mut claimed = Vec::new();
        let mut conn = self.inner.pool.get().await.map_err(redis_error)?;
        for catalog in catalogs {
            if catalog.trim().is_empty() || table.names(catalog) || claimed.contains(catalog) {
                continue;
            }
            let claim = self.inner.keys.key("catalogs", &format!("v1-appended:{}", catalog_key(catalog)));
            let first: bool = redis::cmd("SET")
                .arg(&claim)
                .arg(1)
                .arg("NX")
                .arg("EX")
                .arg(APPEND_CLAIM.as_secs())
                .query_async::<Option<String>>(&mut conn)
                .await
                .map_err(redis_error)?
                .is_some();
            if first {
                claimed.push(catalog.clone());
            }
        }
        drop(conn);
        if claimed.is_empty() {
            return Ok(claimed);
        }
        let now = rfc3339_now();
        let rows: Vec<CatalogRow> = claimed
            .iter()
            .map(|catalog| CatalogRow {
                catalog: catalog.trim().to_owned(),
                updated_by: AUTO.to_owned(),
                updated_at: now.clone(),
                ..CatalogRow::default()
            })
            .collect();
        if let Err(e) = self.append(&rows).await {
            // Let a later document try again.
            if let Ok(mut conn) = self.inner.pool.get().await {
                for catalog in &claimed {
                    let claim =
                        self.inner.keys.key("catalogs", &format!("v1-appended:{}", catalog_key(catalog)));
                    let _: Result<(), _> = conn.del(claim).await;
                }
            }
            return Err(e);
        }
        tracing::info!(store = %self.describe(), catalogs = %claimed.join(", "),
            "catalog rows appended for staff to price");
        Ok(claimed)
    }

    /// Appends rows (a person's from `sjctl catalogs set`, or the bridge's), then makes the
    /// Redis copy stale so the next look-up reads them.
    pub async fn append(&self, rows: &[CatalogRow]) -> Result<(), MappingError> {
        if rows.is_empty() {
            return Ok(());
        }
        let rows = rows.to_vec();
        let lay_out = move |records: &[(usize, Vec<String>)]| -> Result<(Lines, usize), String> {
            let (header, write_header) = match catalog_header_of(records)? {
                Some(header) => (header, false),
                None => (CatalogHeader::standard(), true),
            };
            let missing = header.missing_columns();
            if !missing.is_empty() {
                tracing::warn!(?missing, "the catalog table lacks columns; their values are not written");
            }
            let width = header.width();
            Ok((
                Lines {
                    header: write_header.then(|| header.cells().to_vec()),
                    rows: rows.iter().map(|row| header.layout(row)).collect(),
                },
                width,
            ))
        };
        match &self.inner.store {
            Store::Csv(store) => {
                let store = store.clone();
                tokio::task::spawn_blocking(move || {
                    store.append_lines_blocking(|r| lay_out(r).map(|(l, _)| l))
                })
                .await
                .map_err(join_error)??
            }
            Store::Sheets(store) => store.append_lines(lay_out).await?,
        }
        let mut conn = self.inner.pool.get().await.map_err(redis_error)?;
        let _: () = conn.del(&self.inner.fresh_key).await.map_err(redis_error)?;
        Ok(())
    }

    async fn cached(&self) -> Result<(Option<Cached>, bool), MappingError> {
        let mut conn = self.inner.pool.get().await.map_err(redis_error)?;
        let (json, fresh): (Option<String>, bool) = redis::pipe()
            .get(&self.inner.table_key)
            .exists(&self.inner.fresh_key)
            .query_async(&mut conn)
            .await
            .map_err(redis_error)?;
        let cached = json.and_then(|j| serde_json::from_str::<Cached>(&j).ok());
        Ok((cached, fresh))
    }

    async fn mark_fresh(&self, ttl: Duration) -> Result<(), MappingError> {
        let mut conn = self.inner.pool.get().await.map_err(redis_error)?;
        let ms = ttl.as_millis().max(1) as u64;
        let _: () = conn.pset_ex(&self.inner.fresh_key, 1, ms).await.map_err(redis_error)?;
        Ok(())
    }

    /// Reads the store and installs the copy (the caller holds the lock).
    async fn reload(&self) -> Result<CatalogsInUse, MappingError> {
        let table = self.read_store().await?;
        let cached = Cached { table, loaded_at: rfc3339_now(), store: self.describe() };
        let json = serde_json::to_string(&cached).expect("the table serializes");
        let mut conn = self.inner.pool.get().await.map_err(redis_error)?;
        let ms = self.inner.refresh.as_millis().max(1) as u64;
        let _: () = redis::pipe()
            .set(&self.inner.table_key, json)
            .pset_ex(&self.inner.fresh_key, 1, ms)
            .query_async(&mut conn)
            .await
            .map_err(redis_error)?;
        if !cached.table.problems.is_empty() {
            tracing::warn!(store = %cached.store, problems = %cached.table.problems.join("; "),
                "catalog table rows that price nothing");
        }
        Ok(in_use(&cached))
    }
}

fn in_use(cached: &Cached) -> CatalogsInUse {
    CatalogsInUse {
        store: cached.store.clone(),
        loaded_at: Some(cached.loaded_at.clone()),
        table: cached.table.clone(),
    }
}
