//! Where a document goes once the broker has it (or once it was refused): `archive/YYYY-MM-DD/`
//! or `rejected/` with `NAME.error.txt` beside it. A file is moved, never copied-then-lost, and
//! never overwrites another: a name already taken gets `-1`, `-2`… before its extension.

use std::io;
use std::path::{Path, PathBuf};

use sj_shared::failure::FailureKind;
use sj_shared::saberis::DocumentError;

/// Moves `file` into `dir` (created if needed) and returns where it went.
pub fn move_into(file: &Path, dir: &Path) -> io::Result<PathBuf> {
    let target = free_target(dir, &file.file_name().expect("a file has a name").to_string_lossy())?;
    move_to(file, &target)?;
    Ok(target)
}

/// Where a document named `name` can go in `dir` (created if needed) without overwriting another.
pub fn free_target(dir: &Path, name: &str) -> io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    Ok(free_name(dir, name.as_ref()))
}

/// Moves `file` to `target`.
pub fn move_to(file: &Path, target: &Path) -> io::Result<()> {
    match std::fs::rename(file, target) {
        Ok(()) => Ok(()),
        // Another file system: copy, make sure it is on disk, then remove the original.
        Err(e) if e.kind() == io::ErrorKind::CrossesDevices => {
            std::fs::copy(file, target)?;
            std::fs::File::open(target)?.sync_all()?;
            std::fs::remove_file(file)
        }
        Err(e) => Err(e),
    }
}

/// `archive/2026-11-22`: today's folder under `archive` (UTC).
pub fn dated(archive: &Path) -> PathBuf {
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    archive.join(&now[..10])
}

/// Writes the reason file of a refused document kept at `target`: `TARGET.error.txt` beside it
/// (rewritten, not multiplied, when a rejection is tried again).
pub fn write_reason(target: &Path, text: &str) -> io::Result<PathBuf> {
    let mut path = target.as_os_str().to_owned();
    path.push(".error.txt");
    let path = PathBuf::from(path);
    std::fs::write(&path, text)?;
    Ok(path)
}

/// Writes `bytes` at `target`, on disk before it returns: a refused SaberisConnect document is
/// recorded as taken only once it is kept here.
pub fn write_new(target: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = std::fs::File::create_new(target)?;
    io::Write::write_all(&mut file, bytes)?;
    file.sync_all()
}

/// The content of a reason file: every problem, then what to do (the first problem's
/// [`FailureKind::hint`]), after `origin` when the source needs saying.
pub fn reason_text(error: &DocumentError, origin: Option<&str>) -> String {
    let mut text = String::new();
    for problem in error.all() {
        text.push_str(&problem.to_string());
        text.push('\n');
    }
    text.push('\n');
    if let Some(origin) = origin {
        text.push_str(origin);
        text.push(' ');
    }
    text.push_str(FailureKind::from(error.kind).hint());
    text.push('\n');
    text
}

fn free_name(dir: &Path, name: &std::ffi::OsStr) -> PathBuf {
    let candidate = dir.join(name);
    if !candidate.exists() {
        return candidate;
    }
    let path = Path::new(name);
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let extension = path.extension().map(|e| format!(".{}", e.to_string_lossy())).unwrap_or_default();
    (1..).map(|n| dir.join(format!("{stem}-{n}{extension}"))).find(|p| !p.exists()).expect("some free name")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_never_overwrite() {
        let dir = std::env::temp_dir().join(format!("sj-place-{}", std::process::id()));
        let incoming = dir.join("in");
        std::fs::create_dir_all(&incoming).unwrap();
        for n in 0..3 {
            let file = incoming.join("order.xml");
            std::fs::write(&file, format!("{n}")).unwrap();
            move_into(&file, &dir.join("out")).unwrap();
        }
        let mut names: Vec<String> = std::fs::read_dir(dir.join("out"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["order-1.xml", "order-2.xml", "order.xml"]);
        assert_eq!(std::fs::read_to_string(dir.join("out/order.xml")).unwrap(), "0");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn dated_folder_is_an_iso_day() {
        let d = dated(Path::new("archive"));
        let day = d.file_name().unwrap().to_str().unwrap();
        assert_eq!(day.len(), 10);
        assert_eq!(&day[4..5], "-");
    }
}
