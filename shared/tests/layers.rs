//! The module graph of every crate of the workspace: no import cycle between the top-level
//! modules of a crate, and the layers of `sj-shared` as [`SHARED_LAYERS`] writes them.
//!
//! For each target (a library's `lib.rs`, a binary's `main.rs`) the test follows the `mod`
//! declarations from the root, parses every file with `syn` and records an edge `a -> b` between
//! two top-level modules for each path from a file of `a` that names `b`: `crate::b::…`, the
//! members of `use crate::{b, c::d}` groups, `super::…` resolved from where it is written (in
//! `crate::a::x`, `super::super::b` is `crate::b`), `self::…` in the root, and in the root itself
//! the bare module names (`use folder::run` in a `main.rs`). Paths inside macro calls
//! (`format!`, `tracing::info!`, …) are read from their tokens the same way. Items of the root
//! file (a function in `main.rs`) are the node `(root)`; the `mod` declarations themselves are no
//! edge. Comments and doc links are not code and do not count; `#[cfg(test)]` code does.
//!
//! Cycles are found with Tarjan's strongly connected components; each component of more than one
//! module fails the test with its cycles and the `file:line` of every edge in them. Run with
//! `cargo test -p sj-shared --test layers -- --nocapture` to print every crate's graph.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use proc_macro2::{TokenStream, TokenTree};
use syn::visit::Visit;

/// The crates checked, relative to the workspace.
const CRATES: &[&str] = &["shared", "poller", "worker", "alerter", "sjctl", "sandbox", "console"];

/// `sj-shared`'s layers: each top-level module and every module it may use (docs/architecture.md,
/// "Layers", draws them). A module missing from this table (the process helpers in
/// `runtime`) sits on top: it may use any module, and no module of the table may use it.
///
/// ```text
///   runtime, …  (startup helpers: anything below)
///   dead_letters                                       the parked documents: list, replay, purge
///   amqp    jobber    mapping                          transport and services
///   telemetry   store                                  infrastructure
///   config                                             the settings of every section
///   intake                                             document → message: parse, normalize, sanity, hash
///   saberis (parser, model)   message (wire types)     the two sides of the intake, unaware of each other
///   failure   address   template                       leaves
/// ```
const SHARED_LAYERS: &[(&str, &[&str])] = &[
    // Leaves: the failure kinds (names, classes, hints), the postal address, the title template.
    ("failure", &[]),
    ("address", &[]),
    ("template", &[]),
    ("ids", &[]),
    // How a rule names a catalog (the settings' markups and the catalog table share it).
    ("catalog_name", &[]),
    // The Saberis document, its parser and renderer: knows nothing of the message.
    ("saberis", &["failure", "address"]),
    // The messages on the wire (`sj.quote-request.v1`, `sj.rejected-document.v1`): knows nothing of the parser.
    ("message", &["address", "failure", "ids"]),
    // Document → message: parse, normalize, sanity rules, content hash, the rejected-document letter.
    ("intake", &["saberis", "message", "failure", "address", "ids"]),
    // The settings: each section's type, some defined by the module they configure.
    ("config", &["saberis", "intake", "template", "catalog_name"]),
    // The dealer's prices: the catalog table's rows, a document priced once. Pure.
    ("pricing", &["config", "message", "catalog_name"]),
    ("telemetry", &["config"]),
    ("store", &["config", "ids"]),
    // The transport carries messages: never the parser.
    // Health and metrics: what the services below report to.
    ("observe", &["config", "store"]),
    ("amqp", &["config", "message", "telemetry", "observe"]),
    ("jobber", &["config", "store", "telemetry", "failure", "address", "observe", "ids"]),
    (
        "mapping",
        &["config", "store", "failure", "address", "message", "observe", "ids", "pricing", "catalog_name"],
    ),
    // The parked dead letters as an operator handles them (`sjctl dlq`, the console's Parked page).
    ("dead_letters", &["amqp", "store", "failure", "message", "ids"]),
];

/// Cycles known and not yet removed, each the exact set of modules of its component: the test
/// fails if one grows, shrinks or disappears (then remove it here), and on any other. None today
/// (the sandbox's last one went when the router's state was split into `context::Shared` and
/// `jobber::Runtime`).
const KNOWN_CYCLES: &[(&str, &[&str])] = &[];

/// The node for items of the root file itself (`lib.rs`, `main.rs`).
const ROOT: &str = "(root)";

