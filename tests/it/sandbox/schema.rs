//! The served schema against Jobber's public one: `schema-2025-04-16-subset.graphql` in
//! ../shared/reference/jobber/ (a live introspection of version 2025-04-16, transcribed).
//!
//! Every type, field, argument, enum value and union member the sandbox serves must exist there
//! with the same type string (nullability and list wrappers included), input fields and arguments
//! too; a required input field or argument Jobber has must exist here (a valid Jobber request would
//! fail otherwise); enums carry exactly Jobber's values; deprecations are served as Jobber states
//! them. The root fields Jobber's file only names in comment lines (`# quoteDelete(...)`) have no
//! known signature and are not fields of the parsed file, so the sandbox cannot serve them. Types
//! the file declares only as placeholders (a single dummy member `_` / `_NOT_TRANSCRIBED`) have no
//! known body: the sandbox must not serve them, except as [`PLACEHOLDERS_SERVED`] says.

use std::collections::{BTreeMap, BTreeSet};

use async_graphql::parser::parse_schema;
use async_graphql::parser::types::{ConstDirective, TypeKind, TypeSystemDefinition};
use async_graphql::Value;

const SCHEMA: &str = "Jobber's 2025-04-16 schema";
const REFERENCE: &str = "shared/reference/jobber/schema-2025-04-16-subset.graphql";

/// Jobber's schema from ../shared beside the repository (like the real Saberis documents, it is
/// not copied into the project). Absent: the comparison is skipped with a note, except under
/// `CI=true`, where a missing reference fails the test instead of passing it silently.
fn reference_schema() -> Option<String> {
    let path = crate::support::root().parent().map(|p| p.join(REFERENCE));
    let text = path.as_ref().and_then(|p| std::fs::read_to_string(p).ok());
    if text.is_none() {
        let shown = path.map_or_else(|| REFERENCE.to_owned(), |p| p.display().to_string());
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{shown} is not beside this repository, and CI=true: the schema comparison may not be skipped in CI"
        );
        eprintln!("SKIPPED schema comparison: {shown} is not beside this repository");
    }
    text
}

/// Placeholder types the sandbox serves anyway: (type, the fully transcribed interface whose
/// fields the real type has, why). The test fails when an entry is no longer needed (the sandbox
/// stops serving the type, or the reference transcribes it) or no longer holds (the reference's
/// placeholder line stops saying that the real type implements the interface).
const PLACEHOLDERS_SERVED: [(&str, &str, &str); 1] = [(
    "CustomFieldConfigurationNumeric",
    "CustomFieldConfigurationInterface",
    "a NUMERIC custom field configuration (sandbox setting account.custom_fields) must be listable by \
     customFieldConfigurations and named by CustomFieldNumeric.customFieldConfiguration; the \
     reference's placeholder line says the real type implements CustomFieldConfigurationInterface, \
     which it gives in full, so the sandbox serves exactly the interface's fields on it",
)];

#[derive(Debug, Default, Clone)]
struct Field {
    ty: String,
    /// argument → type
    args: BTreeMap<String, String>,
    /// `@deprecated(reason:)`
    deprecated: Option<String>,
}

#[derive(Debug, Default, Clone)]
struct Shape {
    kind: &'static str,
    fields: BTreeMap<String, Field>,
    /// enum values or union members
    members: BTreeSet<String>,
}

impl Shape {
    /// A declaration whose body is the reference's dummy member: name and kind real, body not.
    fn is_placeholder(&self) -> bool {
        (self.fields.len() == 1 && self.fields.contains_key("_"))
            || (self.members.len() == 1 && self.members.contains("_NOT_TRANSCRIBED"))
    }
}

fn deprecation(directives: &[async_graphql::Positioned<ConstDirective>]) -> Option<String> {
    let directive = directives.iter().find(|d| d.node.name.node == "deprecated")?;
    let reason = directive.node.arguments.iter().find(|(name, _)| name.node == "reason");
    Some(match reason.map(|(_, value)| &value.node) {
        Some(Value::String(reason)) => reason.clone(),
        _ => "No longer supported".to_owned(),
    })
}

