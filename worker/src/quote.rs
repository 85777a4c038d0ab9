//! What the Jobber quote says, built from the message: one line item per product line (name =
//! cabinet code, description = options and dimensions), the catalogs' settings as the message,
//! and the bridge's marker (a custom field, or a short reference at the end of the title).

use rust_decimal::prelude::ToPrimitive;
use serde_json::json;
use sj_shared::jobber::ops::{LineItemInput, QuoteInput};
use sj_shared::message::{Line, QuoteRequest};

/// The marker the bridge puts on every quote it writes: derived from the content hash, short
/// enough to read, long enough never to collide among one client's quotes.
pub fn marker(content_hash: &str) -> String {
    let hex = content_hash.strip_prefix("sha256:").unwrap_or(content_hash);
    format!("SJ-{}", &hex[..hex.len().min(12)])
}

/// The marker as written at the end of a title, when the account has no marker field.
pub fn title_marker(marker: &str) -> String {
    format!("[{marker}]")
}

pub fn build(
    request: &QuoteRequest,
    client_id: &str,
    property_id: &str,
    marker: &str,
    marker_field: Option<&str>,
) -> QuoteInput {
    let mut title = match (&request.document.date, &request.customer.po_number) {
        (Some(date), Some(po)) => format!("Cabinetry order {date} · PO {po}"),
        (Some(date), None) => format!("Cabinetry order {date}"),
        (None, Some(po)) => format!("Cabinetry order · PO {po}"),
        (None, None) => "Cabinetry order".to_owned(),
    };
    let custom_fields = match marker_field {
        Some(id) => vec![json!({"customFieldConfigurationId": id, "valueText": marker})],
        None => {
            title.push(' ');
            title.push_str(&title_marker(marker));
            Vec::new()
        }
    };
    QuoteInput {
        client_id: client_id.to_owned(),
        property_id: property_id.to_owned(),
        title,
        message: message(request),
        line_items: request.lines().map(|(_, line)| line_item(line)).collect(),
        custom_fields,
    }
}

/// The catalogs and their settings (door style, finish…), one per line: what the client
/// recognises from the design meeting.
fn message(request: &QuoteRequest) -> String {
    request
        .sections
        .iter()
        .filter(|s| !s.settings.is_empty() || s.catalog.is_some())
        .map(|section| {
            let settings: Vec<String> = section
                .settings
                .iter()
                .map(|s| match &s.value {
                    Some(value) => format!("{}: {value}", s.key),
                    None => s.key.clone(),
                })
                .collect();
            match &section.catalog {
                Some(catalog) if settings.is_empty() => catalog.clone(),
                Some(catalog) => format!("{catalog} — {}", settings.join("; ")),
                None => settings.join("; "),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn line_item(line: &Line) -> LineItemInput {
    let mut parts: Vec<String> =
        line.options.iter().map(|o| o.text.clone()).filter(|t| !t.is_empty()).collect();
    parts.extend(line.notes.iter().cloned());
    LineItemInput {
        name: line.code.clone(),
        description: parts.join("; "),
        // Jobber's API takes Floats: the exact decimals become floats only here, at the edge.
        quantity: line.quantity.to_f64().unwrap_or_default(),
        unit_price: line.unit_selling.to_f64().unwrap_or_default(),
        unit_cost: line.unit_cost.to_f64().unwrap_or_default(),
        save_to_products_and_services: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_short_and_stable() {
        let hash = "sha256:ae87e3e6a8b257489c573e42f3d091545658a5780f05beef06309793d257eabd";
        assert_eq!(marker(hash), "SJ-ae87e3e6a8b2");
        assert_eq!(title_marker(&marker(hash)), "[SJ-ae87e3e6a8b2]");
    }
}