#[test]
fn no_import_cycles_between_the_modules_of_any_crate() {
    let workspace = workspace();
    let mut failures = String::new();
    let mut known_seen = BTreeSet::new();
    for krate in CRATES {
        for target in targets(&workspace.join(krate)) {
            let graph = Graph::of(&workspace, &target);
            println!("{}", graph.render());
            for (members, report) in graph.cycles() {
                let known = KNOWN_CYCLES.iter().position(|(name, known)| {
                    *name == graph.name && known.iter().copied().eq(members.iter().map(String::as_str))
                });
                match known {
                    Some(i) => {
                        known_seen.insert(i);
                        println!("KNOWN, not yet removed: {report}");
                    }
                    None => failures.push_str(&report),
                }
            }
        }
    }
    for (i, (name, members)) in KNOWN_CYCLES.iter().enumerate() {
        if !known_seen.contains(&i) {
            let _ = writeln!(
                failures,
                "{name}: the known cycle {members:?} is gone or changed: update KNOWN_CYCLES"
            );
        }
    }
    assert!(failures.is_empty(), "import cycles between top-level modules:\n{failures}");
}

#[test]
fn shared_keeps_its_layers() {
    let workspace = workspace();
    let target = targets(&workspace.join("shared")).into_iter().next().expect("shared has a library");
    let graph = Graph::of(&workspace, &target);
    let rules: BTreeMap<&str, &[&str]> = SHARED_LAYERS.iter().copied().collect();
    let mut broken = String::new();
    for ((from, to), places) in &graph.edges {
        let Some(allowed) = rules.get(from.as_str()) else { continue };
        if !allowed.contains(&to.as_str()) {
            let _ = writeln!(broken, "  {from} -> {to} (allowed: {allowed:?}): {}", places.join(", "));
        }
    }
    // A module the table names must exist, so that a rename does not silently drop its rule.
    for (module, allowed) in SHARED_LAYERS {
        for name in std::iter::once(module).chain(allowed.iter()) {
            if !graph.nodes.contains(*name) {
                let _ = writeln!(broken, "  SHARED_LAYERS names `{name}`, which is no module of sj-shared");
            }
        }
    }
    assert!(
        broken.is_empty(),
        "sj-shared breaks its layers (shared/tests/layers.rs, SHARED_LAYERS):\n{broken}"
    );
}

#[test]
fn paths_resolve_to_the_top_level_module_they_name() {
    let modules: BTreeSet<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
    let scope = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let path = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let resolve = |p: &[&str], s: &[&str]| resolve(&path(p), &scope(s), &modules);
    assert_eq!(resolve(&["crate", "b", "X"], &["a"]), Some("b".into()));
    assert_eq!(resolve(&["super", "b", "X"], &["a"]), Some("b".into()));
    assert_eq!(resolve(&["super", "X"], &["a", "x"]), Some("a".into()));
    assert_eq!(resolve(&["super", "super", "c"], &["a", "x"]), Some("c".into()));
    assert_eq!(resolve(&["super", "document_span"], &["a"]), Some(ROOT.into()));
    assert_eq!(resolve(&["b", "run"], &[]), Some("b".into()));
    assert_eq!(resolve(&["b", "run"], &["a"]), None, "a bare path outside the root is an external crate");
    assert_eq!(resolve(&["self", "c", "X"], &[]), Some("c".into()));
    assert_eq!(resolve(&["std", "fmt"], &[]), None);

    let file = syn::parse_file(
        "use crate::{b::{self, X}, c};\n\
         mod tests { use super::super::c::Y; }\n\
         fn f() { let _ = format!(\"{}\", crate::b::Z); }\n\
         /// [`crate::c`] is a doc link: no edge.\n\
         pub(crate) fn g() { let _ = Self::new(); }\n",
    )
    .unwrap();
    let mut visitor = Visitor::new(Path::new("a.rs"), vec!["a".into()], &modules);
    visitor.visit_file(&file);
    let found: BTreeSet<String> = visitor.found.iter().map(|(to, _)| to.clone()).collect();
    assert_eq!(found, ["b", "c"].iter().map(|s| s.to_string()).collect());
    let places = |module: &str| {
        visitor.found.iter().filter(|(to, _)| to == module).map(|(_, at)| at.as_str()).collect::<Vec<_>>()
    };
    assert_eq!(places("b"), ["a.rs:1", "a.rs:1", "a.rs:3"]);
    assert_eq!(places("c"), ["a.rs:1", "a.rs:2"]);
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("shared/ is in the workspace").to_path_buf()
}

