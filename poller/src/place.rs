//! Where a document goes once the broker has it (or once it was refused): `archive/YYYY-MM-DD/`
//! or `rejected/` with `NAME.error.txt` beside it. A file is moved, never copied-then-lost, and
//! never overwrites another: a name already taken gets `-1`, `-2`… before its extension.

use std::io;
use std::path::{Path, PathBuf};

/// Moves `file` into `dir` (created if needed) and returns where it went.
pub fn move_into(file: &Path, dir: &Path) -> io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let target = free_name(dir, file.file_name().expect("a file has a name"));
    match std::fs::rename(file, &target) {
        Ok(()) => Ok(target),
        // Another file system: copy, make sure it is on disk, then remove the original.
        Err(e) if e.kind() == io::ErrorKind::CrossesDevices => {
            std::fs::copy(file, &target)?;
            std::fs::File::open(&target)?.sync_all()?;
            std::fs::remove_file(file)?;
            Ok(target)
        }
        Err(e) => Err(e),
    }
}

/// `archive/2026-11-22`: today's folder under `archive` (UTC).
pub fn dated(archive: &Path) -> PathBuf {
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    archive.join(&now[..10])
}

/// Writes the reason file for a refused document, `NAME.error.txt` in `dir`, and returns its path.
pub fn write_reason(dir: &Path, file_name: &str, text: &str) -> io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = free_name(dir, format!("{file_name}.error.txt").as_ref());
    std::fs::write(&path, text)?;
    Ok(path)
}

/// Writes `bytes` as a new file `name` in `dir` (another name if taken), on disk before it
/// returns: a refused SaberisConnect document is recorded as taken only once it is kept here.
pub fn write_new(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = free_name(dir, name.as_ref());
    let mut file = std::fs::File::create_new(&path)?;
    io::Write::write_all(&mut file, bytes)?;
    file.sync_all()?;
    Ok(path)
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
