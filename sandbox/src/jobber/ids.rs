//! Jobber's `EncodedId`: base64 of `gid://Jobber/<Type>/<number>`.
//!
//! Ids the client sends are parsed strictly: anything that is not base64 of a well-formed global
//! id is invalid at the GraphQL layer (Jobber answers `Variable $id of type EncodedId! was
//! provided invalid value`, see `jobber::graphql`), while a well-formed id of the wrong type or of
//! a record the account cannot see is a business error reported by the mutation.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

/// A decoded Jobber global id.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EncodedId {
    /// The record type, e.g. `Client`.
    pub kind: String,
    pub number: u64,
}

impl EncodedId {
    pub fn new(kind: &str, number: u64) -> Self {
        Self { kind: kind.to_string(), number }
    }

    /// Parses the wire form; `None` when it is not base64 of `gid://Jobber/<Type>/<n>`.
    pub fn decode(encoded: &str) -> Option<Self> {
        let bytes = STANDARD.decode(encoded).ok()?;
        let gid = String::from_utf8(bytes).ok()?;
        let (kind, number) = gid.strip_prefix("gid://Jobber/")?.split_once('/')?;
        let well_formed_kind =
            !kind.is_empty() && kind.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !well_formed_kind || number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(Self { kind: kind.to_string(), number: number.parse().ok()? })
    }

    pub fn encode(&self) -> String {
        STANDARD.encode(format!("gid://Jobber/{}/{}", self.kind, self.number))
    }

    /// The record number if this id names a record of `kind`.
    pub fn number_of(&self, kind: &str) -> Option<u64> {
        (self.kind == kind).then_some(self.number)
    }
}

/// The wire form of a record id.
pub fn encode(kind: &str, number: u64) -> String {
    EncodedId::new(kind, number).encode()
}

#[Scalar(name = "EncodedId")]
impl ScalarType for EncodedId {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => EncodedId::decode(s)
                .ok_or_else(|| InputValueError::custom(format!("\"{s}\" is not a valid EncodedId"))),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.encode())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_documented_example() {
        let id = EncodedId::decode("Z2lkOi8vSm9iYmVyL0NsaWVudC81OTYxNjQ1NQ==").unwrap();
        assert_eq!(id, EncodedId::new("Client", 59_616_455));
        assert_eq!(id.encode(), "Z2lkOi8vSm9iYmVyL0NsaWVudC81OTYxNjQ1NQ==");
    }

    #[test]
    fn rejects_malformed_ids() {
        for bad in [
            "",
            "42",
            "not base64!",
            &STANDARD.encode("gid://Jobber/Client/"),
            &STANDARD.encode("gid://Other/Client/1"),
            &STANDARD.encode("gid://Jobber/Client/1x"),
        ] {
            assert_eq!(EncodedId::decode(bad), None, "{bad}");
        }
    }
}
