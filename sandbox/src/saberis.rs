//! The SaberisConnect stand-in, at `/saberis/api/v1/...`.
//!
//! - `GET token?authToken=` → a session token as a JSON string (double-quoted, as the real service
//!   sometimes sends it; `saberis.quote_session_token = false` sends it bare);
//! - `GET export` (bearer) → `[{"guid": …}, …]`; documents stay listed after they are fetched,
//!   as observed in the real API;
//! - `GET export/json/{guid}`, `GET export/xml/{guid}` (bearer) → the document.
//!
//! An expired or unknown session token gets 401. Documents come from `--saberis-docs DIR` at
//! start and from `POST /_admin/saberis/documents`. A JSON document is also served as XML
//! (converted element for element, which the format defines as equivalent); an XML-only document
//! has no JSON form (404), since XML → JSON is not mechanical (a single `Item` is an object in
//! JSON, several a list).

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use axum::extract::FromRef;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::context::Shared;
use crate::state::fresh_token;
use crate::state::{SaberisDocument, Store};

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<Shared>: FromRef<S>,
{
    Router::new()
        .route("/saberis/api/v1/token", get(token))
        .route("/saberis/api/v1/export", get(list))
        .route("/saberis/api/v1/export/json/{guid}", get(document_json))
        .route("/saberis/api/v1/export/xml/{guid}", get(document_xml))
}

#[derive(serde::Deserialize)]
struct TokenParams {
    #[serde(rename = "authToken")]
    auth_token: Option<String>,
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        json!({"message": "Authorization has been denied for this request."}).to_string(),
    )
        .into_response()
}

async fn token(State(shared): State<Arc<Shared>>, Query(params): Query<TokenParams>) -> Response {
    if params.auth_token.as_deref() != Some(shared.config.saberis.auth_token.as_str()) {
        return unauthorized();
    }
    let expires = shared.clock.now_ms() + shared.config.saberis.session_lifetime_secs as i64 * 1000;
    let session = shared.write(|store| {
        let token = fresh_token(store, "saberis");
        store.saberis.sessions.insert(token.clone(), expires);
        token
    });
    let body = if shared.config.saberis.quote_session_token { format!("\"{session}\"") } else { session };
    (StatusCode::OK, [("content-type", "application/json; charset=utf-8")], body).into_response()
}

fn authorized(shared: &Shared, headers: &HeaderMap) -> bool {
    let now = shared.clock.now_ms();
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(|t| t.trim().trim_matches('"').to_string());
    token.is_some_and(|t| shared.read(|store| store.saberis.sessions.get(&t).is_some_and(|exp| *exp > now)))
}

async fn list(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if !authorized(&shared, &headers) {
        return unauthorized();
    }
    let entries: Vec<_> =
        shared.read(|store| store.saberis.documents.iter().map(|d| json!({"guid": d.guid})).collect());
    axum::Json(entries).into_response()
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, json!({"message": "Document not found."}).to_string()).into_response()
}

async fn document_json(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    UrlPath(guid): UrlPath<String>,
) -> Response {
    if !authorized(&shared, &headers) {
        return unauthorized();
    }
    let found = shared.write(|store| {
        let doc = store.saberis.documents.iter_mut().find(|d| d.guid.eq_ignore_ascii_case(&guid))?;
        let json = doc.json.clone()?;
        doc.fetch_count += 1;
        Some(json)
    });
    match found {
        Some(json) => {
            (StatusCode::OK, [("content-type", "application/json; charset=utf-8")], json).into_response()
        }
        None => not_found(),
    }
}

async fn document_xml(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    UrlPath(guid): UrlPath<String>,
) -> Response {
    if !authorized(&shared, &headers) {
        return unauthorized();
    }
    let found = shared.write(|store| {
        let doc = store.saberis.documents.iter_mut().find(|d| d.guid.eq_ignore_ascii_case(&guid))?;
        let xml = match (&doc.xml, &doc.json) {
            (Some(xml), _) => xml.clone(),
            (None, Some(json)) => json_to_xml(json).ok()?,
            (None, None) => return None,
        };
        doc.fetch_count += 1;
        Some(xml)
    });
    match found {
        Some(xml) => {
            (StatusCode::OK, [("content-type", "application/xml; charset=utf-8")], xml).into_response()
        }
        None => not_found(),
    }
}

// ---------------------------------------------------------------------------------------------
// Documents

