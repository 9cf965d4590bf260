//! A capture file mapped into memory, read in place by the threads of a parallel read: no
//! copy out of the page cache, and no chunk buffers to allocate, fill and recycle.
//!
//! This module holds the crate's only `unsafe` code: one call, [`memmap2::Mmap::map`]. It is
//! unsafe because the bytes of a mapping are the file's: if another process changes the file
//! while it is mapped, the bytes change under the reader, and if it truncates the file, the
//! pages past the new end no longer exist and touching them raises `SIGBUS`, which ends the
//! process. The invariant the call relies on: **nobody writes to or truncates the file while
//! it is analysed**. What keeps it, and what is left to the user:
//!
//! * only regular files are mapped (not pipes, devices or `/proc` files), read-only and
//!   private to this process, and only for the length the file had when opened: bytes a
//!   writer appends later are not seen, as with the one-thread reader's first pass;
//! * every byte of the mapping is still parsed as hostile input, bounds-checked against the
//!   mapping's length, so changed bytes give wrong records at worst, never a read out of
//!   bounds;
//! * truncation cannot be guarded against without a signal handler: `--no-mmap` (and the
//!   one-thread reader, `-j 1`) read with `pread` instead, for files a capture tool may cut
//!   while they are read (`tcpdump -W` reuses its ring of files by truncating the oldest).

use std::fs::File;
use std::io;

/// A read-only map of a whole regular file.
#[derive(Debug)]
pub(crate) struct Mapped {
    map: memmap2::Mmap,
}

impl Mapped {
    /// Maps `file` (a regular file; `None` for any other kind, or an empty one, which
    /// cannot be mapped): `len` is its size when it was opened.
    pub(crate) fn new(file: &File, len: u64) -> io::Result<Option<Mapped>> {
        let meta = file.metadata()?;
        if !meta.is_file() || len == 0 {
            return Ok(None);
        }
        let len = usize::try_from(len).map_err(|_| io::Error::other("file too large to map"))?;
        let mut options = memmap2::MmapOptions::new();
        options.len(len);
        // SAFETY: the file is a regular file opened read-only and mapped read-only for the
        // length it had when opened; the mapping is only read through bounds-checked slices.
        // The invariant left to the user (no write or truncation while analysed) and its
        // opt-out (`--no-mmap`) are in the module documentation above.
        #[allow(unsafe_code)]
        let map = unsafe { options.map(file)? };
        // Records are read front to back, and each thread reads a part: tell the kernel to
        // read ahead.
        let _ = map.advise(memmap2::Advice::Sequential);
        Ok(Some(Mapped { map }))
    }
}

impl AsRef<[u8]> for Mapped {
    fn as_ref(&self) -> &[u8] {
        &self.map
    }
}
