//! What the Jobber quote says, built from the message with the dealer's rules ([`QuoteRules`],
//! from `[pricing]` and `[quote]`):
//!
//! - the document priced once ([`sj_shared::pricing::price`]: the catalog table, the settings'
//!   markups), then shown as `quote.presentation` says ([`presentation`]): `lines`, a line item
//!   per product line (name = cabinet code; description = the options, tags decoded where
//!   `quote.tags` knows them, and the dimensions; unit price = the customer price; unit cost =
//!   COGS); `msrp-discount`, MSRP lines and one discount line; `package`, one line;
//! - with `quote.section_headers`, a zero-priced line before each section's products, named after
//!   the catalog, its settings as description (Jobber's `quoteCreate` takes product lines only;
//!   text lines would need a second mutation and land at the end);
//! - title and message from the `quote.title` / `quote.message` templates;
//! - the bridge's marker (a custom field, or a short reference at the end of the title).

mod presentation;

pub use presentation::lines_of;

use std::collections::BTreeMap;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde_json::json;
use sj_shared::config::{MsrpLines, Presentation, PricingSettings, QuoteSettings};
use sj_shared::ids::{ClientId, ContentHash, LineItemId, PropertyId};
use sj_shared::jobber::ops::{LineItemInput, LineItemSummary, QuoteInput};
use sj_shared::message::{Line, LineOption, QuoteRequest, Section};
use sj_shared::pricing::PricedDocument;
use sj_shared::template::Template;

/// The title when the template renders to nothing.
const FALLBACK_TITLE: &str = "Cabinetry order";

/// The dealer's pricing and presentation rules, built once from the settings.
#[derive(Debug, Clone)]
pub struct QuoteRules {
    pub pricing: PricingSettings,
    title: Template,
    message: Template,
    section_headers: bool,
    tags: BTreeMap<String, String>,
    pub presentation: Presentation,
    msrp_lines: MsrpLines,
    msrp_line_name: String,
    discount_line_name: String,
    package_line_name: String,
}

impl QuoteRules {
    /// The rules of `[pricing]` and `[quote]`. Fails only on templates the configuration's
    /// validation would have refused; the reason names the key.
    pub fn new(pricing: &PricingSettings, quote: &QuoteSettings) -> Result<Self, String> {
        let template = |key: &str, text: &str| {
            Template::parse_for(text, QuoteSettings::FIELDS).map_err(|e| format!("{key}: {e}"))
        };
        Ok(Self {
            pricing: pricing.clone(),
            title: template("quote.title", &quote.title)?,
            message: template("quote.message", &quote.message)?,
            section_headers: quote.section_headers,
            tags: quote.tags.iter().map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned())).collect(),
            presentation: quote.presentation,
            msrp_lines: quote.msrp_lines,
            msrp_line_name: quote.msrp_line_name.trim().to_owned(),
            discount_line_name: quote.discount_line_name.trim().to_owned(),
            package_line_name: quote.package_line_name.trim().to_owned(),
        })
    }

    /// What a tag means, if the dealer said: the exact tag first, else ignoring case.
    fn tag(&self, tag: &str) -> Option<&str> {
        let tag = tag.trim();
        self.tags
            .get(tag)
            .or_else(|| self.tags.iter().find(|(k, _)| k.eq_ignore_ascii_case(tag)).map(|(_, v)| v))
            .map(String::as_str)
    }
}

impl Default for QuoteRules {
    /// The rules of the default settings.
    fn default() -> Self {
        Self::new(&PricingSettings::default(), &QuoteSettings::default()).expect("the defaults are valid")
    }
}

/// The marker the bridge puts on every quote it writes: derived from the content hash, short
/// enough to read, long enough never to collide among one client's quotes.
pub fn marker(content_hash: &ContentHash) -> String {
    let hex = content_hash.hex();
    format!("SJ-{}", &hex[..hex.len().min(12)])
}

/// Whether a line's description ends with some document's marker (a line the bridge wrote or
/// filled in).
pub fn has_marker(description: &str) -> bool {
    let text = description.trim_end();
    text.ends_with(']') && text.rsplit_once("[SJ-").is_some_and(|(_, hex)| hex.len() == 13)
}

/// The marker as written at the end of a title, when the account has no marker field.
pub fn title_marker(marker: &str) -> String {
    format!("[{marker}]")
}