/// A GUID for a document that came without one: derived from its content, so reloading the same
/// folder gives the same GUIDs.
fn content_guid(content: &str) -> String {
    let h: String = Sha256::digest(content.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

fn looks_like_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
        && parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The kinds of document body the admin API and the folder loader accept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    Json,
    Xml,
}

/// Adds a document (or a second form of an existing one); returns its GUID.
pub fn add_document(
    store: &mut Store,
    guid: Option<String>,
    source: &str,
    form: Form,
    body: String,
) -> Result<String, String> {
    if form == Form::Json {
        serde_json::from_str::<serde_json::Value>(&body).map_err(|e| format!("not JSON: {e}"))?;
    }
    let guid = guid.unwrap_or_else(|| content_guid(&body)).to_lowercase();
    let index = match store.saberis.documents.iter().position(|d| d.guid == guid) {
        Some(i) => i,
        None => {
            let doc = SaberisDocument {
                guid: guid.clone(),
                source: source.to_string(),
                json: None,
                xml: None,
                fetch_count: 0,
            };
            store.saberis.documents.push(doc);
            store.saberis.documents.len() - 1
        }
    };
    let doc = &mut store.saberis.documents[index];
    match form {
        Form::Json => doc.json = Some(body),
        Form::Xml => doc.xml = Some(body),
    }
    Ok(guid)
}

/// Loads `*.json` and `*.xml` from a folder, in name order. A file named by a GUID keeps it; a
/// `.json` and an `.xml` with the same stem are one document in two forms.
pub fn load_folder(store: &mut Store, dir: &Path) -> anyhow::Result<usize> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)?.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    let mut loaded = 0;
    for path in paths {
        let form = match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("json") => Form::Json,
            Some("xml") => Form::Xml,
            _ => continue,
        };
        let bytes = std::fs::read(&path)?;
        // Text is kept as is; a non-UTF-8 file (e.g. windows-1252) is served with replacement
        // characters, which sandbox/README.md notes.
        let body = String::from_utf8_lossy(&bytes).into_owned();
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        let guid = if looks_like_guid(stem) {
            stem.to_string()
        } else {
            // Two forms of one non-GUID-named document share a GUID derived from the name.
            content_guid(stem)
        };
        let name = path.file_name().and_then(|s| s.to_str()).unwrap_or_default();
        add_document(store, Some(guid), name, form, body)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        loaded += 1;
    }
    Ok(loaded)
}

/// A JSON tree with object keys in document order (serde_json's `Value` sorts them).
enum Node {
    Null,
    Text(String),
    List(Vec<Node>),
    Object(Vec<(String, Node)>),
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NodeVisitor;
        impl<'de> Visitor<'de> for NodeVisitor {
            type Value = Node;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_unit<E>(self) -> Result<Node, E> {
                Ok(Node::Null)
            }
            fn visit_none<E>(self) -> Result<Node, E> {
                Ok(Node::Null)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
                Ok(Node::Text(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
                Ok(Node::Text(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
                Ok(Node::Text(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
                Ok(Node::Text(v.to_string()))
            }
            fn visit_str<E>(self, v: &str) -> Result<Node, E> {
                Ok(Node::Text(v.to_string()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Node::List(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
                let mut entries = Vec::new();
                while let Some((key, value)) = map.next_entry::<String, Node>()? {
                    entries.push((key, value));
                }
                Ok(Node::Object(entries))
            }
        }
        deserializer.deserialize_any(NodeVisitor)
    }
}

/// Escapes element text as the real exports do: quotes stay literal (inch marks are common).
fn escape(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
}

fn element(name: &str, node: &Node, out: &mut String) {
    match node {
        // A list is the element repeated (`"Item": [...]` → `<Item>…</Item><Item>…</Item>`).
        Node::List(items) => items.iter().for_each(|item| element(name, item, out)),
        Node::Null => {
            out.push('<');
            out.push_str(name);
            out.push_str("/>");
        }
        Node::Text(text) => {
            out.push_str(&format!("<{name}>"));
            escape(text, out);
            out.push_str(&format!("</{name}>"));
        }
        Node::Object(entries) => {
            out.push_str(&format!("<{name}>"));
            for (key, value) in entries {
                element(key, value, out);
            }
            out.push_str(&format!("</{name}>"));
        }
    }
}

/// Converts SaberisConnect's JSON form to the XML form: no declaration, no namespace, compact,
/// every value an element, `null` an empty element.
pub fn json_to_xml(json: &str) -> Result<String, String> {
    let root: Node = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let Node::Object(entries) = root else { return Err("the document is not a JSON object".into()) };
    let mut out = String::new();
    for (key, value) in &entries {
        element(key, value, &mut out);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_element_for_element_in_document_order() {
        let json = r#"{"SaberisOrderDocument":{"DocumentVersion":"1.0","Order":{"Source":"Simpson","Date":"2025.07.08",
            "Group":{"GroupType":null,"Item":[{"Type":"Text","Description":"W=27 \" H=34"},{"Type":"Product","Description":"B&B"}]}}}}"#;
        assert_eq!(
            json_to_xml(json).unwrap(),
            "<SaberisOrderDocument><DocumentVersion>1.0</DocumentVersion><Order><Source>Simpson</Source><Date>2025.07.08</Date>\
             <Group><GroupType/><Item><Type>Text</Type><Description>W=27 \" H=34</Description></Item>\
             <Item><Type>Product</Type><Description>B&amp;B</Description></Item></Group></Order></SaberisOrderDocument>"
        );
    }

    #[test]
    fn guids_are_kept_or_derived_stably() {
        assert!(looks_like_guid("52c550d2-a0f3-4bfa-a445-c96589672971"));
        assert!(!looks_like_guid("sample_order_1"));
        assert_eq!(content_guid("x"), content_guid("x"));
        assert!(looks_like_guid(&content_guid("x")));
    }
}
