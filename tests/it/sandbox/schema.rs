//! The served schema against Jobber's own (the 2022-03-10 extract, copied beside this file from
//! ../shared/reference/jobber/): every type, field, argument and enum value the sandbox exposes
//! must exist there with the same type, except the later changes recorded in jobber-api.md,
//! listed here one by one.

use std::collections::{BTreeMap, BTreeSet};

use async_graphql::parser::parse_schema;
use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};

/// Jobber's schema (the types the bridge touches), from ../shared/reference beside the repository
/// (like the real Saberis documents, it is not copied into the project).
fn reference_schema() -> Option<String> {
    let path =
        crate::support::root().parent()?.join("shared/reference/jobber/schema-subset-2022-03-10.graphql");
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(_) => {
            eprintln!("SKIPPED schema comparison: {} is not beside this repository", path.display());
            None
        }
    }
}

/// Types the sandbox serves that the 2022 extract does not define (it names them as field types
/// but leaves them out), or that a later version introduced.
const TYPES_OUTSIDE_THE_EXTRACT: [&str; 8] = [
    "QuoteEdge",              // QuoteConnection.edges: [QuoteEdge!] (same shape as every other edge)
    "Email",                  // Client.emails: [Email!]!
    "ClientPhoneNumber",      // Client.phones: [ClientPhoneNumber!]!
    "ClientAddress",          // Client.billingAddress: ClientAddress
    "PropertyAddress",        // Property.address: PropertyAddress!
    "CustomFieldCreateInput", // customFields inputs since 2023-08-18
    "AppDisconnectPayload",   // Mutation.appDisconnect (developer docs, "Application Lifecycle")
    "Application",            // AppDisconnectPayload.app
];

/// (type, field): fields Jobber documents that the 2022 extract leaves out.
const FIELDS_OUTSIDE_THE_EXTRACT: [(&str, &str); 1] = [("Mutation", "appDisconnect")];

/// (type, field, sandbox type, reference type): documented later changes.
const LATER_CHANGES: [(&str, &str, &str, &str); 3] = [
    // PropertyAttributes.address became non-null in 2023-08-18.
    ("PropertyAttributes", "address", "AddressAttributes!", "AddressAttributes"),
    // customFields inputs became [CustomFieldCreateInput!] in 2023-08-18.
    ("QuoteCreateAttributes", "customFields", "[CustomFieldCreateInput!]", "[CustomFieldsCreateInput!]"),
    ("ClientCreateInput", "customFields", "[CustomFieldCreateInput!]", "[CustomFieldAttributes!]"),
];

#[derive(Debug, Default)]
struct Shape {
    kind: &'static str,
    /// field → (type, argument → type)
    fields: BTreeMap<String, (String, BTreeMap<String, String>)>,
    /// enum values or union members
    members: BTreeSet<String>,
}

fn shapes(sdl: &str) -> BTreeMap<String, Shape> {
    let document = parse_schema(sdl).expect("schema parses");
    let mut out = BTreeMap::new();
    for definition in document.definitions {
        let TypeSystemDefinition::Type(ty) = definition else { continue };
        let ty = ty.node;
        let mut shape = Shape::default();
        match &ty.kind {
            TypeKind::Object(o) => {
                shape.kind = "object";
                for f in &o.fields {
                    let args = f
                        .node
                        .arguments
                        .iter()
                        .map(|a| (a.node.name.node.to_string(), a.node.ty.node.to_string()))
                        .collect();
                    shape.fields.insert(f.node.name.node.to_string(), (f.node.ty.node.to_string(), args));
                }
            }
            TypeKind::InputObject(i) => {
                shape.kind = "input";
                for f in &i.fields {
                    shape
                        .fields
                        .insert(f.node.name.node.to_string(), (f.node.ty.node.to_string(), BTreeMap::new()));
                }
            }
            TypeKind::Enum(e) => {
                shape.kind = "enum";
                shape.members = e.values.iter().map(|v| v.node.value.node.to_string()).collect();
            }
            TypeKind::Union(u) => {
                shape.kind = "union";
                shape.members = u.members.iter().map(|m| m.node.to_string()).collect();
            }
            TypeKind::Scalar => shape.kind = "scalar",
            TypeKind::Interface(_) => shape.kind = "interface",
        }
        out.insert(ty.name.node.to_string(), shape);
    }
    out
}

