//! How a parked dead letter is named and explained, the same way wherever it is shown: by
//! `sjctl dlq` and in the alerter's emails (which tell the operator `sjctl dlq replay --id ID`).

use lapin::types::{AMQPValue, FieldTable};
use lapin::BasicProperties;
use sha2::{Digest as _, Sha256};

use super::headers;
use crate::message::DeadLetter;

/// The short id of a parked message, the one `sjctl dlq replay/purge --id` take: 12 hex digits
/// of a quote message's id (its content hash), else of the SHA-256 of the body (a refused
/// document's record). Both copies of a dead letter (parked, alerted) have the same id.
pub fn parked_id(properties: &BasicProperties, body: &[u8]) -> String {
    let is_refused = properties.kind().as_ref().is_some_and(|k| k.as_str() == DeadLetter::SCHEMA);
    match properties.message_id().as_ref().filter(|_| !is_refused) {
        Some(id) => id.as_str().trim_start_matches("sha256:").chars().take(12).collect(),
        None => Sha256::digest(body).iter().take(6).map(|b| format!("{b:02x}")).collect(),
    }
}

/// Why the broker itself dead-lettered a message that carries no reason of ours (past
/// `x-delivery-limit`: a worker kept crashing on it): the newest `x-death` entry's reason and
/// queue.
pub fn broker_death(table: &Option<FieldTable>) -> Option<(String, String)> {
    let AMQPValue::FieldArray(deaths) = table.as_ref()?.inner().get("x-death")? else { return None };
    let AMQPValue::FieldTable(newest) = deaths.as_slice().first()? else { return None };
    let newest = Some(newest.clone());
    let reason = headers::text(&newest, "reason")?;
    let queue = headers::text(&newest, "queue").unwrap_or_else(|| "its queue".to_owned());
    Some((reason, queue))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lapin::types::ShortString;

    #[test]
    fn quote_messages_are_named_by_their_hash_refused_documents_by_their_body() {
        let quote = BasicProperties::default().with_message_id(ShortString::from("sha256:ae87e3e6a8b2ffff"));
        assert_eq!(parked_id(&quote, b"{}"), "ae87e3e6a8b2");
        let refused = quote.with_type(ShortString::from(DeadLetter::SCHEMA));
        assert_eq!(parked_id(&refused, b"{}"), parked_id(&BasicProperties::default(), b"{}"));
        assert_eq!(parked_id(&refused, b"{}").len(), 12);
    }
}
