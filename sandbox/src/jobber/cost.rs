//! Jobber's query cost, computed from the query before it runs (requested) and from the response
//! after (actual).
//!
//! Jobber's documented rules: every field costs 1; `edges`, `nodes` and `node` cost 0; a
//! connection costs its `first` (or `last`) times its fields, or 100 times when neither is given;
//! filters and sorts cost nothing. Where the rules are silent the sandbox decides, as documented
//! in sandbox/README.md: the multiplier applies to what is selected under `edges`/`nodes` (one page of
//! items), while the connection field itself, `pageInfo` and `totalCount` are counted once; the
//! actual cost counts the fields present in the response (a list counts each element), capped at
//! the requested cost.

use std::collections::HashMap;

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, Selection, SelectionSet, TypeKind, TypeSystemDefinition,
};
use async_graphql::{Name, Value, Variables};

/// Fields that are free: the plumbing of a connection.
const FREE_FIELDS: [&str; 3] = ["edges", "nodes", "node"];

/// Return types of every field, read from the served schema's SDL.
pub struct CostModel {
    /// type name → field name → named return type.
    fields: HashMap<String, HashMap<String, String>>,
}

impl CostModel {
    pub fn from_sdl(sdl: &str) -> Self {
        let mut fields: HashMap<String, HashMap<String, String>> = HashMap::new();
        let document = async_graphql::parser::parse_schema(sdl).expect("the served SDL parses");
        for definition in document.definitions {
            let TypeSystemDefinition::Type(ty) = definition else { continue };
            let ty = ty.node;
            let members = match &ty.kind {
                TypeKind::Object(object) => &object.fields,
                TypeKind::Interface(interface) => &interface.fields,
                _ => continue,
            };
            let entry = fields.entry(ty.name.node.to_string()).or_default();
            for field in members {
                let field = &field.node;
                entry.insert(field.name.node.to_string(), named_type(&field.ty.node.to_string()));
            }
        }
        Self { fields }
    }

    /// The requested cost of the chosen operation (0 if it cannot be found; validation will then
    /// refuse the query anyway).
    pub fn requested(
        &self,
        document: &ExecutableDocument,
        operation_name: Option<&str>,
        variables: &Variables,
    ) -> u64 {
        let operation = match (&document.operations, operation_name) {
            (DocumentOperations::Single(op), _) => Some(op),
            (DocumentOperations::Multiple(ops), Some(name)) => ops.get(&Name::new(name)),
            (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next(),
            _ => None,
        };
        let Some(operation) = operation else { return 0 };
        let root = match operation.node.ty {
            async_graphql::parser::types::OperationType::Query => "Query",
            async_graphql::parser::types::OperationType::Mutation => "Mutation",
            async_graphql::parser::types::OperationType::Subscription => "Subscription",
        };
        let walk = Walk { model: self, document, variables };
        walk.set(Some(root), &operation.node.selection_set.node, 0)
    }
}

/// `[Client!]!` → `Client`.
fn named_type(ty: &str) -> String {
    ty.trim_matches(|c| c == '[' || c == ']' || c == '!').to_string()
}

struct Walk<'a> {
    model: &'a CostModel,
    document: &'a ExecutableDocument,
    variables: &'a Variables,
}

/// Fragments can nest; a depth bound keeps a (validation-failing) cycle from looping.
const MAX_DEPTH: usize = 64;

impl Walk<'_> {
    fn set(&self, ty: Option<&str>, set: &SelectionSet, depth: usize) -> u64 {
        let (per_item, once) = self.split(ty, set, depth);
        per_item + once
    }

    /// Cost of a selection set, split into what lies under `edges`/`nodes` and the rest.
    fn split(&self, ty: Option<&str>, set: &SelectionSet, depth: usize) -> (u64, u64) {
        if depth > MAX_DEPTH {
            return (0, 0);
        }
        let mut per_item = 0;
        let mut once = 0;
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    let name = field.name.node.as_str();
                    if name == "__typename" {
                        continue;
                    }
                    let cost = self.field(ty, field, depth);
                    if name == "edges" || name == "nodes" {
                        per_item += cost;
                    } else {
                        once += cost;
                    }
                }
                Selection::FragmentSpread(spread) => {
                    if let Some(fragment) = self.document.fragments.get(&spread.node.fragment_name.node) {
                        let on = fragment.node.type_condition.node.on.node.to_string();
                        let (p, o) = self.split(Some(&on), &fragment.node.selection_set.node, depth + 1);
                        per_item += p;
                        once += o;
                    }
                }
                Selection::InlineFragment(inline) => {
                    let on = inline.node.type_condition.as_ref().map(|c| c.node.on.node.to_string());
                    let (p, o) = self.split(on.as_deref().or(ty), &inline.node.selection_set.node, depth + 1);
                    per_item += p;
                    once += o;
                }
            }
        }
        (per_item, once)
    }

    fn field(&self, ty: Option<&str>, field: &async_graphql::parser::types::Field, depth: usize) -> u64 {
        let name = field.name.node.as_str();
        let own = if FREE_FIELDS.contains(&name) { 0 } else { 1 };
        let returns = ty.and_then(|t| self.model.fields.get(t)).and_then(|f| f.get(name)).map(String::as_str);
        let children = &field.selection_set.node;
        if returns.is_some_and(|r| r.ends_with("Connection")) {
            let size = self.page_size(field);
            let (per_item, once) = self.split(returns, children, depth + 1);
            own + size * per_item + once
        } else {
            own + self.set(returns, children, depth + 1)
        }
    }

    /// `first`, else `last`, else 100; literal or variable.
    fn page_size(&self, field: &async_graphql::parser::types::Field) -> u64 {
        for wanted in ["first", "last"] {
            let value = field.get_argument(wanted).and_then(|v| {
                v.node.clone().into_const_with(|var| self.variables.get(&var).cloned().ok_or(())).ok()
            });
            if let Some(async_graphql::Value::Number(n)) = value {
                return n.as_u64().unwrap_or(0);
            }
        }
        100
    }
}

/// The actual cost: the fields present in the response data.
pub fn actual(data: &Value) -> u64 {
    match data {
        Value::Object(map) => map
            .iter()
            .map(|(key, value)| {
                let own = u64::from(!FREE_FIELDS.contains(&key.as_str()) && key.as_str() != "__typename");
                own + actual(value)
            })
            .sum(),
        Value::List(items) => items.iter().map(actual).sum(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cost(query: &str) -> u64 {
        let model = CostModel::from_sdl(&crate::jobber::schema::build().sdl());
        let doc = async_graphql::parser::parse_query(query).unwrap();
        model.requested(&doc, None, &Variables::default())
    }

    #[test]
    fn fields_cost_one_and_plumbing_nothing() {
        assert_eq!(cost("{ client(id: \"x\") { id name } }"), 3);
        // clients 1 + 10 × (id + name) + pageInfo 1 + hasNextPage 1 + totalCount 1
        assert_eq!(
            cost("{ clients(first: 10) { nodes { id name } pageInfo { hasNextPage } totalCount } }"),
            24
        );
        // No first/last: × 100.
        assert_eq!(cost("{ clients { edges { node { id } } } }"), 101);
        // Nested connections multiply.
        assert_eq!(
            cost("{ quotes(first: 5) { nodes { id lineItems(first: 20) { nodes { name } } } } }"),
            1 + 5 * (1 + 1 + 20)
        );
    }

    #[test]
    fn fragments_count_like_inline_fields() {
        let q = "query { clients(first: 2) { nodes { ...F } } } fragment F on Client { id name emails { address } }";
        assert_eq!(cost(q), 1 + 2 * 4);
    }
}
