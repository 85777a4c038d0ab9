//! The customer key: how a Saberis customer is named in the mapping table.
//!
//! `Customer.Number` when the document has one (`number:4471`), else the normalized name
//! (`name:affinity homes`), else the normalized shipping address (else the customer's address)
//! (`address:12 main st|springfield|62704`). Many real exports have no name: the address is what
//! tells their customers apart.

use std::fmt;

use crate::address::Address;
use crate::message::CustomerInfo;

/// A customer key as written in the table's first column: `kind:value`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct CustomerKey(String);

impl CustomerKey {
    /// The key of a document's customer; `None` when it has no number, no name and no address.
    pub fn of(customer: &CustomerInfo, shipping: &Address) -> Option<CustomerKey> {
        if let Some(number) = customer.number.as_deref().map(collapse).filter(|n| !n.is_empty()) {
            return Some(CustomerKey(format!("number:{number}")));
        }
        if let Some(name) = customer.name.as_deref().map(normalize_name).filter(|n| !n.is_empty()) {
            return Some(CustomerKey(format!("name:{name}")));
        }
        let site = if shipping.is_empty() { &customer.address } else { shipping };
        address_key(site).map(|a| CustomerKey(format!("address:{a}")))
    }

    /// Reads a key as a person may type it in the table: the kind is required (`number:`,
    /// `name:`, `address:`), the value is normalized as the bridge would have written it.
    pub fn parse(text: &str) -> Result<CustomerKey, String> {
        let text = text.trim();
        let Some((kind, value)) = text.split_once(':') else {
            return Err(format!(
                "{text:?} is not a customer key: write number:…, name:… or address:street|city|postal code"
            ));
        };
        let value = match kind.trim().to_lowercase().as_str() {
            "number" => collapse(value),
            "name" => normalize_name(value),
            "address" => {
                let mut parts = value.split('|');
                let street = parts.next().map(normalize_address_part).unwrap_or_default();
                let city = parts.next().map(normalize_address_part).unwrap_or_default();
                let postal = parts.next().map(normalize_postal).unwrap_or_default();
                format!("{street}|{city}|{postal}")
            }
            other => return Err(format!("{other:?} is not a key kind: write number:…, name:… or address:…")),
        };
        if value.trim_matches('|').is_empty() {
            return Err(format!("{text:?} has no value after the kind"));
        }
        Ok(CustomerKey(format!("{}:{value}", kind.trim().to_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CustomerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An address reduced to what identifies the place ([`address_key`]): `street|city|postal
/// code`, each part normalized. What the mapping's address look-up is keyed by, and what two
/// addresses are compared by.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AddressKey(String);

impl AddressKey {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Street, city and postal code (each possibly empty but the street).
    pub fn parts(&self) -> [&str; 3] {
        let mut parts = self.0.splitn(3, '|');
        [(); 3].map(|_| parts.next().unwrap_or_default())
    }
}

impl fmt::Display for AddressKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An address reduced to what identifies the place: `street|city|postal code`, lowercase,
/// punctuation and spacing collapsed, the usual street words abbreviated (`Street` → `st`).
/// `None` without a street.
pub fn address_key(address: &Address) -> Option<AddressKey> {
    let street = address.street1.as_deref().map(normalize_address_part).unwrap_or_default();
    if street.is_empty() {
        return None;
    }
    let city = address.city.as_deref().map(normalize_address_part).unwrap_or_default();
    let postal = normalize_postal(address.postal_code.as_deref().unwrap_or_default());
    Some(AddressKey(format!("{street}|{city}|{postal}")))
}

/// The [`address_key`] of an address written as text, `street | city | postal code` (the
/// table's `saberis_address` column, or the value of an `address:` key): each part normalized
/// as [`address_key`] does. `None` without a street.
pub fn address_key_of_text(text: &str) -> Option<AddressKey> {
    let mut parts = text.split('|');
    let street = parts.next().map(normalize_address_part).unwrap_or_default();
    if street.is_empty() {
        return None;
    }
    let city = parts.next().map(normalize_address_part).unwrap_or_default();
    let postal = parts.next().map(normalize_postal).unwrap_or_default();
    Some(AddressKey(format!("{street}|{city}|{postal}")))
}

/// An address as the table's `saberis_address` shows it: `street | city | postal code`, as
/// written in the document (empty parts left empty). [`address_key_of_text`] reads it back to
/// the document's [`address_key`].
pub fn address_text(address: &Address) -> String {
    let part = |p: &Option<String>| p.as_deref().map(collapse).unwrap_or_default().replace('|', " ");
    let text =
        format!("{} | {} | {}", part(&address.street1), part(&address.city), part(&address.postal_code));
    if text.trim_matches(|c| c == '|' || c == ' ').is_empty() {
        String::new()
    } else {
        text
    }
}

/// `K1A 0B1` → `k1a0b1`.
fn normalize_postal(postal: &str) -> String {
    postal.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

/// Whitespace collapsed.
fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Lowercase, punctuation dropped (`O'Brien & Sons, Inc.` → `obrien and sons inc`), spacing
/// collapsed.
pub fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        match c {
            '&' => out.push_str(" and "),
            c if c.is_alphanumeric() => out.extend(c.to_lowercase()),
            '\'' | '’' | '.' => {}
            _ => out.push(' '),
        }
    }
    collapse(&out)
}

fn normalize_address_part(part: &str) -> String {
    let cleaned: String = part
        .chars()
        .map(|c| if c.is_alphanumeric() || c == '#' { c.to_lowercase().next().unwrap_or(c) } else { ' ' })
        .collect();
    cleaned.split_whitespace().map(abbreviate).collect::<Vec<_>>().join(" ")
}

/// The USPS / Canada Post abbreviations of the street words that vary most between exports.
fn abbreviate(word: &str) -> &str {
    match word {
        "street" => "st",
        "avenue" => "ave",
        "road" => "rd",
        "drive" => "dr",
        "boulevard" => "blvd",
        "lane" => "ln",
        "court" => "ct",
        "place" => "pl",
        "terrace" => "ter",
        "highway" => "hwy",
        "parkway" => "pkwy",
        "circle" => "cir",
        "crescent" => "cres",
        "suite" => "ste",
        "apartment" => "apt",
        "north" => "n",
        "south" => "s",
        "east" => "e",
        "west" => "w",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn customer(number: Option<&str>, name: Option<&str>, street: Option<&str>) -> CustomerInfo {
        CustomerInfo {
            number: number.map(str::to_owned),
            po_number: None,
            name: name.map(str::to_owned),
            address: Address {
                street1: street.map(str::to_owned),
                city: Some("Springfield".into()),
                postal_code: Some("62 704".into()),
                ..Address::default()
            },
        }
    }

    #[test]
    fn number_then_name_then_address() {
        let none = Address::default();
        let key = |c: &CustomerInfo| CustomerKey::of(c, &none).map(|k| k.to_string());
        assert_eq!(key(&customer(Some(" C-17 "), Some("Ann"), None)).as_deref(), Some("number:C-17"));
        assert_eq!(
            key(&customer(None, Some("O'Brien  & Sons, Inc."), None)).as_deref(),
            Some("name:obrien and sons inc")
        );
        assert_eq!(
            key(&customer(None, None, Some("12 Main Street"))).as_deref(),
            Some("address:12 main st|springfield|62704")
        );
        assert_eq!(key(&customer(None, None, None)), None);
    }

    #[test]
    fn the_shipping_address_comes_before_the_customer_address() {
        let shipping = Address { street1: Some("9 Oak Avenue".into()), ..Address::default() };
        let key = CustomerKey::of(&customer(None, None, Some("12 Main St")), &shipping).unwrap();
        assert_eq!(key.as_str(), "address:9 oak ave||");
    }

    #[test]
    fn written_keys_read_back_the_same() {
        for typed in ["number:C-17", "Name: O'Brien & Sons", "address:12 Main Street|Springfield|K1A 0B1"] {
            let parsed = CustomerKey::parse(typed).unwrap();
            assert_eq!(CustomerKey::parse(parsed.as_str()).unwrap(), parsed, "{typed}");
        }
        assert_eq!(CustomerKey::parse("Name: O'Brien & Sons").unwrap().as_str(), "name:obrien and sons");
        assert!(CustomerKey::parse("Affinity Homes").is_err());
        assert!(CustomerKey::parse("phone:555").is_err());
        assert!(CustomerKey::parse("name:  ").is_err());
    }

    #[test]
    fn an_address_written_as_text_has_the_documents_address_key() {
        let address = Address {
            street1: Some("12 Main Street".into()),
            street2: Some("Unit 4".into()),
            city: Some("Springfield".into()),
            province: Some("IL".into()),
            postal_code: Some("K1A 0B1".into()),
            country: None,
        };
        let text = address_text(&address);
        assert_eq!(text, "12 Main Street | Springfield | K1A 0B1");
        assert_eq!(address_key_of_text(&text), address_key(&address));
        assert_eq!(
            address_key_of_text(" 12 main st.|SPRINGFIELD|k1a0b1 ").as_ref().map(AddressKey::as_str),
            Some("12 main st|springfield|k1a0b1")
        );
        assert_eq!(address_key_of_text("12 Main St").as_ref().map(AddressKey::as_str), Some("12 main st||"));
        assert_eq!(address_key_of_text(" | Springfield | 62704"), None);
        assert_eq!(address_key_of_text(""), None);
        assert_eq!(address_text(&Address::default()), "");
    }
}
