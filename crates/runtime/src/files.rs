//! Reading a plugin's files: regular files only, never larger than a limit, never read before
//! both are checked. A symlink (to `/etc/passwd`, say), a directory, a FIFO (which would block the
//! reader), a socket or a device is refused unopened; a file swapped between the check and the
//! open is refused too, and a file growing while it is read cannot slip past the size limit.

use std::fs::{File, FileType, Metadata};
use std::io::Read;
use std::path::Path;

/// Why a file was not read.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// Not a regular file: what it is instead (`a symlink`, `a directory`...).
    NotRegular(&'static str),
    /// Larger than the limit; the size when it was known before reading.
    TooLarge(Option<u64>),
    /// The file could not be read (or was replaced while it was opened).
    Io(std::io::Error),
}

impl From<std::io::Error> for Refusal {
    fn from(error: std::io::Error) -> Self {
        Self::Io(error)
    }
}

/// What a file that is not regular is, for an error message; `None` for a regular file.
fn irregular(file_type: &FileType) -> Option<&'static str> {
    if file_type.is_file() {
        return None;
    }
    if file_type.is_symlink() {
        return Some("a symlink");
    }
    if file_type.is_dir() {
        return Some("a directory");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return Some("a FIFO");
        }
        if file_type.is_socket() {
            return Some("a socket");
        }
        if file_type.is_block_device() || file_type.is_char_device() {
            return Some("a device");
        }
    }
    Some("not a regular file")
}

/// Opens `path` without following a symlink in its last component and without blocking on a
/// FIFO swapped in since it was checked (Linux); elsewhere a plain open, still checked after.
fn open(path: &Path) -> Result<File, Refusal> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(path)
            .map_err(|error| {
                if error.raw_os_error() == Some(libc::ELOOP) {
                    Refusal::NotRegular("a symlink")
                } else {
                    Refusal::Io(error)
                }
            })
    }
    #[cfg(not(target_os = "linux"))]
    {
        Ok(File::open(path)?)
    }
}

/// Whether `opened` is the very file `checked` described.
fn same_file(checked: &Metadata, opened: &Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        checked.dev() == opened.dev() && checked.ino() == opened.ino()
    }
    #[cfg(not(unix))]
    {
        checked.len() == opened.len() && checked.modified().ok() == opened.modified().ok()
    }
}

/// Reads `path` whole if it is a regular file (not a symlink) of at most `max` bytes.
pub(crate) fn read_regular(path: &Path, max: u64) -> Result<Vec<u8>, Refusal> {
    let checked = std::fs::symlink_metadata(path)?;
    if let Some(kind) = irregular(&checked.file_type()) {
        return Err(Refusal::NotRegular(kind));
    }
    if checked.len() > max {
        return Err(Refusal::TooLarge(Some(checked.len())));
    }
    let file = open(path)?;
    let opened = file.metadata()?;
    if let Some(kind) = irregular(&opened.file_type()) {
        return Err(Refusal::NotRegular(kind));
    }
    if !same_file(&checked, &opened) {
        return Err(Refusal::Io(std::io::Error::other(
            "the file was replaced while it was being opened; it is read again when it changes",
        )));
    }
    let capacity = usize::try_from(opened.len().min(max)).unwrap_or(0);
    let mut bytes = Vec::with_capacity(capacity);
    file.take(max.saturating_add(1)).read_to_end(&mut bytes)?;
    if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > max {
        return Err(Refusal::TooLarge(None));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn scratch(label: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "guildhost-files-{label}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch directory");
        dir
    }

    #[test]
    fn reads_a_regular_file_within_the_limit() {
        let dir = scratch("regular");
        let path = dir.join("a.toml");
        std::fs::write(&path, b"name = \"a\"").expect("write");
        assert_eq!(read_regular(&path, 10).expect("read"), b"name = \"a\"");
        assert!(matches!(
            read_regular(&path, 9),
            Err(Refusal::TooLarge(Some(10)))
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[cfg(unix)]
    #[test]
    fn refuses_symlinks_directories_and_fifos_unopened() {
        let dir = scratch("irregular");
        let target = dir.join("target");
        std::fs::write(&target, b"secret").expect("write");
        let link = dir.join("link.toml");
        std::os::unix::fs::symlink(&target, &link).expect("symlink");
        assert!(matches!(
            read_regular(&link, 100),
            Err(Refusal::NotRegular("a symlink"))
        ));
        let sub = dir.join("sub.wasm");
        std::fs::create_dir(&sub).expect("directory");
        assert!(matches!(
            read_regular(&sub, 100),
            Err(Refusal::NotRegular("a directory"))
        ));
        #[cfg(target_os = "linux")]
        {
            let fifo = dir.join("fifo.wasm");
            let name = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).expect("path");
            // SAFETY: `name` is a valid NUL-terminated path for the duration of the call.
            let made = unsafe { libc::mkfifo(name.as_ptr(), 0o600) };
            assert_eq!(made, 0, "mkfifo");
            // Refused from its metadata, without the open that would block for a writer.
            assert!(matches!(
                read_regular(&fifo, 100),
                Err(Refusal::NotRegular("a FIFO"))
            ));
            // Opening it the way `read_regular` does cannot block either.
            assert!(open(&fifo).is_ok());
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