/// The root files of a crate's targets: `src/lib.rs`, `src/main.rs`, `src/bin/*.rs`.
fn targets(krate: &Path) -> Vec<PathBuf> {
    let src = krate.join("src");
    let mut roots: Vec<PathBuf> =
        ["lib.rs", "main.rs"].iter().map(|f| src.join(f)).filter(|p| p.is_file()).collect();
    if let Ok(bins) = std::fs::read_dir(src.join("bin")) {
        let mut bins: Vec<PathBuf> = bins.flatten().map(|e| e.path()).filter(|p| p.is_file()).collect();
        bins.sort();
        roots.extend(bins);
    }
    assert!(!roots.is_empty(), "{} has no lib.rs nor main.rs", krate.display());
    roots
}

/// One file of a target and the module it is.
struct ModuleFile {
    path: PathBuf,
    module: Vec<String>,
    syntax: syn::File,
}

/// The top-level modules of one target and the edges between them, each with its places.
struct Graph {
    name: String,
    nodes: BTreeSet<String>,
    edges: BTreeMap<(String, String), Vec<String>>,
}

impl Graph {
    fn of(workspace: &Path, root: &Path) -> Self {
        let files = module_files(root);
        let mut nodes: BTreeSet<String> =
            files.iter().filter_map(|f| f.module.first().cloned()).collect::<BTreeSet<_>>();
        let modules = nodes.clone();
        let mut edges: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
        for file in &files {
            let shown = file.path.strip_prefix(workspace).unwrap_or(&file.path).to_path_buf();
            let mut visitor = Visitor::new(&shown, file.module.clone(), &modules);
            visitor.visit_file(&file.syntax);
            let from = file.module.first().cloned().unwrap_or_else(|| ROOT.to_owned());
            for (to, place) in visitor.found {
                if to != from {
                    if to == ROOT || from == ROOT {
                        nodes.insert(ROOT.to_owned());
                    }
                    let places = edges.entry((from.clone(), to)).or_default();
                    if !places.contains(&place) {
                        places.push(place);
                    }
                }
            }
        }
        let name = root.strip_prefix(workspace).unwrap_or(root).display().to_string();
        Self { name, nodes, edges }
    }

    fn render(&self) -> String {
        let mut out = format!("{}: {} modules, {} edges\n", self.name, self.nodes.len(), self.edges.len());
        for ((from, to), places) in &self.edges {
            let _ = writeln!(out, "  {from} -> {to}  ({})", places.join(", "));
        }
        out
    }

    /// Each strongly connected component of more than one module, with its cycles and the places
    /// of the edges that make them.
    fn cycles(&self) -> Vec<(Vec<String>, String)> {
        let mut reports = Vec::new();
        for component in tarjan(&self.nodes, &self.edges).into_iter().filter(|c| c.len() > 1) {
            let members: BTreeSet<&String> = component.iter().collect();
            let mut report =
                format!("{}: {} modules in a cycle: {}\n", self.name, component.len(), component.join(", "));
            for cycle in elementary_cycles(&members, &self.edges, 20) {
                let _ = writeln!(report, "  cycle: {}", cycle.join(" -> "));
            }
            for ((from, to), places) in &self.edges {
                if members.contains(from) && members.contains(to) {
                    let _ = writeln!(report, "    {from} -> {to}: {}", places.join(", "));
                }
            }
            reports.push((component, report));
        }
        reports
    }
}

