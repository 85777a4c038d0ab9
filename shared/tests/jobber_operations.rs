//! Every GraphQL document the bridge can send to Jobber, validated against Jobber's public schema.
//!
//! The documents are the files in `shared/src/jobber/graphql/`: `JobberClient::execute` takes
//! only an `Operation`, and an `Operation` can only be made from those files (see
//! `shared/src/jobber/operations.rs`), so this folder is every request the worker, the poller and
//! sjctl can make. Each file is checked with a real GraphQL validator (apollo-compiler) against
//! `../shared/reference/jobber/schema-2025-04-16-subset.graphql`, the transcription of Jobber's
//! live introspection for the version the bridge sends: an unknown field or argument, a wrong
//! argument or variable type, a missing required argument, a wrong nullability, an operation the
//! subset does not give in full, all fail. A deprecated field fails too: Jobber says those will
//! change shape.
//!
//! Variables are JSON built at run time; their shapes are checked where they meet a GraphQL
//! server: the sandbox validates every request against its schema, and the sandbox's schema is
//! itself checked against the same reference (`tests/it/sandbox/schema.rs`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use apollo_compiler::executable::{Selection, SelectionSet};
use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Schema};

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn operations_dir() -> PathBuf {
    crate_dir().join("src/jobber/graphql")
}

/// Jobber's schema from ../shared beside the repository (reference material is not copied into
/// the project). Absent: skipped on a developer's machine, a failure in CI.
fn jobber_schema() -> Option<Valid<Schema>> {
    let path = crate_dir().join("../../shared/reference/jobber/schema-2025-04-16-subset.graphql");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("{}: {e} (CI must validate against Jobber's schema)", path.display())
        }
        Err(_) => {
            eprintln!("SKIPPED: {} is not beside this repository", path.display());
            return None;
        }
    };
    Some(Schema::parse_and_validate(text, &path).unwrap_or_else(|e| panic!("Jobber's schema: {}", e.errors)))
}

