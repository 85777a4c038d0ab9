//! Every relative link in the project's Markdown (README.md, CONTRIBUTING.md, docs/*.md,
//! sandbox/README.md) points to a file that exists, and every `#anchor` to a heading of that file
//! (GitHub's slugs). Links with a scheme (`https://…`, `mailto:`) are not followed.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("shared/ has a parent").to_path_buf()
}

/// The Markdown files whose links are checked, relative to the repository's root.
fn checked_files(root: &Path) -> Vec<PathBuf> {
    let mut files = vec![
        PathBuf::from("README.md"),
        PathBuf::from("CONTRIBUTING.md"),
        PathBuf::from("sandbox/README.md"),
    ];
    let mut docs: Vec<PathBuf> = fs::read_dir(root.join("docs"))
        .expect("docs/ exists")
        .map(|e| e.expect("docs/ is readable").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .map(|p| p.strip_prefix(root).expect("under the root").to_path_buf())
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

/// The lines outside fenced code blocks, with their 1-based numbers.
fn prose_lines(text: &str) -> Vec<(usize, &str)> {
    let mut fence: Option<&str> = None;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        let marker = if t.starts_with("```") {
            Some("```")
        } else if t.starts_with("~~~") {
            Some("~~~")
        } else {
            None
        };
        match (fence, marker) {
            (None, Some(m)) => fence = Some(m),
            (Some(f), Some(m)) if f == m => fence = None,
            (None, None) => out.push((i + 1, line)),
            _ => {}
        }
    }
    out
}

/// The line without its inline code spans (a link written in backticks is not a link).
fn without_code_spans(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(start) = rest.find('`') {
        out.push_str(&rest[..start]);
        let ticks = rest[start..].chars().take_while(|&c| c == '`').count();
        let after = &rest[start + ticks..];
        match after.find(&"`".repeat(ticks)) {
            Some(end) => rest = &after[end + ticks..],
            None => {
                out.push_str(&rest[start..]);
                return out;
            }
        }
    }
    out.push_str(rest);
    out
}

/// GitHub's anchor for a heading: lowercase, punctuation dropped (except '-' and '_'), each space
/// a '-'.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// Every anchor of a Markdown text (a repeated heading gets `-1`, `-2`… as on GitHub).
fn anchors(text: &str) -> Vec<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::new();
    for (_, line) in prose_lines(text) {
        let hashes = line.chars().take_while(|&c| c == '#').count();
        if hashes == 0 || hashes > 6 || !line[hashes..].starts_with(' ') {
            continue;
        }
        let base = slug(line[hashes..].trim().trim_end_matches('#'));
        let n = seen.entry(base.clone()).or_insert(0);
        out.push(if *n == 0 { base.clone() } else { format!("{base}-{n}") });
        *n += 1;
    }
    out
}

/// The link targets of a Markdown text, with their line numbers: inline links and images
/// (`[text](target "title")`) and reference definitions (`[name]: target`).
fn links(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (n, line) in prose_lines(text) {
        let line = without_code_spans(line);
        let trimmed = line.trim_start();
        if trimmed.starts_with('[') {
            if let Some(close) = trimmed.find("]:") {
                if let Some(target) = trimmed[close + 2..].split_whitespace().next() {
                    out.push((n, target.trim_matches(|c| c == '<' || c == '>').to_string()));
                }
                continue;
            }
        }
        let mut rest = line.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let Some(end) = after.find(')') else { break };
            let target = after[..end].split_whitespace().next().unwrap_or("");
            out.push((n, target.trim_matches(|c| c == '<' || c == '>').to_string()));
            rest = &after[end..];
        }
    }
    out
}