/// Every file of the target rooted at `root`, found by following its `mod` declarations.
fn module_files(root: &Path) -> Vec<ModuleFile> {
    let mut files = Vec::new();
    let mut pending = vec![(root.to_path_buf(), Vec::<String>::new(), true)];
    while let Some((path, module, owns_dir)) = pending.pop() {
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let syntax = syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        // Where the children of this file live: beside a root or a mod.rs, else in a folder named
        // after the file (`telemetry.rs` → `telemetry/otlp.rs`).
        let dir = if owns_dir {
            path.parent().expect("a file has a folder").to_path_buf()
        } else {
            path.with_extension("")
        };
        declared(&syntax.items, &dir, &path, &module, &mut pending);
        files.push(ModuleFile { path, module, syntax });
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files
}

/// Queues the files of the `mod x;` declarations among `items` (inline modules searched too).
fn declared(
    items: &[syn::Item],
    dir: &Path,
    file: &Path,
    module: &[String],
    pending: &mut Vec<(PathBuf, Vec<String>, bool)>,
) {
    for item in items {
        let syn::Item::Mod(m) = item else { continue };
        let name = m.ident.to_string();
        let mut child = module.to_vec();
        child.push(name.clone());
        if let Some((_, inline)) = &m.content {
            declared(inline, &dir.join(&name), file, &child, pending);
            continue;
        }
        let explicit = m.attrs.iter().find(|a| a.path().is_ident("path")).map(|a| match &a.meta {
            syn::Meta::NameValue(syn::MetaNameValue {
                value: syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. }),
                ..
            }) => file.parent().expect("a file has a folder").join(s.value()),
            _ => panic!("{}: unreadable #[path] on mod {name}", file.display()),
        });
        let (path, owns_dir) = match explicit {
            Some(path) => {
                let owns = path.file_name().is_some_and(|n| n == "mod.rs");
                (path, owns)
            }
            None if dir.join(format!("{name}.rs")).is_file() => (dir.join(format!("{name}.rs")), false),
            None if dir.join(&name).join("mod.rs").is_file() => (dir.join(&name).join("mod.rs"), true),
            None => panic!("{}: no file for `mod {name};` in {}", file.display(), dir.display()),
        };
        pending.push((path, child, owns_dir));
    }
}

/// Collects, for one file, the top-level module each path names and where.
struct Visitor<'a> {
    file: &'a Path,
    /// The module of the scope being visited (grows inside inline `mod x { … }`).
    scope: Vec<String>,
    modules: &'a BTreeSet<String>,
    found: Vec<(String, String)>,
}

impl<'a> Visitor<'a> {
    fn new(file: &'a Path, scope: Vec<String>, modules: &'a BTreeSet<String>) -> Self {
        Self { file, scope, modules, found: Vec::new() }
    }

    fn record(&mut self, segments: &[String], line: usize) {
        if let Some(to) = resolve(segments, &self.scope, self.modules) {
            self.found.push((to, format!("{}:{line}", self.file.display())));
        }
    }

    /// Every path of a `use` tree, with the line of its last segment.
    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => {
                let line = n.ident.span().start().line;
                if n.ident == "self" {
                    self.record(prefix, line);
                } else {
                    prefix.push(n.ident.to_string());
                    self.record(prefix, line);
                    prefix.pop();
                }
            }
            syn::UseTree::Rename(r) => {
                prefix.push(r.ident.to_string());
                self.record(prefix, r.ident.span().start().line);
                prefix.pop();
            }
            syn::UseTree::Glob(g) => {
                let line = g.star_token.spans[0].start().line;
                self.record(prefix, line);
            }
            syn::UseTree::Group(g) => {
                for tree in &g.items {
                    self.use_tree(prefix, tree);
                }
            }
        }
    }

    /// Paths written inside a macro call: `crate :: a :: …` sequences of its tokens.
    fn tokens(&mut self, tokens: TokenStream) {
        let tokens: Vec<TokenTree> = tokens.into_iter().collect();
        let mut i = 0;
        while i < tokens.len() {
            match &tokens[i] {
                TokenTree::Group(group) => self.tokens(group.stream()),
                TokenTree::Ident(ident) => {
                    let after_dollar =
                        i > 0 && matches!(&tokens[i - 1], TokenTree::Punct(p) if p.as_char() == '$');
                    let after_colons = i > 1 && is_colons(&tokens[i - 2], &tokens[i - 1]);
                    if !after_dollar && !after_colons {
                        let mut segments = vec![ident.to_string()];
                        let mut j = i + 1;
                        while j + 2 < tokens.len() && is_colons(&tokens[j], &tokens[j + 1]) {
                            let TokenTree::Ident(next) = &tokens[j + 2] else { break };
                            segments.push(next.to_string());
                            j += 3;
                        }
                        if segments.len() > 1 {
                            self.record(&segments, ident.span().start().line);
                        }
                    }
                }
                _ => {}
            }
            i += 1;
        }
    }
}

fn is_colons(a: &TokenTree, b: &TokenTree) -> bool {
    matches!((a, b), (TokenTree::Punct(a), TokenTree::Punct(b)) if a.as_char() == ':' && b.as_char() == ':')
}

