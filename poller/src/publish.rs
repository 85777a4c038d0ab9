//! The publishing path both sources share. A source only lists and takes documents, and says
//! what finishing one means for it (a file archived, a GUID recorded as taken); everything else
//! happens here, the same way for both:
//!
//! 1. the document is read (parse, normalize, sanity rules);
//! 2. refused: the source keeps it with its reason, a dead letter tells the operators (the alert),
//!    and only once the broker confirmed that letter does the source let the document go;
//! 3. same content as a document already published (Redis), or as one of this batch still
//!    waiting for its confirmation: a duplicate, not published again;
//! 4. published with a publisher confirm, up to `poller.max_in_flight` awaiting confirmation at
//!    once; once confirmed, its content hash is recorded and the source finishes it (and its
//!    same-content twins).
//!
//! A crash anywhere leaves a document either untouched at its source (taken again; a second
//! publish is harmless, the worker deduplicates) or finished.

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;

use anyhow::Context as _;
use futures_util::stream::{FuturesUnordered, StreamExt};
use sj_shared::amqp::{AmqpError, Publisher};
use sj_shared::config::PollerSettings;
use sj_shared::ids::ContentHash;
use sj_shared::intake::DocumentReader;
use sj_shared::message::{DeadLetter, ReviewItem, Source as Origin, SourceKind};
use sj_shared::observe;
use sj_shared::saberis::{DocumentError, Format};
use sj_shared::store::{History, Outcome, PublishedDocuments};
use tracing::Instrument as _;

use crate::document_span;

/// What differs between the folder and SaberisConnect: what a document is, and what keeping,
/// letting go and finishing it mean.
pub trait DocumentSource {
    /// A document's handle: its path (folder) or its GUID (SaberisConnect).
    type Item;

    const KIND: SourceKind;
    /// The format the source's documents are in, when it is known without looking.
    const FORMAT: Option<Format>;

    /// The document's name in logs, messages and dead letters.
    fn id(&self, item: &Self::Item) -> String;

    /// Keeps a refused document where an operator finds it, its reason beside it, and says
    /// where; `None` when it could not be kept (the source then leaves it for another time, and
    /// no dead letter is sent). `bytes` is `None` when the document could not even be read.
    fn keep_refused(
        &self,
        item: &Self::Item,
        bytes: Option<&[u8]>,
        error: &DocumentError,
    ) -> impl Future<Output = anyhow::Result<Option<PathBuf>>>;

    /// The dead letter of a refused document kept at `kept_at` was confirmed: let it go.
    fn refused(&self, item: Self::Item, kept_at: &Path) -> impl Future<Output = anyhow::Result<()>>;

    /// The broker confirmed the document (its hash is recorded): finish it.
    fn published(&self, item: Self::Item, hash: &ContentHash) -> impl Future<Output = anyhow::Result<()>>;

    /// Same content as the document `first`, published earlier or in this batch: finish it
    /// without publishing.
    fn duplicate(&self, item: Self::Item, first: &str) -> impl Future<Output = anyhow::Result<()>>;
}

/// What the publishing path needs, shared by both sources.
pub struct Publishing<'a> {
    pub settings: &'a PollerSettings,
    pub reader: &'a DocumentReader,
    pub publisher: &'a Publisher,
    pub published: Option<&'a PublishedDocuments>,
    pub history: Option<&'a History>,
    /// `sanity` in `review.when`: a document the sanity rules refuse goes to `sj.review` for a
    /// person (its offending lines shown) instead of being refused.
    pub review_sanity: bool,
}

/// What a batch did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Published and confirmed.
    pub published: usize,
    /// Same content as a document already published: finished without a second message.
    pub duplicates: usize,
    /// Refused (parse error or sanity rule): kept with the reason, dead-lettered.
    pub refused: usize,
    /// Refused by the sanity rules and sent to the console's review instead (`review.when`).
    pub held: usize,
}

