//! How a rule names a Saberis catalog (`Catalog=` of a section): the matching shared by
//! `pricing.catalog_markups` in the settings and the catalog table the dealer's staff edit.
//!
//! Names are compared case-insensitively with spaces trimmed (and runs of spaces as one); the
//! first rule that matches a catalog wins:
//! 1. the key is the catalog's name (`"KWP_24C1"`, `"Decorative (Imperial"`);
//! 2. the key is the name before a trailing parenthesized code, closed or cut off by Saberis
//!    (`"Shaker"` for `Shaker (70000)`, `"Decorative"` for `Decorative (Imperial`);
//! 3. the key ends in `*` and the name starts with the rest (`"KWP_*"` for every KWP catalog,
//!    whatever its version); the longest such key wins.

/// A catalog name as the rules compare it: trimmed, runs of whitespace as one space, in lower
/// case.
pub fn catalog_key(name: &str) -> String {
    name.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// The name before a trailing parenthesized code, closed (`Shaker (70000)`) or cut off by
/// Saberis (`Decorative (Imperial`); `None` when there is none, or nothing before it.
pub fn catalog_without_code(name: &str) -> Option<&str> {
    let open = name.rfind('(')?;
    let tail = &name[open + 1..];
    let closed_at_end = tail.strip_suffix(')').is_some_and(|inner| !inner.contains(')'));
    if !closed_at_end && tail.contains(')') {
        return None;
    }
    Some(name[..open].trim_end()).filter(|base| !base.is_empty())
}

/// The index (in `keys`) of the rule that names `catalog`, by the rules above; `None` for a
/// blank catalog or when no key matches.
pub fn best_match<'k>(catalog: &str, keys: impl IntoIterator<Item = &'k str>) -> Option<usize> {
    let name = catalog_key(catalog);
    if name.is_empty() {
        return None;
    }
    let keyed: Vec<String> = keys.into_iter().map(catalog_key).collect();
    if let Some(i) = keyed.iter().position(|key| *key == name) {
        return Some(i);
    }
    if let Some(base) = catalog_without_code(&name) {
        if let Some(i) = keyed.iter().position(|key| key == base) {
            return Some(i);
        }
    }
    keyed
        .iter()
        .enumerate()
        .filter_map(|(i, key)| {
            let prefix = key.strip_suffix('*')?;
            name.starts_with(prefix).then_some((i, prefix.len()))
        })
        .max_by_key(|(i, len)| (*len, std::cmp::Reverse(*i)))
        .map(|(i, _)| i)
}

/// What is wrong with a rule's key as a person wrote it, if anything (`None`: usable).
pub fn key_problem(key: &str) -> Option<&'static str> {
    let key = catalog_key(key);
    if key.is_empty() {
        Some("a catalog name is needed")
    } else if key == "*" {
        Some("matches every catalog")
    } else if key.trim_end_matches('*').contains('*') || key.ends_with("**") {
        Some("`*` may only end a name (\"KWP_*\": every catalog whose name starts with KWP_)")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exact_name_then_the_name_before_the_code_then_the_longest_prefix() {
        let keys = ["KWP_*", "KWP_25*", "KWP_24C1", "Shaker", "Shaker (70000)", "Decorative"];
        let m = |name: &str| best_match(name, keys).map(|i| keys[i]);
        assert_eq!(m(" kwp_24c1 "), Some("KWP_24C1"));
        assert_eq!(m("KWP_23A1"), Some("KWP_*"));
        assert_eq!(m("KWP_25D1"), Some("KWP_25*"));
        assert_eq!(m("Shaker (70000)"), Some("Shaker (70000)"));
        assert_eq!(m("Shaker  (80000)"), Some("Shaker"));
        assert_eq!(m("Decorative (Imperial"), Some("Decorative"));
        assert_eq!(m("Decorative Imperial"), None);
        assert_eq!(m("  "), None);
        assert_eq!(catalog_without_code("(70000)"), None);
        assert_eq!(catalog_without_code("Shaker (a) b"), None);
    }

    #[test]
    fn unusable_keys_are_named() {
        assert_eq!(key_problem(" "), Some("a catalog name is needed"));
        assert_eq!(key_problem("*"), Some("matches every catalog"));
        assert!(key_problem("K*P").unwrap().starts_with("`*` may only end"));
        assert_eq!(key_problem("KWP_*"), None);
    }
}