fn shapes(sdl: &str) -> BTreeMap<String, Shape> {
    let document = parse_schema(sdl).expect("schema parses");
    let mut out = BTreeMap::new();
    for definition in document.definitions {
        let TypeSystemDefinition::Type(ty) = definition else { continue };
        let ty = ty.node;
        let mut shape = Shape::default();
        let fields = match &ty.kind {
            TypeKind::Object(o) => {
                shape.kind = "object";
                &o.fields[..]
            }
            TypeKind::Interface(i) => {
                shape.kind = "interface";
                &i.fields[..]
            }
            TypeKind::InputObject(i) => {
                shape.kind = "input";
                for f in &i.fields {
                    let field = Field {
                        ty: f.node.ty.node.to_string(),
                        args: BTreeMap::new(),
                        deprecated: deprecation(&f.node.directives),
                    };
                    shape.fields.insert(f.node.name.node.to_string(), field);
                }
                &[]
            }
            TypeKind::Enum(e) => {
                shape.kind = "enum";
                shape.members = e.values.iter().map(|v| v.node.value.node.to_string()).collect();
                &[]
            }
            TypeKind::Union(u) => {
                shape.kind = "union";
                shape.members = u.members.iter().map(|m| m.node.to_string()).collect();
                &[]
            }
            TypeKind::Scalar => {
                shape.kind = "scalar";
                &[]
            }
        };
        for f in fields {
            let args = f
                .node
                .arguments
                .iter()
                .map(|a| (a.node.name.node.to_string(), a.node.ty.node.to_string()))
                .collect();
            let field =
                Field { ty: f.node.ty.node.to_string(), args, deprecated: deprecation(&f.node.directives) };
            shape.fields.insert(f.node.name.node.to_string(), field);
        }
        out.insert(ty.name.node.to_string(), shape);
    }
    out
}

/// Compares one served field (or input field) with Jobber's.
fn compare_field(name: &str, field: &str, ours: &Field, theirs: &Field, problems: &mut Vec<String>) {
    if ours.ty != theirs.ty {
        problems.push(format!("{name}.{field}: {} here, {} in {SCHEMA}", ours.ty, theirs.ty));
    }
    for (arg, ty) in &ours.args {
        match theirs.args.get(arg) {
            None => problems.push(format!("{name}.{field}(argument {arg}) is not in {SCHEMA}")),
            Some(t) if t != ty => {
                problems.push(format!("{name}.{field}(argument {arg}): {ty} here, {t} in {SCHEMA}"))
            }
            Some(_) => {}
        }
    }
    for (arg, ty) in &theirs.args {
        if ty.ends_with('!') && !ours.args.contains_key(arg) {
            problems.push(format!("{name}.{field} lacks the required argument {arg}: {ty} of {SCHEMA}"));
        }
    }
    match (&ours.deprecated, &theirs.deprecated) {
        (None, Some(reason)) => problems.push(format!(
            "{name}.{field} is deprecated in {SCHEMA} (\"{reason}\"): serve it @deprecated too"
        )),
        (Some(_), None) => problems.push(format!("{name}.{field} is @deprecated here, not in {SCHEMA}")),
        (Some(a), Some(b)) if a != b => {
            problems.push(format!("{name}.{field}: deprecation reason \"{a}\" here, \"{b}\" in {SCHEMA}"))
        }
        _ => {}
    }
}