type Confirming<'a, I> = Pin<Box<dyn Future<Output = (InFlight<I>, Result<(), AmqpError>)> + 'a>>;

/// A document published, waiting for the broker's confirmation.
struct InFlight<I> {
    item: I,
    id: String,
    hash: ContentHash,
    /// The document's span: its trace is the one the message's `traceparent` names.
    span: tracing::Span,
}

/// Documents offered one by one, published with their confirmations in flight.
pub struct Batch<'a, S: DocumentSource> {
    path: &'a Publishing<'a>,
    source: &'a S,
    in_flight: FuturesUnordered<Confirming<'a, S::Item>>,
    /// Documents of a content published in this batch, waiting for its confirmation.
    twins: HashMap<ContentHash, Vec<S::Item>>,
    counts: Counts,
}

impl<'a, S: DocumentSource> Batch<'a, S>
where
    S::Item: 'a,
{
    pub fn new(path: &'a Publishing<'a>, source: &'a S) -> Self {
        Self {
            path,
            source,
            in_flight: FuturesUnordered::new(),
            twins: HashMap::new(),
            counts: Counts::default(),
        }
    }

    /// Takes one document (its bytes, or why they could not be read). `Err` only when the
    /// broker failed or the source could not finish a document: the caller ends the round.
    pub async fn offer(
        &mut self,
        item: S::Item,
        bytes: Result<Vec<u8>, DocumentError>,
    ) -> anyhow::Result<()> {
        let id = self.source.id(&item);
        let span = document_span(&id);
        observe::metrics().document_seen(source_label(S::KIND));
        let (bytes, read) = match bytes {
            Ok(bytes) => {
                let origin = Origin::now(S::KIND, &id);
                let check_sanity = !self.path.review_sanity;
                let read =
                    span.in_scope(|| self.path.reader.quote_request(&bytes, S::FORMAT, origin, check_sanity));
                (Some(bytes), read)
            }
            Err(error) => (None, Err(error)),
        };
        let request = match read {
            Ok(request) => request,
            Err(error) => {
                let error = error.in_file(&id);
                return self.refuse(item, &id, bytes.as_deref(), &error).instrument(span).await;
            }
        };
        let hash = request.content_hash.clone();
        if let Some(twins) = self.twins.get_mut(&hash) {
            // Finished with the first document of this content, once it is confirmed.
            twins.push(item);
            return Ok(());
        }
        if let Some(first) = self.already_published(&hash).instrument(span.clone()).await {
            self.counts.duplicates += 1;
            observe::metrics().document_duplicate(source_label(S::KIND));
            return self.source.duplicate(item, &first).instrument(span).await;
        }
        if self.path.review_sanity {
            if let Err(error) = self.path.reader.sanity.check(&request) {
                let error = error.in_file(&id);
                return match sj_shared::intake::review_item(&request, &error) {
                    Some(review) => self.hold(item, &id, review).instrument(span).await,
                    None => self.refuse(item, &id, bytes.as_deref(), &error).instrument(span).await,
                };
            }
        }
        let pending = self
            .path
            .publisher
            .publish_quote(&request)
            .instrument(span.clone())
            .await
            .context("publishing to RabbitMQ")?;
        self.twins.insert(hash.clone(), Vec::new());
        let document = InFlight { item, id, hash, span };
        self.in_flight.push(Box::pin(async move { (document, pending.confirmed().await) }));
        if self.in_flight.len() >= self.path.settings.max_in_flight {
            let (document, confirmed) = self.in_flight.next().await.expect("not empty");
            self.confirmed(document, confirmed).await?;
        }
        Ok(())
    }

    /// Waits for every confirmation still in flight and finishes those documents.
    pub async fn finish(mut self) -> anyhow::Result<Counts> {
        while let Some((document, confirmed)) = self.in_flight.next().await {
            self.confirmed(document, confirmed).await?;
        }
        Ok(self.counts)
    }

    /// After the broker's answer: record the hash, finish the document and its twins.
    async fn confirmed(
        &mut self,
        document: InFlight<S::Item>,
        confirmed: Result<(), AmqpError>,
    ) -> anyhow::Result<()> {
        let InFlight { item, id, hash, span } = document;
        async {
            confirmed.with_context(|| format!("the broker did not confirm {id}"))?;
            self.counts.published += 1;
            observe::metrics().document_published(source_label(S::KIND));
            if let Some(published) = self.path.published {
                if let Err(e) = published.record(&hash, &id).await {
                    // Only costs a second message for a later re-export; the worker deduplicates.
                    tracing::warn!(document = %id, error = %e, "could not record the published hash in Redis");
                }
            }
            tracing::info!(document = %id, %hash, "published");
            self.source.published(item, &hash).await?;
            for twin in self.twins.remove(&hash).unwrap_or_default() {
                self.counts.duplicates += 1;
                observe::metrics().document_duplicate(source_label(S::KIND));
                self.source.duplicate(twin, &id).await?;
            }
            Ok(())
        }
        .instrument(span)
        .await
    }

    /// Keeps the document with its reason, dead-letters a record (so the alert fires), and lets
    /// the source finish it once the broker confirmed the letter.
    async fn refuse(
        &mut self,
        item: S::Item,
        id: &str,
        bytes: Option<&[u8]>,
        error: &DocumentError,
    ) -> anyhow::Result<()> {
        let Some(kept_at) = self.source.keep_refused(&item, bytes, error).await? else {
            return Ok(());
        };
        let letter = DeadLetter::rejected(Origin::now(S::KIND, id), kept_at.display().to_string(), error);
        self.path
            .publisher
            .publish_dead_letter(&letter)
            .await
            .context("publishing a dead letter")?
            .confirmed()
            .await
            .context("the broker did not confirm a dead letter")?;
        self.source.refused(item, &kept_at).await?;
        if let Some(history) = self.path.history {
            history.record(Outcome::Rejected, id, None, Some((letter.kind.name(), &error.reason))).await;
        }
        tracing::warn!(document = %id, error = %error, kept = %kept_at.display(), "document refused");
        self.counts.refused += 1;
        observe::metrics().document_rejected(source_label(S::KIND), letter.kind.name());
        Ok(())
    }

    /// Sends a document the sanity rules refuse to the console's review (its problems listed),
    /// and finishes it at its source once the broker confirmed it, as a published one.
    async fn hold(&mut self, item: S::Item, id: &str, review: ReviewItem) -> anyhow::Result<()> {
        self.path
            .publisher
            .publish_review(&review)
            .await
            .context("publishing for review")?
            .confirmed()
            .await
            .context("the broker did not confirm a document for review")?;
        let hash = &review.request.content_hash;
        if let Some(published) = self.path.published {
            if let Err(e) = published.record(hash, id).await {
                tracing::warn!(document = %id, error = %e, "could not record the published hash in Redis");
            }
        }
        self.source.published(item, hash).await?;
        let detail = review.reasons.first().map(|r| r.detail.as_str()).unwrap_or_default();
        if let Some(history) = self.path.history {
            history.record(Outcome::ForReview, id, None, Some(("review.held", detail))).await;
        }
        tracing::warn!(document = %id, problems = review.problems.len(), reason = %detail,
            "refused by the sanity rules: sent to the console for review (review.when has sanity)");
        self.counts.held += 1;
        Ok(())
    }

    async fn already_published(&self, hash: &ContentHash) -> Option<String> {
        if !self.path.settings.skip_published {
            return None;
        }
        match self.path.published?.first_source(hash).await {
            Ok(first) => first,
            Err(e) => {
                tracing::warn!(error = %e, "Redis unavailable: publishing without checking for re-exports");
                None
            }
        }
    }
}

/// The `source` label of the poller's metrics.
fn source_label(kind: SourceKind) -> &'static str {
    match kind {
        SourceKind::Folder => "folder",
        SourceKind::SaberisConnect => "saberis-connect",
        SourceKind::File => "file",
    }
}