/// The broken links of one file (`file:line: target: why`). `read` gives a file's text, `None`
/// when it does not exist; `exists` says whether a path (a folder too) exists.
fn broken_links(
    file: &Path,
    text: &str,
    read: &dyn Fn(&Path) -> Option<String>,
    exists: &dyn Fn(&Path) -> bool,
) -> Vec<String> {
    let mut broken = Vec::new();
    for (line, target) in links(text) {
        if target.is_empty() || target.contains("://") || target.starts_with("mailto:") {
            continue;
        }
        let (path, anchor) = match target.split_once('#') {
            Some((p, a)) => (p, Some(a)),
            None => (target.as_str(), None),
        };
        let resolved = if path.is_empty() {
            file.to_path_buf()
        } else {
            normalize(&file.parent().unwrap_or(Path::new("")).join(path))
        };
        let place = format!("{}:{line}: {target}", file.display());
        if resolved.as_os_str().is_empty() || resolved.starts_with("..") || !exists(&resolved) {
            broken.push(format!("{place}: no file {}", resolved.display()));
            continue;
        }
        if let Some(anchor) = anchor {
            if resolved.extension().is_some_and(|e| e == "md") {
                let target_text = if path.is_empty() { Some(text.to_string()) } else { read(&resolved) };
                let found = target_text.map(|t| anchors(&t)).unwrap_or_default();
                if !found.iter().any(|a| a == anchor) {
                    broken.push(format!(
                        "{place}: no heading with anchor #{anchor} in {} (anchors: {})",
                        resolved.display(),
                        found.join(", ")
                    ));
                }
            }
        }
    }
    broken
}

/// `a/b/../c` → `a/c`, `./a` → `a` (a path above the root keeps its leading `..`).
fn normalize(path: &Path) -> PathBuf {
    let mut parts: Vec<String> = Vec::new();
    for part in path.components() {
        match part.as_os_str().to_str().unwrap_or("") {
            "." => {}
            ".." if parts.last().is_some_and(|p| p != "..") => {
                parts.pop();
            }
            other => parts.push(other.to_string()),
        }
    }
    parts.iter().collect()
}

#[test]
fn every_relative_link_in_the_docs_points_to_an_existing_file_and_heading() {
    let root = repo_root();
    let read = |p: &Path| fs::read_to_string(root.join(p)).ok();
    let exists = |p: &Path| root.join(p).exists();
    let mut broken = Vec::new();
    let mut checked = 0;
    for file in checked_files(&root) {
        let text = read(&file).unwrap_or_else(|| panic!("{} is missing", file.display()));
        checked += links(&text).len();
        broken.extend(broken_links(&file, &text, &read, &exists));
    }
    assert!(checked > 20, "only {checked} links found: is the link parser broken?");
    assert!(broken.is_empty(), "broken links in the documentation:\n{}", broken.join("\n"));
}

#[test]
fn the_checker_catches_a_missing_file_and_a_missing_heading() {
    let docs: HashMap<&str, &str> = HashMap::from([
        ("README.md", "# T\n\n## Quick start\n\n[ok](docs/a.md#the-pipeline) [gone](docs/b.md) [bad](docs/a.md#nope)\n[self](#quick-start) `[code](nowhere.md)`\n```\n[fenced](nowhere.md)\n```\n[web](https://example.com/x.md)\n"),
        ("docs/a.md", "# A\n\n## The pipeline\n\n### Tracing (OpenTelemetry)\n\n[up](../README.md#quick-start) [t](#tracing-opentelemetry)\n"),
    ]);
    let read = |p: &Path| docs.get(p.to_str().unwrap()).map(|s| s.to_string());
    let exists = |p: &Path| docs.contains_key(p.to_str().unwrap()) || p == Path::new("docs");
    let readme = broken_links(Path::new("README.md"), docs["README.md"], &read, &exists);
    assert_eq!(readme.len(), 2, "{readme:?}");
    assert!(readme[0].contains("docs/b.md: no file docs/b.md"), "{readme:?}");
    assert!(readme[1].contains("no heading with anchor #nope in docs/a.md"), "{readme:?}");
    assert!(broken_links(Path::new("docs/a.md"), docs["docs/a.md"], &read, &exists).is_empty());
}

#[test]
fn slugs_follow_github() {
    assert_eq!(slug("Tracing (OpenTelemetry)"), "tracing-opentelemetry");
    assert_eq!(slug("The message: `sj.quote-request.v1`"), "the-message-sjquote-requestv1");
    assert_eq!(slug("Google Sheets v4 (`/sheets/…`)"), "google-sheets-v4-sheets");
    assert_eq!(
        slug("Checking an installation: sjctl verify and status"),
        "checking-an-installation-sjctl-verify-and-status"
    );
    assert_eq!(anchors("# A\n## B\n## B\n```\n# not a heading\n```\n"), ["a", "b", "b-1"]);
}
