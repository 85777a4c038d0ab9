//! The postal address, in Jobber's terms: what the Saberis parser reads a customer's and a
//! shipping address into, what the quote message carries, what a mapping key is made of and what
//! Jobber's operations write. A leaf: it uses no other module.

use serde::{Deserialize, Serialize};

/// A postal address, in Jobber's terms (street1, street2, city, province, postalCode, country).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Address {
    pub street1: Option<String>,
    pub street2: Option<String>,
    pub city: Option<String>,
    pub province: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
}

impl Address {
    /// True when no field is set (many real exports carry an empty shipping address).
    pub fn is_empty(&self) -> bool {
        self.fields().iter().all(|field| field.is_none())
    }

    fn fields(&self) -> [&Option<String>; 6] {
        [&self.street1, &self.street2, &self.city, &self.province, &self.postal_code, &self.country]
    }
}