/// Every difference that matters, one line each. `raw` is the reference's text (for the
/// placeholder notes, which are comments).
fn problems(served: &BTreeMap<String, Shape>, reference: &BTreeMap<String, Shape>, raw: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for (name, shape) in served {
        let Some(theirs) = reference.get(name) else {
            problems.push(format!("type {name} is not in {SCHEMA}"));
            continue;
        };
        if theirs.kind != shape.kind {
            problems.push(format!("{name} is an {} here, an {} in {SCHEMA}", shape.kind, theirs.kind));
            continue;
        }
        if theirs.is_placeholder() {
            let exception = PLACEHOLDERS_SERVED.iter().find(|(ty, ..)| ty == name);
            let known = exception.and_then(|(_, interface, _)| reference.get(*interface));
            match known {
                Some(interface) => {
                    for (field, ours) in &shape.fields {
                        match interface.fields.get(field) {
                            Some(f) => compare_field(name, field, ours, f, &mut problems),
                            None => problems.push(format!(
                                "{name}.{field} is not a field of {} in {SCHEMA} ({name} is a placeholder there)",
                                exception.map_or("", |e| e.1)
                            )),
                        }
                    }
                }
                None => problems.push(format!(
                    "type {name} is only a placeholder in {SCHEMA} (its real body is not transcribed): do not serve it"
                )),
            }
            continue;
        }
        match shape.kind {
            "enum" => {
                for value in shape.members.difference(&theirs.members) {
                    problems.push(format!("enum {name}: value {value} is not in {SCHEMA}"));
                }
                for value in theirs.members.difference(&shape.members) {
                    problems.push(format!("enum {name} lacks the value {value} of {SCHEMA}"));
                }
            }
            "union" => {
                for member in shape.members.difference(&theirs.members) {
                    problems.push(format!("union {name}: member {member} is not in {SCHEMA}"));
                }
            }
            _ => {}
        }
        for (field, ours) in &shape.fields {
            match theirs.fields.get(field) {
                Some(f) => compare_field(name, field, ours, f, &mut problems),
                None => problems.push(format!("{name}.{field} is not in {SCHEMA}")),
            }
        }
        if shape.kind == "input" {
            for (field, f) in &theirs.fields {
                if f.ty.ends_with('!') && !shape.fields.contains_key(field) {
                    problems
                        .push(format!("input {name} lacks the required field {field}: {} of {SCHEMA}", f.ty));
                }
            }
        }
    }
    // The exceptions must still be needed and still hold.
    for (ty, interface, _) in PLACEHOLDERS_SERVED {
        if !served.contains_key(ty) {
            problems.push(format!(
                "PLACEHOLDERS_SERVED lists {ty}, which the sandbox no longer serves: remove the entry"
            ));
        }
        match reference.get(ty) {
            Some(shape) if shape.is_placeholder() => {
                let noted = raw.lines().any(|line| {
                    line.starts_with(&format!("type {ty} "))
                        && line.contains(&format!("real type implements {interface}"))
                });
                if !noted {
                    problems.push(format!(
                        "PLACEHOLDERS_SERVED: {SCHEMA} no longer says that {ty} implements {interface}"
                    ));
                }
            }
            _ => problems.push(format!(
                "PLACEHOLDERS_SERVED lists {ty}, which is not a placeholder in {SCHEMA} any more: remove the entry"
            )),
        }
        if reference.get(interface).is_none_or(|i| i.kind != "interface" || i.is_placeholder()) {
            problems
                .push(format!("PLACEHOLDERS_SERVED: {interface} is not a transcribed interface in {SCHEMA}"));
        }
    }
    problems
}

#[test]
fn every_served_type_and_field_is_in_jobbers_2025_schema() {
    let served = shapes(&sj_sandbox::jobber::schema::build().sdl());
    let Some(raw) = reference_schema() else { return };
    let problems = problems(&served, &shapes(&raw), &raw);
    assert!(problems.is_empty(), "the served schema differs from {SCHEMA}:\n{}", problems.join("\n"));
}

/// The check itself catches what it must, with readable lines (a served schema with one of each
/// mistake).
#[test]
fn the_comparison_reports_each_kind_of_difference() {
    let Some(raw) = reference_schema() else { return };
    let reference = shapes(&raw);
    let served = shapes(
        r#"
        type Mutation { quoteDelete(quoteId: EncodedId!): Boolean! quoteEdit(quoteId: EncodedId!, attributes: QuoteEditAttributes!, force: Boolean): Boolean }
        type Query { quote(id: EncodedId): Quote }
        type Quote { title: String! cost: Float! }
        input QuoteEditAttributes { title: String }
        input QuoteCreateAttributes { title: String }
        type Application { name: String! }
        type Fancy { id: ID! }
        enum QuoteStatusTypeEnum { draft archived deleted }
        scalar EncodedId
        "#,
    );
    let found = problems(&served, &reference, &raw);
    let expected = [
        "Mutation.quoteDelete is not in Jobber's 2025-04-16 schema",
        "Mutation.quoteEdit: Boolean here, QuoteEditPayload! in Jobber's 2025-04-16 schema",
        "Mutation.quoteEdit(argument force) is not in Jobber's 2025-04-16 schema",
        "Query.quote(argument id): EncodedId here, EncodedId! in Jobber's 2025-04-16 schema",
        "Quote.title: String! here, String in Jobber's 2025-04-16 schema",
        "Quote.cost is deprecated in Jobber's 2025-04-16 schema (\"Renamed to `total` and moved to the `amounts` section\"): serve it @deprecated too",
        "input QuoteCreateAttributes lacks the required field clientId: EncodedId! of Jobber's 2025-04-16 schema",
        "type Application is only a placeholder in Jobber's 2025-04-16 schema (its real body is not transcribed): do not serve it",
        "type Fancy is not in Jobber's 2025-04-16 schema",
        "enum QuoteStatusTypeEnum: value deleted is not in Jobber's 2025-04-16 schema",
        "enum QuoteStatusTypeEnum lacks the value approved of Jobber's 2025-04-16 schema",
        "PLACEHOLDERS_SERVED lists CustomFieldConfigurationNumeric, which the sandbox no longer serves: remove the entry",
    ];
    for line in expected {
        assert!(found.iter().any(|f| f == line), "missing: {line}\nfound:\n{}", found.join("\n"));
    }
}