/// `graphql/*.graphql`: (file stem, text).
fn operation_files() -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(operations_dir())
        .expect("the operations folder")
        .map(|entry| entry.expect("a folder entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "graphql"))
        .map(|path| {
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            (stem, std::fs::read_to_string(&path).expect("readable"))
        })
        .collect();
    files.sort();
    files
}

/// Problems with one document: validation errors, a name that is not its file's, deprecated
/// fields.
fn problems(schema: &Valid<Schema>, file: &str, text: &str) -> Vec<String> {
    let path = Path::new("shared/src/jobber/graphql").join(format!("{file}.graphql"));
    let document = match ExecutableDocument::parse_and_validate(schema, text, &path) {
        Ok(document) => document,
        Err(e) => return vec![e.errors.to_string()],
    };
    let mut found = Vec::new();
    let names: Vec<String> = document
        .operations
        .iter()
        .map(|op| op.name.as_ref().map(|n| n.to_string()).unwrap_or_default())
        .collect();
    if names != [file] {
        found.push(format!(
            "{}: holds the operation(s) {names:?}, must hold exactly one, named {file}",
            path.display()
        ));
    }
    for op in document.operations.iter() {
        deprecated(&document, &op.selection_set, &path, &mut found);
    }
    found
}

fn deprecated(document: &ExecutableDocument, set: &SelectionSet, path: &Path, found: &mut Vec<String>) {
    for selection in &set.selections {
        match selection {
            Selection::Field(field) => {
                if let Some(directive) = field.definition.directives.get("deprecated") {
                    let reason = directive
                        .specified_argument_by_name("reason")
                        .and_then(|r| r.as_str())
                        .unwrap_or("deprecated")
                        .to_owned();
                    found.push(format!(
                        "{}: {}.{} is deprecated in Jobber's schema: {reason}",
                        path.display(),
                        set.ty,
                        field.name
                    ));
                }
                deprecated(document, &field.selection_set, path, found);
            }
            Selection::InlineFragment(inline) => deprecated(document, &inline.selection_set, path, found),
            Selection::FragmentSpread(spread) => {
                if let Some(fragment) = document.fragments.get(&spread.fragment_name) {
                    deprecated(document, &fragment.selection_set, path, found);
                }
            }
        }
    }
}

#[test]
fn every_operation_the_bridge_sends_is_valid_against_jobbers_2025_04_16_schema() {
    let Some(schema) = jobber_schema() else { return };
    let files = operation_files();
    assert!(files.len() >= 10, "only {} operation files found", files.len());
    let found: Vec<String> = files.iter().flat_map(|(file, text)| problems(&schema, file, text)).collect();
    assert!(found.is_empty(), "GraphQL documents Jobber would refuse:\n{}", found.join("\n"));
}

/// The folder and the `operation!` declarations name the same operations: no document is sent
/// that the test above did not see, and no file is left that nothing sends.
#[test]
fn the_operations_module_declares_exactly_the_files() {
    let source = std::fs::read_to_string(crate_dir().join("src/jobber/operations.rs")).unwrap();
    let declared: BTreeSet<String> = source
        .lines()
        .filter_map(|line| line.trim().strip_prefix("operation!("))
        .filter_map(|rest| rest.split('"').nth(1).map(str::to_owned))
        .collect();
    let files: BTreeSet<String> = operation_files().into_iter().map(|(stem, _)| stem).collect();
    assert_eq!(declared, files, "operation!(…) declarations against graphql/*.graphql");
    // And nothing else in the bridge writes a GraphQL document inline.
    for dir in ["shared/src", "worker/src", "poller/src", "sjctl/src", "alerter/src"] {
        for path in rust_files(&crate_dir().join("..").join(dir)) {
            let text = std::fs::read_to_string(&path).unwrap();
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or_default();
                let inline = ["\"query ", "\"mutation ", "\"fragment "].iter().any(|p| code.contains(p));
                assert!(
                    !inline,
                    "{}:{}: a GraphQL document inline; put it in graphql/",
                    path.display(),
                    n + 1
                );
            }
        }
    }
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

/// The validator is not a formality: what Jobber lacks is refused, with a message that names it.
#[test]
fn what_jobber_lacks_is_refused() {
    let Some(schema) = jobber_schema() else { return };
    let cases = [
        // The internal API's mutation, not the public one.
        (
            "DeleteQuote",
            "mutation DeleteQuote($q: EncodedId!) { quoteDelete(quoteId: $q) { userErrors { message } } }",
            "quoteDelete",
        ),
        // A field that does not exist.
        ("Client", "query Client($id: EncodedId!) { client(id: $id) { id nickname } }", "nickname"),
        // A wrong argument type (quote numbers are Int).
        (
            "QuoteByNumber",
            "query QuoteByNumber($n: String) { quotes(filter: {quoteNumber: {eq: $n}}) { nodes { id } } }",
            "$n",
        ),
        // Nullability: a nullable variable where Jobber requires a value.
        ("Client", "query Client($id: EncodedId) { client(id: $id) { id } }", "$id"),
        // Jobs have no job-number filter (the bridge searches for the number instead).
        (
            "JobByNumber",
            "query JobByNumber($n: Int) { jobs(filter: {jobNumber: $n}) { nodes { id } } }",
            "jobNumber",
        ),
        // The job line mutations take one `input` object, not the quote ones' bare `lineItems`.
        (
            "AddJobLines",
            "mutation AddJobLines($j: EncodedId!, $l: [JobCreateLineItemAttributes!]!) { \
             jobCreateLineItems(jobId: $j, lineItems: $l) { userErrors { message } } }",
            "lineItems",
        ),
        // The deprecated list of properties.
        ("Client", "query Client($id: EncodedId!) { client(id: $id) { properties { id } } }", "deprecated"),
    ];
    for (name, text, expected) in cases {
        let found = problems(&schema, name, text);
        assert!(
            found.iter().any(|p| p.contains(expected)),
            "{text}: expected a problem naming {expected}, got {found:?}"
        );
    }
}
