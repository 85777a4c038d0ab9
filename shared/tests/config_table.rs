//! The configuration table of docs/configuration.md is generated from the settings themselves, so
//! it never drifts from the code:
//!
//! - the keys: [`Settings`] read field by field from the source (`syn`), into every nested section
//!   struct (a field whose type is a struct deriving `Deserialize` with named fields, found
//!   anywhere under shared/src), with serde's `rename` applied;
//! - each key's description: the first paragraph of its doc comment (every field must have one);
//! - each key's default: `Settings::default()` serialized; a field serde does not serialize (it
//!   holds a secret) shows `(secret)`, or for a URL its printed form, password hidden.
//!
//! The table is the block between `<!-- config-table:start -->` and `<!-- config-table:end -->`;
//! `SJ_BLESS=1 cargo test -p sj-shared --test config_table` rewrites it. A second check: every
//! `section.key` written in code in README.md and docs/*.md is a setting that exists.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;
use sj_shared::config::Settings;

const START: &str = "<!-- config-table:start -->";
const END: &str = "<!-- config-table:end -->";
const TABLE_FILE: &str = "docs/configuration.md";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("shared/ has a parent").to_path_buf()
}

/// One field of a settings struct, as written in the source.
struct Field {
    /// The key as serde reads it (`rename` applied).
    key: String,
    /// The field's name in Rust (for messages).
    ident: String,
    /// The type's last path segment (`HumanDuration`, `Option`, `Vec`…).
    type_name: String,
    /// Whether the type has generic arguments (`Option<…>`, `Vec<…>`): never a section.
    generic: bool,
    /// The type as written, spaces removed (`Option<Secret>`).
    type_text: String,
    docs: Vec<String>,
    skip_serializing: bool,
    /// A serde attribute this test does not understand (`flatten`, `skip`…), if any.
    unsupported: Option<String>,
}

/// A struct deriving `Deserialize` with named fields.
struct Struct {
    file: PathBuf,
    fields: Vec<Field>,
}

/// The structs deriving `Deserialize` with named fields in every file under `dir`, by name (a
/// name defined twice keeps every definition, and is an error only when used).
fn structs_under(dir: &Path, root: &Path, out: &mut BTreeMap<String, Vec<Struct>>) {
    let mut entries: Vec<PathBuf> =
        fs::read_dir(dir).expect("readable folder").map(|e| e.expect("readable entry").path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            structs_under(&path, root, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = fs::read_to_string(&path).expect("readable source");
            let file = syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let relative = path.strip_prefix(root).expect("under the root").to_path_buf();
            collect_structs(&file.items, &relative, out);
        }
    }
}

fn collect_structs(items: &[syn::Item], file: &Path, out: &mut BTreeMap<String, Vec<Struct>>) {
    for item in items {
        match item {
            syn::Item::Struct(s) if derives_deserialize(&s.attrs) => {
                let syn::Fields::Named(named) = &s.fields else { continue };
                let fields = named.named.iter().map(field).collect();
                out.entry(s.ident.to_string()).or_default().push(Struct { file: file.to_path_buf(), fields });
            }
            syn::Item::Mod(m) if !is_cfg_test(&m.attrs) => {
                if let Some((_, items)) = &m.content {
                    collect_structs(items, file, out);
                }
            }
            _ => {}
        }
    }
}

fn derives_deserialize(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().filter(|a| a.path().is_ident("derive")).any(|a| {
        let mut found = false;
        let _ = a.parse_nested_meta(|meta| {
            found |= meta.path.segments.last().is_some_and(|s| s.ident == "Deserialize");
            Ok(())
        });
        found
    })
}

fn is_cfg_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg") && a.parse_args::<syn::Meta>().is_ok_and(|m| m.path().is_ident("test"))
    })
}

