//! `sjctl parse FILE...`: print the normalized `sj.quote-request.v1` message of each document.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use sj_shared::config::Settings;
use sj_shared::message::{Source, SourceKind};
use sj_shared::saberis::{DocumentError, DocumentReader, Format};

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
    #[arg(long)]
    pretty: bool,

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
                let json = if args.pretty {
                    serde_json::to_string_pretty(&request)
                } else {
                    serde_json::to_string(&request)
                };
                let written = writeln!(out, "{}", json.expect("a message serializes"));
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

fn read(reader: &DocumentReader, path: &Path) -> Result<Vec<u8>, DocumentError> {
    if path.as_os_str() == "-" {
        return reader.read_from(std::io::stdin().lock(), "-");
    }
    reader.read_file(path)
}
