//! The identifiers the bridge passes around, each a type of its own so that one cannot stand in
//! for another (a content hash for a source name, a client's id for a quote's). Each is a string
//! on the wire and in Redis (`serde(transparent)`), read as it was written. A leaf: it uses no
//! other module.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn is_empty(&self) -> bool {
                self.0.is_empty()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                Self(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                Self(id.to_owned())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }
    };
}

string_id!(
    /// `sha256:<64 hex digits>` over the canonical form of an order ([`crate::intake::content_hash`]):
    /// what makes two exports the same document. The key of every record the bridge keeps about
    /// a document (crosswalk, attempt, published), and the root of its marker in Jobber.
    ContentHash
);

impl ContentHash {
    /// The hex digits, without `sha256:`.
    pub fn hex(&self) -> &str {
        self.0.strip_prefix("sha256:").unwrap_or(&self.0)
    }
}

string_id!(
    /// A Jobber client's `EncodedId` (as Jobber gives it: base64 of `gid://Jobber/Client/N`).
    ClientId
);
string_id!(
    /// A Jobber property's `EncodedId`.
    PropertyId
);
string_id!(
    /// A Jobber quote's `EncodedId` (not its number, which people see).
    QuoteId
);
string_id!(
    /// A Jobber line item's `EncodedId` (of a quote or of a job).
    LineItemId
);
string_id!(
    /// A Jobber job's `EncodedId` (not its number, which people see).
    JobId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_its_string_on_the_wire() {
        let hash = ContentHash::new("sha256:ab12");
        assert_eq!(serde_json::to_string(&hash).unwrap(), r#""sha256:ab12""#);
        assert_eq!(serde_json::from_str::<ContentHash>(r#""sha256:ab12""#).unwrap(), hash);
        assert_eq!((hash.hex(), hash.to_string().as_str()), ("ab12", "sha256:ab12"));
        let client = ClientId::new("Z2lkOi8vSm9iYmVyL0NsaWVudC84");
        assert_eq!(serde_json::to_value(&client).unwrap(), serde_json::json!("Z2lkOi8vSm9iYmVyL0NsaWVudC84"));
    }
}