/// A line's description with `tag` (the document's marker, [`title_marker`]) at its end, on a
/// line of its own: what the bridge writes on every line it adds to or fills in an existing quote
/// or job, so that a later attempt finds them.
pub fn with_marker(description: &str, tag: &str) -> String {
    if description.is_empty() {
        tag.to_owned()
    } else {
        format!("{description}\n{tag}")
    }
}

/// The ids of the lines that carry `tag` at the end of their description: an earlier attempt's.
pub fn marked_lines(items: Vec<LineItemSummary>, tag: &str) -> Vec<LineItemId> {
    items.into_iter().filter(|item| item.description.ends_with(tag)).map(|item| item.id).collect()
}

/// The `quoteCreate` attributes for the priced document.
pub fn build(
    rules: &QuoteRules,
    priced: &PricedDocument<'_>,
    client_id: &ClientId,
    property_id: &PropertyId,
    marker: &str,
    marker_field: Option<&str>,
) -> QuoteInput {
    let mut title = title(rules, priced);
    let custom_fields = match marker_field {
        Some(id) => vec![json!({"customFieldConfigurationId": id, "valueText": marker})],
        None => {
            title.push(' ');
            title.push_str(&title_marker(marker));
            Vec::new()
        }
    };
    QuoteInput {
        client_id: client_id.clone(),
        property_id: property_id.clone(),
        title,
        message: message(rules, priced),
        line_items: line_items(rules, priced),
        custom_fields,
    }
}

/// The document's line items as `quote.presentation` shows them: for a new quote and for lines
/// added to an existing one alike.
pub fn line_items(rules: &QuoteRules, priced: &PricedDocument<'_>) -> Vec<LineItemInput> {
    match rules.presentation {
        Presentation::Lines => product_lines(rules, priced),
        Presentation::MsrpDiscount => presentation::msrp_discount(rules, priced),
        Presentation::Package => presentation::package(rules, priced),
    }
}

/// A line item per product line, in document order: each section's header line (with
/// `quote.section_headers`) then its products, at the customer price with their cost.
pub fn product_lines(rules: &QuoteRules, priced: &PricedDocument<'_>) -> Vec<LineItemInput> {
    let mut items = Vec::with_capacity(priced.lines.len() + priced.request.sections.len());
    let mut current: Option<&Section> = None;
    for p in &priced.lines {
        let new_section = !current.is_some_and(|s| std::ptr::eq(s, p.section));
        if rules.section_headers && new_section {
            items.extend(section_header(p.section));
        }
        current = Some(p.section);
        items.push(LineItemInput {
            name: p.line.code.clone(),
            description: line_description(rules, p.line),
            // Jobber's API takes Floats: the exact decimals become floats only here, at the edge.
            quantity: float(p.line.quantity),
            unit_price: float(p.unit_price),
            unit_cost: float(p.unit_cost),
            save_to_products_and_services: false,
        });
    }
    items
}

/// The quote's total with the dealer's prices (Σ quantity × unit price, each line to the cent),
/// as Jobber will show it; the same for every presentation.
pub fn expected_total(priced: &PricedDocument<'_>) -> Decimal {
    priced.total
}

/// The title from its template, on one line; the marker is added by [`build`].
pub fn title(rules: &QuoteRules, priced: &PricedDocument<'_>) -> String {
    let rendered = rules.title.render(|field| field_value(priced, field));
    let title = rendered.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; ");
    if title.is_empty() {
        FALLBACK_TITLE.to_owned()
    } else {
        title
    }
}

/// The message from its template (line breaks kept, outer blank space trimmed).
pub fn message(rules: &QuoteRules, priced: &PricedDocument<'_>) -> String {
    rules.message.render(|field| field_value(priced, field)).trim().to_owned()
}

/// A template field's value for the document (`None`: empty).
fn field_value(priced: &PricedDocument<'_>, field: &str) -> Option<String> {
    let request = priced.request;
    let (document, customer) = (&request.document, &request.customer);
    match field {
        "customer_name" => customer.name.clone(),
        "customer_number" => customer.number.clone(),
        "po_number" => customer.po_number.clone(),
        "order_number" => document.order_number.clone(),
        "date" => document.date.clone(),
        "salesperson" => document.salesperson.clone(),
        "store_number" => document.store_number.clone(),
        "source" => Some(request.source.id.clone()),
        "catalogs" => Some(catalogs(request)),
        "settings" => Some(settings_block(request)),
        "product_lines" => Some(request.totals.product_lines.to_string()),
        "total" => Some(money(priced.total)),
        // Refused when the settings were validated.
        _ => None,
    }
}