impl<'ast> Visit<'ast> for Visitor<'_> {
    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        // A `mod x;` is visited as a file of its own; an inline `mod x { … }` is a scope inside this one.
        if let Some((_, items)) = &m.content {
            self.scope.push(m.ident.to_string());
            for item in items {
                self.visit_item(item);
            }
            self.scope.pop();
        }
    }

    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        self.use_tree(&mut Vec::new(), &u.tree);
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        if path.leading_colon.is_none() && segments.len() > 1 {
            let line = path.segments[0].ident.span().start().line;
            self.record(&segments, line);
        }
        syn::visit::visit_path(self, path);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.visit_path(&mac.path);
        self.tokens(mac.tokens.clone());
    }

    /// `pub(crate)`, `pub(super)`, `pub(in crate::a)` say who may see an item, not what it uses.
    fn visit_visibility(&mut self, _: &'ast syn::Visibility) {}

    /// Doc comments and other attributes are not code.
    fn visit_attribute(&mut self, _: &'ast syn::Attribute) {}
}

/// The top-level module (or [`ROOT`]) a path names, written in module `scope`; `None` for a
/// path that leaves the crate or stays in a local name.
fn resolve(segments: &[String], scope: &[String], modules: &BTreeSet<String>) -> Option<String> {
    let first = segments.first()?;
    let absolute: Vec<&String> = match first.as_str() {
        "crate" => segments[1..].iter().collect(),
        "super" => {
            let ups = segments.iter().take_while(|s| *s == "super").count();
            let base = scope.len().checked_sub(ups)?;
            scope[..base].iter().chain(&segments[ups..]).collect()
        }
        "self" => scope.iter().chain(&segments[1..]).collect(),
        _ if scope.is_empty() && modules.contains(first) => segments.iter().collect(),
        _ => return None,
    };
    match absolute.first() {
        Some(top) if modules.contains(*top) => Some((*top).clone()),
        // An item of the root file (or the root itself, `use super::*` from a top-level module).
        _ => Some(ROOT.to_owned()),
    }
}

/// Tarjan's strongly connected components, each sorted.
fn tarjan(nodes: &BTreeSet<String>, edges: &BTreeMap<(String, String), Vec<String>>) -> Vec<Vec<String>> {
    struct State<'g> {
        next: BTreeMap<&'g str, Vec<&'g str>>,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        counter: usize,
        components: Vec<Vec<String>>,
    }
    fn connect<'g>(v: &'g str, s: &mut State<'g>) {
        s.index.insert(v, s.counter);
        s.low.insert(v, s.counter);
        s.counter += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.next.get(v).cloned().unwrap_or_default() {
            if !s.index.contains_key(w) {
                connect(w, s);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.to_owned());
                if w == v {
                    break;
                }
            }
            component.sort();
            s.components.push(component);
        }
    }
    let mut next: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (from, to) in edges.keys() {
        next.entry(from).or_default().push(to);
    }
    let mut state = State {
        next,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        counter: 0,
        components: Vec::new(),
    };
    for v in nodes {
        if !state.index.contains_key(v.as_str()) {
            connect(v, &mut state);
        }
    }
    state.components
}

/// The elementary cycles inside one component (each once, starting at its smallest module), at
/// most `limit` of them.
fn elementary_cycles(
    members: &BTreeSet<&String>,
    edges: &BTreeMap<(String, String), Vec<String>>,
    limit: usize,
) -> Vec<Vec<String>> {
    fn walk(
        start: &str,
        path: &mut Vec<String>,
        members: &BTreeSet<&String>,
        edges: &BTreeMap<(String, String), Vec<String>>,
        out: &mut Vec<Vec<String>>,
        limit: usize,
    ) {
        let last = path.last().expect("the path starts somewhere").clone();
        for (from, to) in edges.keys() {
            if out.len() >= limit {
                return;
            }
            if *from != last || !members.contains(to) || to.as_str() < start {
                continue;
            }
            if to == start {
                let mut cycle = path.clone();
                cycle.push(start.to_owned());
                out.push(cycle);
            } else if !path.contains(to) {
                path.push(to.clone());
                walk(start, path, members, edges, out, limit);
                path.pop();
            }
        }
    }
    let mut out = Vec::new();
    for start in members {
        walk(start, &mut vec![(*start).clone()], members, edges, &mut out, limit);
    }
    out
}