/// What the bridge reads and writes (its current queries and the ones it is moving to) is served.
#[test]
fn the_operations_and_fields_the_bridge_needs_exist() {
    let served = shapes(&sj_sandbox::jobber::schema::build().sdl());
    let needed = [
        "Query.account",
        "Query.client(id)",
        "Query.clients(searchTerm, searchFields, filter, first, after)",
        "Query.quote(id)",
        "Query.quotes(filter, sort, first, after)",
        "Query.property(id)",
        "Query.properties(filter, first, after)",
        "Query.customFieldConfigurations(first)",
        "Mutation.clientCreate(input)",
        "Mutation.clientEdit(clientId, input)",
        "Mutation.propertyCreate(clientId, input)",
        "Mutation.quoteCreate(attributes)",
        "Mutation.quoteCreateLineItems(quoteId, lineItems)",
        "Mutation.quoteCreateTextLineItems(quoteId, lineItems)",
        "Mutation.quoteEditLineItems(quoteId, lineItems)",
        "Mutation.quoteDeleteLineItems(quoteId, lineItemIds)",
        "Mutation.quoteEdit(quoteId, attributes)",
        "Mutation.quoteCreateNote(quoteId, input)",
        "Mutation.appDisconnect",
        "Client.clientProperties(first, after)",
        "Client.billingAddress",
        "Client.properties",
        "PropertyConnection.pageInfo",
        "PageInfo.hasNextPage",
        "PageInfo.endCursor",
        "Property.address",
        "PropertyAddress.street1",
        "PropertyAddress.street2",
        "PropertyAddress.city",
        "PropertyAddress.province",
        "PropertyAddress.postalCode",
        "PropertyAddress.country",
        "Quote.jobberWebUri",
        "Quote.customFields",
        "Quote.lineItems(first, after)",
        "QuoteFilterAttributes.clientId",
        "QuoteFilterAttributes.quoteNumber",
        "QuoteFilterAttributes.createdAt",
        "Iso8601DateTimeRangeInput.after",
        "IntRangeInput.eq",
        // PO routing to a job.
        "Query.job(id)",
        "Query.jobs(searchTerm, filter, first, after)",
        "Mutation.jobCreateLineItems(jobId, input)",
        "Mutation.jobDeleteLineItems(jobId, input)",
        "Job.jobNumber",
        "Job.title",
        "Job.jobStatus",
        "Job.client",
        "Job.total",
        "Job.jobberWebUri",
        "Job.lineItems(first, after)",
        "JobLineItem.description",
        "JobLineItem.unitCost",
        "JobLineItem.unitPrice",
        "JobCreateLineItemsInput.lineItems",
        "JobDeleteLineItemsInput.lineItemIds",
    ];
    let mut missing = Vec::new();
    for need in needed {
        let (path, args) = need.split_once('(').unwrap_or((need, ""));
        let (ty, field) = path.split_once('.').unwrap();
        let Some(f) = served.get(ty).and_then(|s| s.fields.get(field)) else {
            missing.push(need.to_owned());
            continue;
        };
        for arg in args.trim_end_matches(')').split(", ").filter(|a| !a.is_empty()) {
            if !f.args.contains_key(arg) {
                missing.push(format!("{ty}.{field}(argument {arg})"));
            }
        }
    }
    assert!(missing.is_empty(), "not served:\n{}", missing.join("\n"));
}