/// Two decimals, as `2911.85`.
fn money(value: Decimal) -> String {
    let mut value = value.round_dp(2);
    value.rescale(2);
    value.to_string()
}

/// The sections' catalogs, each once, in document order.
fn catalogs(request: &QuoteRequest) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for catalog in request.sections.iter().filter_map(|s| s.catalog.as_deref()) {
        if !seen.contains(&catalog) {
            seen.push(catalog);
        }
    }
    seen.join(", ")
}

/// The catalogs and their settings (door style, finish…), one section per line: what the
/// client recognises from the design meeting (`KWP_25D1 — Cabinet Style: Georgetown (B); …`).
fn settings_block(request: &QuoteRequest) -> String {
    request
        .sections
        .iter()
        .filter(|s| !s.settings.is_empty() || s.catalog.is_some())
        .map(|section| {
            let settings = settings_lines(section);
            match &section.catalog {
                Some(catalog) if settings.is_empty() => catalog.clone(),
                Some(catalog) => format!("{catalog} — {}", settings.join("; ")),
                None => settings.join("; "),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `Key: value` (or the bare key) per setting.
fn settings_lines(section: &Section) -> Vec<String> {
    section
        .settings
        .iter()
        .map(|s| match &s.value {
            Some(value) => format!("{}: {value}", s.key),
            None => s.key.clone(),
        })
        .collect()
}

/// A section's header line: quantity 1 at 0.00, the catalog as name, one setting per line as
/// description. None for a section with neither catalog nor settings.
fn section_header(section: &Section) -> Option<LineItemInput> {
    if section.catalog.is_none() && section.settings.is_empty() {
        return None;
    }
    Some(LineItemInput {
        name: section.catalog.clone().unwrap_or_else(|| "Settings".to_owned()),
        description: settings_lines(section).join("\n"),
        quantity: 1.0,
        unit_price: 0.0,
        unit_cost: 0.0,
        save_to_products_and_services: false,
    })
}

/// The options, then the dimension notes, `; ` between them: `24 Finished end left; A; W=39 " …`.
fn line_description(rules: &QuoteRules, line: &Line) -> String {
    let mut parts: Vec<String> = line.options.iter().filter_map(|o| option_text(rules, o)).collect();
    parts.extend(line.notes.iter().cloned());
    parts.join("; ")
}

/// An option as the client reads it: its text with its tag's meaning (`24 Finished end left`),
/// or its text alone when the tag is not configured (as Saberis' code means nothing to a client).
fn option_text(rules: &QuoteRules, option: &LineOption) -> Option<String> {
    let text = option.text.trim();
    let meaning = option.tag.as_deref().and_then(|tag| rules.tag(tag));
    match meaning {
        Some(meaning) if text.is_empty() => Some(meaning.to_owned()),
        Some(meaning) => Some(format!("{text} {meaning}")),
        None if text.is_empty() => None,
        None => Some(text.to_owned()),
    }
}

fn float(value: Decimal) -> f64 {
    value.to_f64().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sj_shared::config::UnpricedCatalog;
    use sj_shared::message::Setting;
    use sj_shared::pricing::examples::{line, request_of, section};
    use sj_shared::pricing::{price, CatalogTable};

    /// The document priced by the rules' settings alone (no catalog table).
    fn priced<'a>(rules: &QuoteRules, request: &'a QuoteRequest) -> PricedDocument<'a> {
        let mut pricing = rules.pricing.clone();
        pricing.unpriced_catalog = UnpricedCatalog::Default;
        price(&pricing, &CatalogTable::default(), request).unwrap()
    }

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn rules(quote: QuoteSettings, pricing: PricingSettings) -> QuoteRules {
        QuoteRules::new(&pricing, &quote).unwrap()
    }

    fn setting(key: &str, value: Option<&str>) -> Setting {
        Setting { key: key.to_owned(), value: value.map(str::to_owned) }
    }

    /// Two sections of KWP_25D1 (a setting after products starts a new one) and one of FWA.
    fn kitchen() -> QuoteRequest {
        let mut b27 = line("B27B", "1", "747.50", "747.50", "500.00");
        b27.options = vec![
            LineOption { text: "18".to_owned(), tag: Some("10b".to_owned()) },
            LineOption { text: "HDS".to_owned(), tag: Some("10d".to_owned()) },
        ];
        b27.notes = vec![r#"W=27 " H=34 1/2 " D=18 ""#.to_owned()];
        let mut db30 = line("DB30-2", "2", "1213.00", "1213.00", "1213.00");
        db30.options = vec![LineOption { text: "REMOVE DRAWER".to_owned(), tag: None }];
        let mut kwp = section(Some("KWP_25D1"), vec![line("WAL213012", "1", "237", "237", "237"), b27]);
        kwp.settings = vec![setting("Pricelevel", None), setting("Cabinet Style", Some("Georgetown (B)"))];
        let mut kwp2 = section(Some("KWP_25D1"), vec![line("BDTK30B", "4", "121.00", "121.00", "121.00")]);
        kwp2.settings = vec![setting("Species / Finish", Some("Slate Maple"))];
        let mut fwa = section(Some("FWA0724B (Galaxy)"), vec![db30]);
        fwa.settings = vec![setting("Door Selection", Some("Galaxy Horizon (I)"))];
        let mut request = request_of(vec![kwp, kwp2, fwa]);
        request.document.date = Some("2025-07-08".to_owned());
        request.customer.name = Some("Affinity Homes".to_owned());
        request.customer.po_number = Some("PO-4471".to_owned());
        request
    }

    fn names(items: &[LineItemInput]) -> Vec<&str> {
        items.iter().map(|i| i.name.as_str()).collect()
    }

    #[test]
    fn the_default_rules_write_what_the_document_says() {
        let request = kitchen();
        let input = build(
            &QuoteRules::default(),
            &priced(&QuoteRules::default(), &request),
            &"c1".into(),
            &"p1".into(),
            "SJ-ae87e3e6a8b2",
            Some("f1"),
        );
        assert_eq!(input.title, "Cabinetry order 2025-07-08 · PO PO-4471");
        assert_eq!(
            input.message,
            "KWP_25D1 — Pricelevel; Cabinet Style: Georgetown (B)\nKWP_25D1 — Species / Finish: Slate Maple\n\
             FWA0724B (Galaxy) — Door Selection: Galaxy Horizon (I)"
        );
        assert_eq!(names(&input.line_items), ["WAL213012", "B27B", "BDTK30B", "DB30-2"]);
        let b27 = &input.line_items[1];
        assert_eq!(b27.description, r#"18; HDS; W=27 " H=34 1/2 " D=18 ""#, "tags unknown: text only");
        assert_eq!((b27.quantity, b27.unit_price, b27.unit_cost), (1.0, 747.5, 500.0));
        assert!(!b27.save_to_products_and_services);
        assert_eq!(input.line_items[3].description, "REMOVE DRAWER");
        assert_eq!(input.custom_fields[0]["valueText"], "SJ-ae87e3e6a8b2");
        // 237 + 747.50 + 4 × 121 + 2 × 1213
        assert_eq!(expected_total(&priced(&QuoteRules::default(), &request)), d("3894.50"));

        let without_field = build(
            &QuoteRules::default(),
            &priced(&QuoteRules::default(), &request),
            &"c1".into(),
            &"p1".into(),
            "SJ-1",
            None,
        );
        assert_eq!(without_field.title, "Cabinetry order 2025-07-08 · PO PO-4471 [SJ-1]");
        assert!(without_field.custom_fields.is_empty());
    }

    #[test]
    fn tags_are_decoded_where_the_dealer_named_them() {
        let quote = QuoteSettings {
            tags: [("10b", "Finished end left"), ("10D", "Hinged door stop"), ("7a", "Fixed shelf")]
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .into(),
            ..QuoteSettings::default()
        };
        let rules = rules(quote, PricingSettings::default());
        let kitchen = kitchen();
        let items = line_items(&rules, &priced(&rules, &kitchen));
        assert_eq!(
            items[1].description, r#"18 Finished end left; HDS Hinged door stop; W=27 " H=34 1/2 " D=18 ""#,
            "exact tags, and tags ignoring case"
        );
        let tag_only = LineOption { text: String::new(), tag: Some("7a".to_owned()) };
        assert_eq!(option_text(&rules, &tag_only).as_deref(), Some("Fixed shelf"));
        let unknown = LineOption { text: String::new(), tag: Some("9z".to_owned()) };
        assert_eq!(option_text(&rules, &unknown), None);
    }

    #[test]
    fn section_headers_come_before_each_sections_products_at_zero() {
        let quote = QuoteSettings { section_headers: true, ..QuoteSettings::default() };
        let pricing = PricingSettings { markup_percent: d("20"), ..PricingSettings::default() };
        let rules = rules(quote, pricing);
        let request = kitchen();
        let items = line_items(&rules, &priced(&rules, &request));
        assert_eq!(
            names(&items),
            ["KWP_25D1", "WAL213012", "B27B", "KWP_25D1", "BDTK30B", "FWA0724B (Galaxy)", "DB30-2"]
        );
        let header = &items[0];
        assert_eq!(header.description, "Pricelevel\nCabinet Style: Georgetown (B)");
        assert_eq!((header.quantity, header.unit_price, header.unit_cost), (1.0, 0.0, 0.0));
        assert_eq!(items[3].description, "Species / Finish: Slate Maple");
        assert_eq!(items[1].unit_price, 284.4, "237 × 1.2");
        // Headers count nothing: 1.2 × 3894.50
        assert_eq!(expected_total(&priced(&rules, &request)), d("4673.40"));

        // A section without catalog or settings gets no header; one with settings only does.
        let request = request_of(vec![
            section(None, vec![line("A", "1", "1", "1", "1")]),
            Section { catalog: None, settings: vec![setting("Finish", Some("Oak"))], lines: vec![] },
            Section {
                catalog: None,
                settings: vec![setting("Finish", Some("Oak"))],
                lines: vec![line("B", "1", "1", "1", "1")],
            },
        ]);
        assert_eq!(names(&line_items(&rules, &priced(&rules, &request))), ["A", "Settings", "B"]);
    }

    #[test]
    fn title_and_message_templates_take_the_documents_fields() {
        let quote = QuoteSettings {
            title: "{customer_name}[ #{order_number}][ · PO {po_number}] — {catalogs}".to_owned(),
            message: "Dear {customer_name},\n\n{settings}\n\n{product_lines} items, {total} [(store {store_number})]\
                      {{source: {source}}}"
                .to_owned(),
            ..QuoteSettings::default()
        };
        let pricing = PricingSettings {
            catalog_markups: [("KWP_*".to_owned(), d("10"))].into(),
            ..PricingSettings::default()
        };
        let rules = rules(quote, pricing);
        let request = kitchen();
        assert_eq!(
            title(&rules, &priced(&rules, &request)),
            "Affinity Homes · PO PO-4471 — KWP_25D1, FWA0724B (Galaxy)"
        );
        // KWP lines +10 %: 260.70 + 822.25 + 4 × 133.10, FWA as is: 2 × 1213
        assert_eq!(
            message(&rules, &priced(&rules, &request)),
            "Dear Affinity Homes,\n\nKWP_25D1 — Pricelevel; Cabinet Style: Georgetown (B)\n\
             KWP_25D1 — Species / Finish: Slate Maple\nFWA0724B (Galaxy) — Door Selection: Galaxy Horizon (I)\n\n\
             4 items, 4041.35 {source: kitchen.xml}"
        );
    }

    #[test]
    fn a_title_is_one_line_and_never_empty() {
        let quote = QuoteSettings { title: "[{customer_name}]".to_owned(), ..QuoteSettings::default() };
        let rules = rules(quote, PricingSettings::default());
        let mut request = kitchen();
        request.customer.name = None;
        assert_eq!(title(&rules, &priced(&rules, &request)), FALLBACK_TITLE);
        let quote = QuoteSettings { title: "Order: {settings}".to_owned(), ..QuoteSettings::default() };
        let rules = super::QuoteRules::new(&PricingSettings::default(), &quote).unwrap();
        assert!(!title(&rules, &priced(&rules, &request)).contains('\n'));
        assert!(title(&rules, &priced(&rules, &request)).contains("Georgetown (B); KWP_25D1 — Species"));
    }

    #[test]
    fn invalid_templates_are_refused_naming_the_key() {
        let quote = QuoteSettings { message: "{nope}".to_owned(), ..QuoteSettings::default() };
        let err = QuoteRules::new(&PricingSettings::default(), &quote).unwrap_err();
        assert!(err.starts_with("quote.message: unknown field {nope}"), "{err}");
    }

    #[test]
    fn markers_are_short_and_stable() {
        let hash =
            &ContentHash::new("sha256:ae87e3e6a8b257489c573e42f3d091545658a5780f05beef06309793d257eabd");
        assert_eq!(marker(hash), "SJ-ae87e3e6a8b2");
        assert_eq!(title_marker(&marker(hash)), "[SJ-ae87e3e6a8b2]");
    }
}
