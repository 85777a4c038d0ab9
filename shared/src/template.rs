//! A tiny template language for what the bridge writes in Jobber (the quote's title and message).
//!
//! - `{field}` is replaced by the field's value (`{ field }` too: spaces inside are ignored);
//!   field names are letters, digits and `_`.
//! - `[ … ]` is an optional segment: it is left out, with its text, when any field written
//!   directly in it is empty (absent, or only whitespace), so `Cabinetry order[ {date}][ · PO
//!   {po_number}]` reads `Cabinetry order 2025-07-08` when the document has no PO number.
//!   Segments do not nest (`]]` would be ambiguous); a template may hold any number of them.
//! - `{{`, `}}`, `[[` and `]]` write a literal `{`, `}`, `[`, `]` (also inside a segment).
//!
//! Unknown field names are refused when the template is parsed for a set of fields
//! ([`Template::parse_for`]), so a typo is found when the configuration is loaded, not in a quote.

use std::fmt;

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Field { name: String, at: usize },
    Optional(Vec<Part>),
}

/// Why a template cannot be used. Positions count characters from 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("`{{` at character {0} is never closed by `}}` (write `{{{{` for a literal brace)")]
    UnclosedField(usize),
    #[error("`}}` at character {0} closes no field (write `}}}}` for a literal brace)")]
    StrayBrace(usize),
    #[error("`[` at character {0} is never closed by `]` (write `[[` for a literal bracket)")]
    UnclosedSegment(usize),
    #[error("`]` at character {0} closes no `[` segment (write `]]` for a literal bracket)")]
    StrayBracket(usize),
    #[error("`[` at character {0} opens a segment inside a segment: segments do not nest (write `[[` for a literal bracket)")]
    NestedSegment(usize),
    #[error("empty field name `{{}}` at character {0}")]
    EmptyField(usize),
    #[error("{name:?} at character {at} is not a field name (letters, digits and `_` only)")]
    BadFieldName { name: String, at: usize },
    #[error("unknown field {{{name}}} at character {at}; the fields are {known}")]
    UnknownField { name: String, at: usize, known: String },
}

impl Template {
    /// Parses a template, accepting any field name.
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let chars: Vec<char> = text.chars().collect();
        // The template, then the open segment if any, with the position of its `[`.
        let mut stack: Vec<(Vec<Part>, usize)> = vec![(Vec::new(), 0)];
        let mut text_run = String::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            let doubled = chars.get(i + 1) == Some(&c);
            match c {
                '{' | '}' | '[' | ']' if doubled => {
                    text_run.push(c);
                    i += 2;
                    continue;
                }
                '{' => {
                    let Some(len) = chars[i + 1..].iter().position(|&c| c == '}') else {
                        return Err(TemplateError::UnclosedField(i + 1));
                    };
                    let raw: String = chars[i + 1..i + 1 + len].iter().collect();
                    let name = raw.trim();
                    if name.is_empty() {
                        return Err(TemplateError::EmptyField(i + 1));
                    }
                    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                        return Err(TemplateError::BadFieldName { name: name.to_owned(), at: i + 1 });
                    }
                    flush(&mut text_run, &mut stack);
                    let top = &mut stack.last_mut().expect("the template itself").0;
                    top.push(Part::Field { name: name.to_owned(), at: i + 1 });
                    i += len + 2;
                    continue;
                }
                '}' => return Err(TemplateError::StrayBrace(i + 1)),
                '[' => {
                    if stack.len() > 1 {
                        return Err(TemplateError::NestedSegment(i + 1));
                    }
                    flush(&mut text_run, &mut stack);
                    stack.push((Vec::new(), i + 1));
                }
                ']' => {
                    if stack.len() == 1 {
                        return Err(TemplateError::StrayBracket(i + 1));
                    }
                    flush(&mut text_run, &mut stack);
                    let (segment, _) = stack.pop().expect("checked above");
                    stack.last_mut().expect("the template itself").0.push(Part::Optional(segment));
                }
                _ => text_run.push(c),
            }
            i += 1;
        }
        flush(&mut text_run, &mut stack);
        if stack.len() > 1 {
            return Err(TemplateError::UnclosedSegment(stack[1].1));
        }
        let (parts, _) = stack.pop().expect("the template itself");
        Ok(Self { parts })
    }

    /// Parses a template whose fields must all be among `known`.
    pub fn parse_for(text: &str, known: &[&str]) -> Result<Self, TemplateError> {
        let template = Self::parse(text)?;
        let mut unknown = Vec::new();
        visit_fields(&template.parts, &mut |name, at| {
            if !known.contains(&name) {
                unknown.push((name.to_owned(), at));
            }
        });
        match unknown.into_iter().next() {
            Some((name, at)) => Err(TemplateError::UnknownField { name, at, known: known.join(", ") }),
            None => Ok(template),
        }
    }

    /// The field names the template uses, in order (repeats included).
    pub fn fields(&self) -> Vec<&str> {
        let mut names = Vec::new();
        visit_fields(&self.parts, &mut |name, _| names.push(name));
        names
    }

    /// The text, with each field's value from `value` (`None` or whitespace only: empty).
    pub fn render<F>(&self, value: F) -> String
    where
        F: Fn(&str) -> Option<String>,
    {
        let mut out = String::new();
        render_parts(&self.parts, &value, &mut out);
        out
    }
}

fn flush(text_run: &mut String, stack: &mut [(Vec<Part>, usize)]) {
    if !text_run.is_empty() {
        let top = &mut stack.last_mut().expect("the template itself").0;
        top.push(Part::Text(std::mem::take(text_run)));
    }
}