fn field(f: &syn::Field) -> Field {
    let ident = f.ident.as_ref().expect("a named field").to_string();
    let mut key = ident.clone();
    let mut skip_serializing = false;
    let mut unsupported = None;
    for attr in f.attrs.iter().filter(|a| a.path().is_ident("serde")) {
        attr.parse_nested_meta(|meta| {
            let name = meta.path.get_ident().map(ToString::to_string).unwrap_or_default();
            match name.as_str() {
                "rename" => key = meta.value()?.parse::<syn::LitStr>()?.value(),
                "skip_serializing" => skip_serializing = true,
                "flatten" | "skip" | "skip_deserializing" => unsupported = Some(name),
                _ => {
                    if meta.input.peek(syn::Token![=]) {
                        meta.value()?.parse::<syn::Expr>()?;
                    }
                }
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("field {ident}: unreadable #[serde] attribute: {e}"));
    }
    let docs = f
        .attrs
        .iter()
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) if nv.path.is_ident("doc") => match &nv.value {
                syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. }) => Some(s.value()),
                _ => None,
            },
            _ => None,
        })
        .flat_map(|d| {
            d.split('\n').map(|l| l.strip_prefix(' ').unwrap_or(l).trim_end().to_owned()).collect::<Vec<_>>()
        })
        .collect();
    let (type_name, generic) = match &f.ty {
        syn::Type::Path(p) => {
            let last = p.path.segments.last().expect("a type has a name");
            (last.ident.to_string(), !matches!(last.arguments, syn::PathArguments::None))
        }
        _ => (String::new(), true),
    };
    let type_text = type_text(&f.ty);
    Field { key, ident, type_name, generic, type_text, docs, skip_serializing, unsupported }
}

/// A type as written, without spaces and paths (`Option<Secret>`, `BTreeMap<String,Decimal>`).
fn type_text(ty: &syn::Type) -> String {
    let syn::Type::Path(p) = ty else { return "?".to_owned() };
    let last = p.path.segments.last().expect("a type has a name");
    match &last.arguments {
        syn::PathArguments::AngleBracketed(args) => {
            let inner: Vec<String> = args
                .args
                .iter()
                .map(|a| match a {
                    syn::GenericArgument::Type(t) => type_text(t),
                    _ => "?".to_owned(),
                })
                .collect();
            format!("{}<{}>", last.ident, inner.join(","))
        }
        _ => last.ident.to_string(),
    }
}

/// One row of the table.
struct Row {
    key: String,
    default: String,
    description: String,
}

/// What walking the settings found wrong.
#[derive(Default)]
struct Problems(Vec<String>);

/// The leaf keys under the struct `name`, in the source's field order.
fn walk(
    structs: &BTreeMap<String, Vec<Struct>>,
    name: &str,
    prefix: &str,
    defaults: &Value,
    settings: &Settings,
    rows: &mut Vec<Row>,
    problems: &mut Problems,
) {
    let definitions = &structs[name];
    if definitions.len() > 1 {
        let files: Vec<String> = definitions.iter().map(|s| s.file.display().to_string()).collect();
        problems.0.push(format!("{name} is defined more than once ({}): rename one", files.join(", ")));
        return;
    }
    let definition = &definitions[0];
    for f in &definition.fields {
        let key = if prefix.is_empty() { f.key.clone() } else { format!("{prefix}.{}", f.key) };
        if let Some(attr) = &f.unsupported {
            problems.0.push(format!(
                "{}: {name}.{} (`{key}`): #[serde({attr})] is not understood by this test: teach it",
                definition.file.display(),
                f.ident
            ));
            continue;
        }
        let is_section = !f.generic && structs.contains_key(&f.type_name);
        let description = first_paragraph(&f.docs);
        if description.is_empty() {
            let why = if is_section {
                "every setting, a section too, says what it is".to_owned()
            } else {
                format!("its first paragraph is the key's description in {TABLE_FILE}")
            };
            problems.0.push(format!(
                "{}: {name}.{} (`{key}`) has no doc comment: write one ({why})",
                definition.file.display(),
                f.ident
            ));
        }
        if f.type_text.contains("Secret") && !f.skip_serializing {
            problems.0.push(format!(
                "{}: {name}.{} (`{key}`) holds a secret but is serialized: add #[serde(skip_serializing)]",
                definition.file.display(),
                f.ident
            ));
        }
        if is_section {
            walk(structs, &f.type_name, &key, &defaults[&f.key], settings, rows, problems);
            continue;
        }
        let default = if f.skip_serializing {
            match unserialized_default(&key, &f.type_text, settings) {
                Some(shown) => shown,
                None => {
                    problems.0.push(format!(
                        "{}: {name}.{} (`{key}`, {}) is not serialized and the test does not know how to \
                         show its default: add it to unserialized_default() in shared/tests/config_table.rs",
                        definition.file.display(),
                        f.ident,
                        f.type_text
                    ));
                    continue;
                }
            }
        } else {
            match defaults.get(&f.key) {
                Some(value) => shown_value(value),
                None => {
                    problems.0.push(format!("`{key}`: missing from Settings::default() serialized"));
                    continue;
                }
            }
        };
        rows.push(Row { key, default, description });
    }
}