#[test]
fn every_served_type_and_field_matches_the_reference() {
    let served = shapes(&sj_sandbox::jobber::schema::build().sdl());
    let Some(reference) = reference_schema() else { return };
    let reference = shapes(&reference);
    let mut problems = Vec::new();
    for (name, shape) in &served {
        if TYPES_OUTSIDE_THE_EXTRACT.contains(&name.as_str()) {
            continue;
        }
        let Some(theirs) = reference.get(name) else {
            problems.push(format!("type {name} is not in the reference"));
            continue;
        };
        if theirs.kind != shape.kind {
            problems.push(format!("{name}: {} here, {} in the reference", shape.kind, theirs.kind));
        }
        match shape.kind {
            "enum" if shape.members != theirs.members => problems.push(format!(
                "enum {name}: {:?} here, {:?} in the reference",
                shape.members, theirs.members
            )),
            "union" if !shape.members.is_subset(&theirs.members) => {
                problems.push(format!("union {name}: {:?} not within {:?}", shape.members, theirs.members))
            }
            _ => {}
        }
        for (field, (ty, args)) in &shape.fields {
            let Some((their_ty, their_args)) = theirs.fields.get(field) else {
                if FIELDS_OUTSIDE_THE_EXTRACT.contains(&(name.as_str(), field.as_str())) {
                    continue;
                }
                problems.push(format!("{name}.{field} is not in the reference"));
                continue;
            };
            let allowed = LATER_CHANGES
                .iter()
                .any(|(t, f, ours, refs)| t == name && f == field && ours == ty && refs == their_ty);
            if ty != their_ty && !allowed {
                problems.push(format!("{name}.{field}: {ty} here, {their_ty} in the reference"));
            }
            for (arg, arg_ty) in args {
                match their_args.get(arg) {
                    Some(t) if t == arg_ty => {}
                    other => {
                        problems.push(format!("{name}.{field}({arg}: {arg_ty}): reference has {other:?}"))
                    }
                }
            }
        }
        // A required input field the sandbox lacked would make valid Jobber requests fail here.
        if shape.kind == "input" {
            for (field, (their_ty, _)) in &theirs.fields {
                if their_ty.ends_with('!') && !shape.fields.contains_key(field) {
                    problems.push(format!("input {name} lacks required field {field}: {their_ty}"));
                }
            }
        }
    }
    assert!(problems.is_empty(), "schema differs from Jobber's:\n{}", problems.join("\n"));
}

#[test]
fn the_later_changes_are_really_served() {
    let served = shapes(&sj_sandbox::jobber::schema::build().sdl());
    for (ty, field, ours, _) in LATER_CHANGES {
        assert_eq!(served[ty].fields[field].0, ours, "{ty}.{field}");
    }
}

#[test]
fn the_operations_the_bridge_needs_exist() {
    let served = shapes(&sj_sandbox::jobber::schema::build().sdl());
    for q in ["clients", "client", "quotes", "quote", "properties", "customFieldConfigurations"] {
        assert!(served["Query"].fields.contains_key(q), "Query.{q}");
    }
    for m in [
        "clientCreate",
        "clientEdit",
        "clientArchive",
        "propertyCreate",
        "propertyEdit",
        "quoteCreate",
        "quoteCreateLineItems",
        "quoteCreateTextLineItems",
        "quoteEditLineItems",
        "quoteDeleteLineItems",
        "quoteEdit",
        "quoteCreateNote",
        "quoteApprove",
        "quoteArchive",
        "quoteDelete",
    ] {
        assert!(served["Mutation"].fields.contains_key(m), "Mutation.{m}");
    }
}
