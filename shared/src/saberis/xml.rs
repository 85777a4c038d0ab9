//! The XML form, read in one streaming pass with quick-xml: no tree is built, each leaf's text
//! goes straight into its field.
//!
//! Saberis writes every value as an element (no attributes, no namespace). Unknown elements are
//! skipped, so a newer Saberis that adds fields still reads. A DTD is refused outright and only
//! the five predefined entities and character references are understood: no entity is ever
//! expanded, so no "billion laughs" and no external fetches.

use quick_xml::events::{BytesRef, Event};
use quick_xml::Reader;

use super::error::{line_col, DocumentError, Place};
use super::raw::{RawCustomer, RawDocument, RawGroup, RawItem, RawOrder, RawShipping};
use super::Limits;
use crate::failure::ParseErrorKind;

/// What an open element is, for deciding what its children and text mean.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Slot {
    Document,
    Order,
    Customer,
    Shipping,
    Group,
    Item,
    /// A known leaf: its text is a value.
    Leaf,
    /// An element we do not know, or anything inside one: skipped whole.
    Unknown,
}

struct Frame<'a> {
    name: &'a str,
    slot: Slot,
    /// Byte offset of the start tag.
    at: usize,
}

pub(crate) fn read(text: &str, limits: &Limits) -> Result<RawDocument, DocumentError> {
    let mut reader = Reader::from_str(text);
    let config = reader.config_mut();
    config.expand_empty_elements = true;
    config.check_end_names = true;

    let mut doc = RawDocument::default();
    let mut stack: Vec<Frame<'_>> = Vec::with_capacity(8);
    let mut seen_root = false;
    // The text of the leaf being read (several events when it holds entities or CDATA).
    let mut value = String::new();

    let at_offset = |offset: usize| {
        let (line, column) = line_col(text, offset);
        Some(Place::Text { line, column })
    };
    let malformed = |reason: String, offset: usize| {
        DocumentError::parse(ParseErrorKind::MalformedXml, reason, at_offset(offset))
    };

    loop {
        let before = reader.buffer_position() as usize;
        let event =
            reader.read_event().map_err(|e| malformed(e.to_string(), reader.error_position() as usize))?;
        match event {
            Event::Start(start) => {
                // The name as a slice of the input, so it outlives the event: right after the
                // next '<' (quick-xml may have skipped a byte-order mark before it).
                let name = name_in_text(text, before, start.name().0).ok_or_else(|| {
                    malformed(format!("unreadable element name <{}>", start.name().0), before)
                })?;
                if stack.len() as u32 >= limits.max_depth {
                    return Err(DocumentError::parse(
                        ParseErrorKind::TooDeep,
                        format!(
                            "elements nested deeper than the limit of {} (parser.max_depth)",
                            limits.max_depth
                        ),
                        at_offset(before),
                    ));
                }
                let slot = match stack.last() {
                    None if seen_root => {
                        return Err(malformed(format!("a second root element <{name}>"), before))
                    }
                    None if name != "SaberisOrderDocument" => {
                        return Err(DocumentError::parse(
                            ParseErrorKind::NotAnOrder,
                            format!("the root element is <{name}>, expected <SaberisOrderDocument>"),
                            at_offset(before),
                        ))
                    }
                    None => {
                        seen_root = true;
                        Slot::Document
                    }
                    Some(parent) => open_child(&mut doc, parent, name, before, text)?,
                };
                value.clear();
                stack.push(Frame { name, slot, at: before });
            }
            Event::Text(t) if in_leaf(&stack) => value.push_str(&t.xml10_content()),
            Event::CData(c) if in_leaf(&stack) => value.push_str(&c.xml10_content()),
            Event::GeneralRef(r) => {
                let resolved = resolve_reference(&r).ok_or_else(|| {
                    malformed(
                        format!("unknown entity &{};: only &amp; &lt; &gt; &quot; &apos; and character references are allowed", &*r),
                        before,
                    )
                })?;
                if in_leaf(&stack) {
                    value.push(resolved);
                }
            }
            Event::End(_) => {
                let frame = stack.pop().expect("quick-xml checks that end tags match start tags");
                if frame.slot == Slot::Leaf {
                    let parent = stack.last().expect("a leaf always has a parent").slot;
                    let leaf = leaf_mut(&mut doc, parent, frame.name).expect("known leaf");
                    if leaf.present {
                        return Err(DocumentError::parse(
                            ParseErrorKind::NotAnOrder,
                            format!("<{}> appears twice in the same element", frame.name),
                            at_offset(frame.at),
                        ));
                    }
                    leaf.set(&value, frame.at);
                }
            }
            Event::DocType(_) => {
                return Err(DocumentError::parse(
                    ParseErrorKind::DtdRefused,
                    "the document has a DTD (<!DOCTYPE ...>): DTDs and entity declarations are refused",
                    at_offset(before),
                ))
            }
            Event::Eof => break,
            // Declarations, comments, processing instructions, and whitespace between elements.
            _ => {}
        }
    }
    if let Some(open) = stack.last() {
        return Err(malformed(
            format!("the document ends inside <{}>, which is never closed", open.name),
            open.at,
        ));
    }
    if !seen_root {
        return Err(DocumentError::parse(ParseErrorKind::NotAnOrder, "no root element", None));
    }
    Ok(doc)
}

