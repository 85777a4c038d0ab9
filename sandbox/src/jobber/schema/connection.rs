//! Relay-style cursor pagination as Jobber (graphql-ruby) does it.
//!
//! Cursors are graphql-ruby's: the 1-based position in the filtered list, as text, base64 (URL
//! alphabet, no padding), e.g. `MQ` for the first item. Without `first` or `last` a page holds
//! 100 items ("List of 100 recently updated clients…"); lists are in creation order.

use async_graphql::{Error, SimpleObject};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

/// Page size when the query gives neither `first` nor `last`.
pub const DEFAULT_PAGE_SIZE: usize = 100;

/// The pagination arguments every connection field takes.
#[derive(Clone, Debug, Default)]
pub struct PageArgs {
    pub after: Option<String>,
    pub before: Option<String>,
    pub first: Option<i32>,
    pub last: Option<i32>,
}

/// Information about pagination in a connection.
#[derive(Clone, Debug, SimpleObject)]
pub struct PageInfo {
    pub end_cursor: Option<String>,
    pub has_next_page: bool,
    pub has_previous_page: bool,
    pub start_cursor: Option<String>,
}

/// One page of items with their cursors.
pub struct Page<T> {
    pub items: Vec<(String, T)>,
    pub page_info: PageInfo,
    pub total_count: i32,
}

fn cursor(position: usize) -> String {
    URL_SAFE_NO_PAD.encode(position.to_string())
}

fn decode_cursor(cursor: &str) -> Result<usize, Error> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.parse::<usize>().ok())
        .ok_or_else(|| Error::new(format!("Invalid cursor: {cursor}")))
}

fn count(name: &str, value: Option<i32>) -> Result<Option<usize>, Error> {
    match value {
        Some(n) if n < 0 => Err(Error::new(format!("Argument '{name}' must be non-negative"))),
        Some(n) => Ok(Some(n as usize)),
        None => Ok(None),
    }
}

/// Cuts one page out of the full, filtered list.
pub fn paginate<T>(all: Vec<T>, args: &PageArgs) -> Result<Page<T>, Error> {
    let total = all.len();
    let first = count("first", args.first)?;
    let last = count("last", args.last)?;
    // Positions are 1-based; the window is (start, end] in those terms, i.e. indices start..end.
    let mut start = match &args.after {
        Some(c) => decode_cursor(c)?.min(total),
        None => 0,
    };
    let mut end = match &args.before {
        Some(c) => decode_cursor(c)?.saturating_sub(1).min(total),
        None => total,
    };
    end = end.max(start);
    if let Some(n) = first {
        end = end.min(start + n);
    }
    if let Some(n) = last {
        start = start.max(end.saturating_sub(n));
    }
    if first.is_none() && last.is_none() {
        end = end.min(start + DEFAULT_PAGE_SIZE);
    }
    let items: Vec<(String, T)> = all
        .into_iter()
        .enumerate()
        .skip(start)
        .take(end - start)
        .map(|(i, item)| (cursor(i + 1), item))
        .collect();
    let page_info = PageInfo {
        start_cursor: items.first().map(|(c, _)| c.clone()),
        end_cursor: items.last().map(|(c, _)| c.clone()),
        has_next_page: end < total,
        has_previous_page: start > 0,
    };
    Ok(Page { items, page_info, total_count: total as i32 })
}

/// Declares `<Node>Connection` and `<Node>Edge` exactly as Jobber's schema has them.
macro_rules! connection {
    ($connection:ident, $edge:ident, $node:ty) => {
        /// A connection (see `connection.rs`).
        #[derive(async_graphql::SimpleObject)]
        pub struct $connection {
            pub edges: Option<Vec<$edge>>,
            pub nodes: Vec<$node>,
            pub page_info: $crate::jobber::schema::connection::PageInfo,
            pub total_count: i32,
        }

        /// An edge in a connection.
        #[derive(async_graphql::SimpleObject)]
        pub struct $edge {
            pub cursor: String,
            pub node: $node,
        }

        impl From<$crate::jobber::schema::connection::Page<$node>> for $connection {
            fn from(page: $crate::jobber::schema::connection::Page<$node>) -> Self {
                let edges = page
                    .items
                    .iter()
                    .map(|(cursor, node)| $edge { cursor: cursor.clone(), node: node.clone() })
                    .collect();
                Self {
                    edges: Some(edges),
                    nodes: page.items.into_iter().map(|(_, node)| node).collect(),
                    page_info: page.page_info,
                    total_count: page.total_count,
                }
            }
        }
    };
}
pub(crate) use connection;

#[cfg(test)]
mod tests {
    use super::*;

    fn args(first: Option<i32>, after: Option<&str>, last: Option<i32>, before: Option<&str>) -> PageArgs {
        PageArgs { first, last, after: after.map(String::from), before: before.map(String::from) }
    }

    #[test]
    fn first_after_walks_forward() {
        let p = paginate((1..=5).collect(), &args(Some(2), None, None, None)).unwrap();
        assert_eq!(p.items.iter().map(|i| i.1).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(p.page_info.end_cursor.as_deref(), Some("Mg"));
        assert!(p.page_info.has_next_page && !p.page_info.has_previous_page);
        let p = paginate((1..=5).collect(), &args(Some(2), Some("Mg"), None, None)).unwrap();
        assert_eq!(p.items.iter().map(|i| i.1).collect::<Vec<_>>(), [3, 4]);
        let p = paginate((1..=5).collect(), &args(Some(2), Some("NA"), None, None)).unwrap();
        assert_eq!(p.items.iter().map(|i| i.1).collect::<Vec<_>>(), [5]);
        assert!(!p.page_info.has_next_page && p.page_info.has_previous_page);
        assert_eq!(p.total_count, 5);
    }

    #[test]
    fn last_before_walks_backward() {
        let p = paginate((1..=5).collect(), &args(None, None, Some(2), Some("NA"))).unwrap();
        assert_eq!(p.items.iter().map(|i| i.1).collect::<Vec<_>>(), [2, 3]);
    }

    #[test]
    fn bad_arguments_are_errors() {
        assert!(paginate(vec![1], &args(Some(-1), None, None, None)).is_err());
        assert!(paginate(vec![1], &args(None, Some("??"), None, None)).is_err());
    }
}