fn visit_fields<'a>(parts: &'a [Part], f: &mut impl FnMut(&'a str, usize)) {
    for part in parts {
        match part {
            Part::Text(_) => {}
            Part::Field { name, at } => f(name, *at),
            Part::Optional(inner) => visit_fields(inner, f),
        }
    }
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

fn render_parts<F>(parts: &[Part], value: &F, out: &mut String)
where
    F: Fn(&str) -> Option<String>,
{
    for part in parts {
        match part {
            Part::Text(text) => out.push_str(text),
            Part::Field { name, .. } => {
                if let Some(v) = non_empty(value(name)) {
                    out.push_str(&v);
                }
            }
            Part::Optional(inner) => {
                let complete = inner.iter().all(|p| match p {
                    Part::Field { name, .. } => non_empty(value(name)).is_some(),
                    _ => true,
                });
                if complete {
                    render_parts(inner, value, out);
                }
            }
        }
    }
}

impl fmt::Display for Template {
    /// The template written back in its own syntax (escapes included).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn write(parts: &[Part], f: &mut fmt::Formatter<'_>) -> fmt::Result {
            for part in parts {
                match part {
                    Part::Text(text) => {
                        for c in text.chars() {
                            if matches!(c, '{' | '}' | '[' | ']') {
                                write!(f, "{c}{c}")?;
                            } else {
                                write!(f, "{c}")?;
                            }
                        }
                    }
                    Part::Field { name, .. } => write!(f, "{{{name}}}")?,
                    Part::Optional(inner) => {
                        f.write_str("[")?;
                        write(inner, f)?;
                        f.write_str("]")?;
                    }
                }
            }
            Ok(())
        }
        write(&self.parts, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(template: &str, values: &[(&str, &str)]) -> String {
        let template = Template::parse(template).unwrap();
        template.render(|name| values.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string()))
    }

    const TITLE: &str = "Cabinetry order[ {date}][ · PO {po_number}]";

    #[test]
    fn fields_are_substituted_and_optional_segments_dropped_when_a_field_is_empty() {
        let both = [("date", "2025-07-08"), ("po_number", "PO-4471")];
        assert_eq!(render(TITLE, &both), "Cabinetry order 2025-07-08 · PO PO-4471");
        assert_eq!(render(TITLE, &[("date", "2025-07-08")]), "Cabinetry order 2025-07-08");
        assert_eq!(render(TITLE, &[("po_number", "PO-1")]), "Cabinetry order · PO PO-1");
        assert_eq!(render(TITLE, &[("date", "  "), ("po_number", "")]), "Cabinetry order");
        // Outside a segment an empty field is just empty.
        assert_eq!(render("For {customer_name}.", &[]), "For .");
        assert_eq!(render("{ date }", &[("date", "d")]), "d");
    }

    #[test]
    fn a_segment_needs_every_one_of_its_own_fields() {
        let t = "[{a} and {b}]";
        assert_eq!(render(t, &[("a", "1"), ("b", "2")]), "1 and 2");
        assert_eq!(render(t, &[("a", "1")]), "");
        assert_eq!(render("[no fields]", &[]), "no fields");
    }

    #[test]
    fn segments_do_not_nest() {
        assert_eq!(Template::parse("Order[ {a}[ {b}] ]"), Err(TemplateError::NestedSegment(11)));
        assert_eq!(render("[{a}][, {b}][, {c}]", &[("a", "1"), ("c", "3")]), "1, 3");
    }

    #[test]
    fn doubled_braces_and_brackets_are_literal() {
        assert_eq!(render("{{{date}}} [[draft]]", &[("date", "d")]), "{d} [draft]");
        assert_eq!(render("[{{{date}}}]", &[]), "");
        assert_eq!(render("[[[{date}]]]", &[("date", "d")]), "[d]");
        assert_eq!(render("[a]]b]", &[]), "a]b");
        let t = Template::parse("{{x}} [[y]] [z {date}]").unwrap();
        assert_eq!(t.to_string(), "{{x}} [[y]] [z {date}]");
    }

    #[test]
    fn malformed_templates_are_refused_with_the_place() {
        use TemplateError::*;
        assert_eq!(Template::parse("Order {date"), Err(UnclosedField(7)));
        assert_eq!(Template::parse("Order date}"), Err(StrayBrace(11)));
        assert_eq!(Template::parse("Order [{date}"), Err(UnclosedSegment(7)));
        assert_eq!(Template::parse("Order {date}]"), Err(StrayBracket(13)));
        assert_eq!(Template::parse("a {} b"), Err(EmptyField(3)));
        assert_eq!(Template::parse("{po number}"), Err(BadFieldName { name: "po number".to_owned(), at: 1 }));
        let err = Template::parse("x{da{te}").unwrap_err();
        assert!(matches!(err, BadFieldName { at: 2, .. }), "{err}");
        assert!(UnclosedField(7).to_string().contains("character 7"));
    }

    #[test]
    fn unknown_fields_are_refused_naming_the_known_ones() {
        let known = ["date", "po_number"];
        assert!(Template::parse_for(TITLE, &known).is_ok());
        let err = Template::parse_for("Order[ {dat}]", &known).unwrap_err();
        assert_eq!(err.to_string(), "unknown field {dat} at character 8; the fields are date, po_number");
        let t = Template::parse(TITLE).unwrap();
        assert_eq!(t.fields(), ["date", "po_number"]);
    }

    #[test]
    fn multi_line_values_are_kept() {
        assert_eq!(render("Hello\n{settings}", &[("settings", "a\nb")]), "Hello\na\nb");
    }
}