/// The element name `name` as it appears in `text` after the first `<` at or after `from`.
fn name_in_text<'t>(text: &'t str, from: usize, name: &str) -> Option<&'t str> {
    let start = from + text.get(from..)?.find('<')? + 1;
    text.get(start..start + name.len()).filter(|found| *found == name)
}

fn in_leaf(stack: &[Frame<'_>]) -> bool {
    matches!(stack.last(), Some(Frame { slot: Slot::Leaf, .. }))
}

/// Decides what a new element under `parent` is, creating the container it opens.
fn open_child(
    doc: &mut RawDocument,
    parent: &Frame<'_>,
    name: &str,
    at: usize,
    text: &str,
) -> Result<Slot, DocumentError> {
    let slot = match (parent.slot, name) {
        (Slot::Unknown, _) => Slot::Unknown,
        (Slot::Leaf, _) => {
            let (line, column) = line_col(text, at);
            return Err(DocumentError::parse(
                ParseErrorKind::NotAnOrder,
                format!("<{name}> inside <{}>, which holds a value, not elements", parent.name),
                Some(Place::Text { line, column }),
            ));
        }
        (Slot::Document, "Order") => {
            if doc.order.is_some() {
                let (line, column) = line_col(text, at);
                return Err(DocumentError::parse(
                    ParseErrorKind::NotAnOrder,
                    "more than one <Order> in the document",
                    Some(Place::Text { line, column }),
                ));
            }
            doc.order = Some(RawOrder { at, ..RawOrder::default() });
            Slot::Order
        }
        (Slot::Order, "Customer") => {
            order(doc).customer.get_or_insert_with(RawCustomer::default);
            Slot::Customer
        }
        (Slot::Order, "Shipping") => {
            order(doc).shipping.get_or_insert_with(RawShipping::default);
            Slot::Shipping
        }
        (Slot::Order, "Group") => {
            let groups = &mut order(doc).group;
            groups.is_list = true;
            groups.items.push(RawGroup { at, ..RawGroup::default() });
            Slot::Group
        }
        (Slot::Group, "Item") => {
            let items = &mut group(doc).item;
            items.is_list = true;
            items.items.push(RawItem { at, ..RawItem::default() });
            Slot::Item
        }
        (parent_slot, _) if leaf_mut(doc, parent_slot, name).is_some() => Slot::Leaf,
        _ => Slot::Unknown,
    };
    Ok(slot)
}

fn order(doc: &mut RawDocument) -> &mut RawOrder {
    doc.order.as_mut().expect("inside <Order>")
}

fn group(doc: &mut RawDocument) -> &mut RawGroup {
    order(doc).group.items.last_mut().expect("inside <Group>")
}

/// The leaf `name` of the innermost open container of kind `parent`, if it has one.
fn leaf_mut<'d>(doc: &'d mut RawDocument, parent: Slot, name: &str) -> Option<&'d mut super::raw::Leaf> {
    match parent {
        Slot::Document => doc.leaf_mut(name),
        Slot::Order => order(doc).leaf_mut(name),
        Slot::Customer => order(doc).customer.as_mut()?.leaf_mut(name),
        Slot::Shipping => order(doc).shipping.as_mut()?.leaf_mut(name),
        Slot::Group => group(doc).leaf_mut(name),
        Slot::Item => group(doc).item.items.last_mut()?.leaf_mut(name),
        Slot::Leaf | Slot::Unknown => None,
    }
}

/// The five predefined entities and character references; anything else is undeclared.
fn resolve_reference(reference: &BytesRef<'_>) -> Option<char> {
    if reference.is_char_ref() {
        return reference.resolve_char_ref().ok().flatten();
    }
    match &**reference {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        _ => None,
    }
}