/// How the table shows the default of a field serde skips when serializing: a secret is never
/// shown; a URL that may hold a password shows as it prints (password hidden).
fn unserialized_default(key: &str, type_text: &str, settings: &Settings) -> Option<String> {
    match (key, type_text) {
        (_, "Option<Secret>") => Some("(secret)".to_owned()),
        ("amqp.url", "SecretUrl") => Some(code(&settings.amqp.url.to_string())),
        ("redis.url", "SecretUrl") => Some(code(&settings.redis.url.to_string())),
        _ => None,
    }
}

/// The first paragraph of a doc comment on one line, rustdoc's links turned into plain text.
fn first_paragraph(docs: &[String]) -> String {
    let text = docs
        .iter()
        .map(|l| l.trim())
        .skip_while(|l| l.is_empty())
        .take_while(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    // Rustdoc's links to items make no sense outside rustdoc: [`Item`] → `Item`,
    // [text](crate::path) → text. Code spans are matched first and kept whole, so `[[` stays.
    let pattern = regex::Regex::new(
        r"(?x) (`[^`]*`) | \[ (`[^`]+`) \] (?:\([^)]*\))? | \[ ([^\[\]`]+) \] \((?:crate|super|self)::[^)]*\)",
    )
    .unwrap();
    let text = pattern.replace_all(&text, |c: &regex::Captures| {
        c.get(1).or(c.get(2)).or(c.get(3)).expect("one alternative matched").as_str().to_owned()
    });
    text.replace('|', "\\|")
}

/// A default as one would write it in the TOML file.
fn shown_value(value: &Value) -> String {
    match value {
        Value::Null => "—".to_owned(),
        other => code(&toml_value(other)),
    }
}

fn toml_value(value: &Value) -> String {
    match value {
        Value::Null => "—".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        // A literal string where backslashes would otherwise double (a regex reads as written).
        Value::String(s) if s.contains('\\') && !s.contains('\'') && !s.contains('\n') => format!("'{s}'"),
        Value::String(s) => serde_json::to_string(s).expect("a string serializes"),
        Value::Array(items) => format!("[{}]", items.iter().map(toml_value).collect::<Vec<_>>().join(", ")),
        Value::Object(map) if map.is_empty() => "{}".to_owned(),
        Value::Object(map) => format!(
            "{{ {} }}",
            map.iter()
                .map(|(k, v)| format!("{} = {}", serde_json::to_string(k).unwrap(), toml_value(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// `text` as a Markdown code span inside a table cell.
fn code(text: &str) -> String {
    let text = text.replace('|', "\\|");
    if text.contains('`') {
        format!("`` {text} ``")
    } else {
        format!("`{text}`")
    }
}

fn env_var(key: &str) -> String {
    format!("SJ_{}", key.to_uppercase().replace('.', "__"))
}

/// Every struct deriving `Deserialize` under shared/src, and the table's rows from `Settings` down.
fn settings_rows() -> (Vec<Row>, BTreeMap<String, Vec<Struct>>) {
    let root = repo_root();
    let mut structs = BTreeMap::new();
    structs_under(&root.join("shared/src"), &root, &mut structs);
    assert!(structs.contains_key("Settings"), "no `struct Settings` found under shared/src");
    let settings = Settings::default();
    let defaults = serde_json::to_value(&settings).expect("the defaults serialize");
    let mut rows = Vec::new();
    let mut problems = Problems::default();
    walk(&structs, "Settings", "", &defaults, &settings, &mut rows, &mut problems);
    assert!(problems.0.is_empty(), "the settings cannot be documented:\n  {}", problems.0.join("\n  "));
    (rows, structs)
}

fn table(rows: &[Row]) -> String {
    let mut out =
        String::from("| key | environment variable | default | meaning |\n| --- | --- | --- | --- |\n");
    for row in rows {
        out.push_str(&format!(
            "| `{}` | `{}` | {} | {} |\n",
            row.key,
            env_var(&row.key),
            row.default,
            row.description
        ));
    }
    out
}

/// The key of a table row (`| `a.b` | …` → `a.b`).
fn row_key(line: &str) -> Option<&str> {
    line.strip_prefix("| `")?.split('`').next()
}

#[test]
fn the_configuration_table_matches_the_settings() {
    let (rows, _) = settings_rows();
    let generated = table(&rows);
    let path = repo_root().join(TABLE_FILE);
    let text = fs::read_to_string(&path).expect("docs/configuration.md exists");
    let (Some(start), Some(end)) = (text.find(START), text.find(END)) else {
        panic!("{TABLE_FILE} has no {START} … {END} block: add one where the table goes");
    };
    assert!(start < end, "{TABLE_FILE}: {END} comes before {START}");
    let block_start = start + START.len();
    let current = text[block_start..end].trim_matches('\n');
    let wanted = generated.trim_matches('\n');
    if current == wanted {
        return;
    }
    if std::env::var("SJ_BLESS").is_ok_and(|v| v == "1") {
        let updated = format!("{}\n{wanted}\n{}", &text[..block_start], &text[end..]);
        fs::write(&path, updated).expect("docs/configuration.md is writable");
        eprintln!("{TABLE_FILE}: configuration table rewritten ({} keys)", rows.len());
        return;
    }
    let old: BTreeMap<&str, &str> = current.lines().filter_map(|l| Some((row_key(l)?, l))).collect();
    let new: BTreeMap<&str, &str> = wanted.lines().filter_map(|l| Some((row_key(l)?, l))).collect();
    let mut diff = Vec::new();
    let keys: BTreeSet<&str> = old.keys().chain(new.keys()).copied().collect();
    for key in keys {
        match (old.get(key), new.get(key)) {
            (Some(o), Some(n)) if o == n => {}
            (Some(o), Some(n)) => diff.push(format!("{key}: differs\n  - {o}\n  + {n}")),
            (Some(o), None) => diff.push(format!("{key}: not a setting any more\n  - {o}")),
            (None, Some(n)) => diff.push(format!("{key}: missing from the table\n  + {n}")),
            (None, None) => unreachable!(),
        }
    }
    if diff.is_empty() {
        diff.push("the rows are the same but their order or the header differs".to_owned());
    }
    panic!(
        "{TABLE_FILE}: the configuration table is not the settings' (from their doc comments and \
         defaults):\n{}\n\nRun `SJ_BLESS=1 cargo test -p sj-shared --test config_table` to rewrite it \
         (then read the diff).",
        diff.join("\n")
    );
}

/// The files whose `section.key` mentions are checked.
fn doc_files(root: &Path) -> Vec<PathBuf> {
    let mut files = vec![root.join("README.md")];
    let mut docs: Vec<PathBuf> = fs::read_dir(root.join("docs"))
        .expect("docs/ exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

/// The inline code spans of a Markdown text outside fenced blocks, with their line numbers.
fn code_spans(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut fenced = false;
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") || line.trim_start().starts_with("~~~") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        let mut parts = line.split('`');
        parts.next();
        while let (Some(inside), Some(_)) = (parts.next(), parts.next()) {
            out.push((i + 1, inside.to_owned()));
        }
    }
    out
}

#[test]
fn every_key_named_in_the_docs_is_a_setting() {
    let (rows, _) = settings_rows();
    let keys: BTreeSet<String> = rows.iter().map(|r| r.key.clone()).collect();
    // A section is every prefix of a key; the first segment of a dotted key decides whether a
    // mention is about the settings at all (`mapping.csv` is; `sj.toml` is not).
    let mut sections = BTreeSet::new();
    for key in &keys {
        let parts: Vec<&str> = key.split('.').collect();
        for n in 1..parts.len() {
            sections.insert(parts[..n].join("."));
        }
    }
    let top: BTreeSet<&str> = sections.iter().filter(|s| !s.contains('.')).map(String::as_str).collect();
    let dotted = regex::Regex::new(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$").unwrap();
    let root = repo_root();
    let mut stale = Vec::new();
    let mut checked = 0;
    for file in doc_files(&root) {
        let text = fs::read_to_string(&file).expect("readable doc");
        for (line, span) in code_spans(&text) {
            // Tokens of the span: a key is delimited by anything but letters, digits, `_`, `.`
            // and `-` (so failure kinds such as `mapping.no-customer-name` stay whole and pass).
            let tokens = span.split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')));
            for token in tokens.map(|t| t.trim_end_matches('.')) {
                if !dotted.is_match(token) || !top.contains(token.split('.').next().unwrap_or("")) {
                    continue;
                }
                if keys.contains(token) || sections.contains(token) {
                    checked += 1;
                } else if !is_failure_kind(token) && !is_file_name(token) {
                    let file = file.strip_prefix(&root).unwrap_or(&file).display().to_string();
                    stale.push(format!("{file}:{line}: `{token}` is not a setting"));
                }
            }
        }
    }
    assert!(checked > 20, "only {checked} mentions of settings found: is the scan broken?");
    assert!(stale.is_empty(), "the docs name settings that do not exist:\n  {}", stale.join("\n  "));
}

/// A file name such as `alerts.yml` (asked only of what is not a key or section: `mapping.csv`
/// is a section).
fn is_file_name(token: &str) -> bool {
    const EXTENSIONS: &[&str] = &[
        "yml", "yaml", "json", "toml", "rs", "md", "csv", "xml", "txt", "sh", "log", "pem", "addr", "html",
        "sqlite3",
    ];
    let last = token.rsplit('.').next().unwrap_or("");
    EXTENSIONS.contains(&last)
}

/// Failure kinds (`jobber.throttled`, `parse.too-deep`…) share their first segment with a
/// section: they are not settings, and docs/errors.md is checked against them elsewhere.
fn is_failure_kind(token: &str) -> bool {
    sj_shared::failure::FailureKind::from_name(token).is_some()
}

#[test]
fn the_secret_keys_are_exactly_the_secret_settings_each_with_a_file() {
    let (rows, _) = settings_rows();
    let secrets: std::collections::BTreeSet<&str> =
        rows.iter().filter(|r| r.default == "(secret)").map(|r| r.key.as_str()).collect();
    let listed: std::collections::BTreeSet<&str> = sj_shared::config::SECRET_KEYS.iter().copied().collect();
    assert_eq!(
        secrets, listed,
        "SECRET_KEYS (shared/src/config/mod.rs) must list exactly the Option<Secret> settings: a secret missing \
         from it could be written in the config file"
    );
    for key in secrets {
        assert!(rows.iter().any(|r| r.key == format!("{key}_file")), "`{key}` has no `{key}_file` setting");
    }
}
