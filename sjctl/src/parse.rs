//! `sjctl parse FILE...`: print the normalized `sj.quote-request.v1` message of each document.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use sj_shared::config::Settings;
use sj_shared::intake::DocumentReader;
use sj_shared::message::{QuoteRequest, Source, SourceKind};
use sj_shared::saberis::{DocumentError, Format};

/// Parse Saberis documents (XML or SaberisConnect JSON) and print their quote messages.
///
/// Prints one JSON message per file on stdout, one per line (or indented with --pretty). A file
/// that cannot be read, parsed or that breaks a sanity rule gets one line on stderr,
/// `FILE: kind: reason at PLACE`; the exit code is then 2.
#[derive(clap::Args)]
pub struct Args {
    /// Saberis documents to parse; `-` reads standard input.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,

    /// The documents' form; `auto` tells by the first character (`<` XML, `{` JSON).
    #[arg(long, value_enum, default_value_t = FormatArg::Auto)]
    format: FormatArg,

    /// Indent the JSON output.
    #[arg(long, conflicts_with = "summary")]
    pretty: bool,

    /// Print one line per document for a person (file, customer, lines, total, hash) instead of
    /// the JSON messages.
    #[arg(long)]
    summary: bool,

    /// Print documents that break sanity rules (absurd prices, negative values, no product
    /// lines) instead of reporting them.
    #[arg(long)]
    skip_sanity: bool,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum FormatArg {
    Auto,
    Xml,
    Json,
}

pub fn run(settings: &Settings, args: &Args) -> ExitCode {
    let reader = DocumentReader::new(settings.parser.clone(), settings.sanity.clone());
    let format = match args.format {
        FormatArg::Auto => None,
        FormatArg::Xml => Some(Format::Xml),
        FormatArg::Json => Some(Format::Json),
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut failed = 0usize;
    for path in &args.files {
        let name = path.display().to_string();
        let result = read(&reader, path).and_then(|bytes| {
            reader
                .quote_request(&bytes, format, Source::now(SourceKind::File, &name), !args.skip_sanity)
                .map_err(|e| e.in_file(&name))
        });
        match result {
            Ok(request) => {
                let line = if args.summary {
                    summary(&name, &request)
                } else if args.pretty {
                    serde_json::to_string_pretty(&request).expect("a message serializes")
                } else {
                    serde_json::to_string(&request).expect("a message serializes")
                };
                let written = writeln!(out, "{line}");
                if written.is_err() {
                    // Stdout closed (e.g. piped into `head`): nothing more to do.
                    return ExitCode::from(2);
                }
            }
            Err(e) => {
                failed += 1;
                let _ = out.flush();
                eprintln!("{e}");
            }
        }
    }
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    }
}

/// `FILE: customer · N lines in M sections · total 1,234.50 · sha256:0123456789ab`
fn summary(name: &str, request: &QuoteRequest) -> String {
    let customer = request
        .customer
        .name
        .clone()
        .or_else(|| request.customer.number.clone())
        .or_else(|| request.shipping.street1.clone().map(|street| format!("(no name) {street}")))
        .unwrap_or_else(|| "(no customer)".to_owned());
    let hash = request.content_hash.as_str().get(..19).unwrap_or(request.content_hash.as_str());
    format!(
        "{name}: {customer} · {} in {} · selling total {} · {hash}",
        plural(request.totals.product_lines as usize, "line"),
        plural(request.sections.len(), "section"),
        request.totals.selling
    )
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

fn read(reader: &DocumentReader, path: &Path) -> Result<Vec<u8>, DocumentError> {
    if path.as_os_str() == "-" {
        return reader.read_from(std::io::stdin().lock(), "-");
    }
    reader.read_file(path)
}
