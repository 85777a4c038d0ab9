//! What a document changes besides Jobber: the attempt record and the crosswalk (Redis), the
//! client cache entry of a client or property this worker created, and the mapping row that makes
//! the customer's next document a table look-up. `--dry-run` is decided here and in
//! [`JobberClient::dry_run`](sj_shared::jobber::JobberClient::dry_run) (which withholds every
//! mutation and answers with stand-in ids) and nowhere else: the writer and the resolver call these
//! effects the same way in both modes, and in a dry run each one is logged instead of made.
//! Reads (crosswalk, cache, mapping table, Jobber queries) happen in both modes.
//!
//! The one other place a dry run shows is the end of a delivery ([`crate::consume`]): it is
//! neither acked nor routed, so it returns to the queue when the worker stops.

use sj_shared::ids::ContentHash;
use sj_shared::jobber::ops::ClientSummary;
use sj_shared::mapping::{Catalogs, Mapping, MappingRow};
use sj_shared::store::{epoch, Crosswalk, QuoteRecord, StoreError};

use crate::client_cache::ClientCache;

#[derive(Clone)]
pub struct Effects {
    dry_run: bool,
    crosswalk: Crosswalk,
    cache: ClientCache,
    mapping: Mapping,
}

impl Effects {
    /// Effects that are made.
    pub fn live(crosswalk: Crosswalk, cache: ClientCache, mapping: Mapping) -> Self {
        Self { dry_run: false, crosswalk, cache, mapping }
    }

    /// Effects that are logged, not made (`--dry-run`).
    pub fn dry_run(crosswalk: Crosswalk, cache: ClientCache, mapping: Mapping) -> Self {
        Self { dry_run: true, ..Self::live(crosswalk, cache, mapping) }
    }

    pub fn is_dry_run(&self) -> bool {
        self.dry_run
    }

    /// Before anything is sent to Jobber: the attempt record, so a later attempt knows to look
    /// the marker up ([`crate::lookup`]).
    pub async fn record_attempt(&self, hash: &ContentHash) -> Result<u64, StoreError> {
        let at = epoch::now();
        if self.dry_run {
            tracing::debug!(%hash, "dry run: attempt not recorded");
            return Ok(at);
        }
        self.crosswalk.record_attempt(hash, at).await?;
        Ok(at)
    }

    /// The write recorded at `at` was refused by Jobber unexecuted: its record goes (when it is
    /// still that one). One that cannot be withdrawn costs a bounded look-up later: logged.
    pub async fn withdraw_attempt(&self, hash: &ContentHash, at: u64) {
        if self.dry_run {
            return;
        }
        if let Err(e) = self.crosswalk.withdraw_attempt(hash, at).await {
            tracing::warn!(%hash, error = %e, "could not withdraw the attempt record; the next attempt looks first");
        }
    }

    /// After Jobber took the document: the crosswalk. A record that cannot be written costs a
    /// marker look-up later, not a duplicate: logged, not failed.
    pub async fn remember(&self, hash: &ContentHash, record: &QuoteRecord) {
        if self.dry_run {
            tracing::info!(%hash, quote = %record.quote_number, "dry run: crosswalk not recorded");
            return;
        }
        if let Err(e) = self.crosswalk.record(hash, record).await {
            tracing::warn!(%hash, error = %e, "could not record the crosswalk; the quote's marker covers it");
        }
    }

    /// A client this worker created, or a client that gained a property it created: the next
    /// document of the client knows it without asking Jobber. (A client read from Jobber is
    /// cached by the resolver in both modes: that is a read.)
    pub async fn cache_created(&self, client: &ClientSummary) {
        if self.dry_run {
            tracing::debug!(client = %client.id, "dry run: created client not cached");
            return;
        }
        self.cache.put(client).await;
    }

    /// The mapping row of a customer resolved by search or created. A row that cannot be written
    /// costs a search next time, not a duplicate: logged, not failed.
    pub async fn write_mapping_row(&self, row: &MappingRow) {
        if self.dry_run {
            tracing::info!(customer = %row.key, client = %row.client_id, "dry run: mapping row not written");
            return;
        }
        if let Err(e) = self.mapping.append(row).await {
            tracing::warn!(customer = %row.key, client = %row.client_id, error = %e,
                "could not write the mapping row; the next document of this customer searches again");
        }
    }

    /// Rows for catalogs the catalog table does not name yet (blank, for staff to price). One
    /// that cannot be written is appended by a later document: logged, not failed.
    pub async fn append_catalogs(&self, catalogs: &Catalogs, names: &[String]) {
        if self.dry_run {
            tracing::info!(catalogs = %names.join(", "), "dry run: catalog rows not appended");
            return;
        }
        if let Err(e) = catalogs.append_missing(names).await {
            tracing::warn!(catalogs = %names.join(", "), error = %e,
                "could not append rows to the catalog table; a later document tries again");
        }
    }
}
