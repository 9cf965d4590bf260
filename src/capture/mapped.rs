//! A capture file mapped into memory, read in place by the threads of a parallel read: no
//! copy out of the page cache, and no chunk buffers to allocate, fill and recycle.
//!
//! This module holds the crate's only `unsafe` code: three calls. The first, [`memmap2::Mmap::map`],
//! is unsafe because the bytes of a mapping are the file's: if another process changes the file
//! while it is mapped, the bytes change under the reader, and if it truncates the file, the
//! pages past the new end no longer exist and touching them raises `SIGBUS`, which ends the
//! process. The invariant the call relies on: **nobody writes to or truncates the file while
//! it is analysed**. What keeps it, and what is left to the user:
//!
//! * only regular files are mapped (not pipes, devices or `/proc` files), read-only (a
//!   shared mapping: this process never writes to it), and only for the length the file had
//!   when opened: bytes a writer appends later are not read (the one-thread reader reads on
//!   to the end it finds, so on a file still being written it may see more frames, and the
//!   mapped walk may end on a record cut at the old length);
//! * every byte of the mapping is still parsed as hostile input, bounds-checked against the
//!   mapping's length, so changed bytes give wrong records at worst, never a read out of
//!   bounds;
//! * truncation cannot be guarded against without a signal handler, nor can an I/O error of
//!   the device under the file (a network file system), which also raises `SIGBUS`:
//!   `--no-mmap` (and the one-thread reader, `-j 1`) read with `pread` instead, for files a
//!   capture tool may cut while they are read (`tcpdump -W` reuses its ring of files by
//!   truncating the oldest) or on unreliable storage.
//!
//! The second, `madvise(MADV_DONTNEED)` ([`Mapped::release`]), keeps the process's resident
//! set small: the pages every reader has gone past are unmapped from this process (they stay
//! in the page cache). memmap2 marks it unsafe because on an anonymous private mapping the
//! bytes would read back as zeros (and a private file mapping would lose what was written to
//! it); on this shared, never written file mapping they read back from the file, unchanged. The invariant it relies on: **no slice into a released range is alive**, which
//! holds because the caller releases only what every reader has consumed (the records'
//! bytes are copied out, never kept borrowed).
//!
//! The third, `_mm_prefetch` ([`prefetch`]), asks the CPU to start loading a cache line a
//! reader will soon need: the parallel readers go through the mapping a record header at a
//! time, and each header would otherwise be a wait on main memory. It is unsafe only as a
//! `#[target_feature]` intrinsic taking a raw pointer; a prefetch never faults and changes
//! nothing the program can see, and the pointer comes from a live reference.

use std::fs::File;
use std::io;
use std::sync::Mutex;

/// A read-only map of a whole regular file.
#[derive(Debug)]
pub(crate) struct Mapped {
    map: memmap2::Mmap,
    /// Bytes from the start already given back ([`Mapped::release`]).
    released: Mutex<usize>,
}

/// Pages are given back in steps of this many bytes, a multiple of any page size.
const RELEASE_STEP: usize = 2 << 20;

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
        Ok(Some(Mapped {
            map,
            released: Mutex::new(0),
        }))
    }

    /// Every reader has consumed the bytes before `upto`, and no slice into them is alive:
    /// their pages leave this process's resident set (whole steps of [`RELEASE_STEP`] bytes,
    /// one step behind `upto`; all of them once `upto` reaches the end). Reading them again
    /// would fault them in from the page cache.
    pub(crate) fn release(&self, upto: usize) {
        let Ok(mut released) = self.released.lock() else {
            return;
        };
        let len = self.map.len();
        let end = if upto >= len {
            len
        } else {
            (upto.saturating_sub(RELEASE_STEP) / RELEASE_STEP) * RELEASE_STEP
        };
        if end <= *released {
            return;
        }
        // SAFETY: the mapping is shared and file-backed (`Mmap::map`), so the released pages
        // read back unchanged from the file; the caller vouches that no slice into
        // `released..end` is alive (module documentation). `released` is a multiple of
        // RELEASE_STEP (so page-aligned) and `end` is within the mapping.
        #[allow(unsafe_code)]
        let done = unsafe {
            self.map.unchecked_advise_range(
                memmap2::UncheckedAdvice::DontNeed,
                *released,
                end - *released,
            )
        };
        if done.is_ok() {
            *released = end;
        }
    }
}

/// Asks the CPU to start loading the cache line that holds `x` (its first byte) while the
/// caller goes on with other work. A hint: it changes no value, and does nothing on targets
/// without the instruction.
#[inline]
pub(crate) fn prefetch<T: ?Sized>(x: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        let p = std::ptr::from_ref(x).cast::<i8>();
        // SAFETY: `p` comes from a live reference; a prefetch instruction never faults (on an
        // address that is not mapped it does nothing) and reads nothing the program sees.
        #[allow(unsafe_code)]
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p);
        }
    }
}

impl AsRef<[u8]> for Mapped {
    fn as_ref(&self) -> &[u8] {
        &self.map
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn released_pages_read_back_unchanged_and_other_files_are_not_mapped() {
        let dir = std::env::temp_dir().join(format!("smbscope-mapped-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("bytes");
        let data: Vec<u8> = (0..(9 << 20) + 123).map(|i: u32| (i % 251) as u8).collect();
        std::fs::write(&path, &data).expect("write");
        let file = File::open(&path).expect("open");
        let m = Mapped::new(&file, data.len() as u64)
            .expect("maps")
            .expect("a regular file");
        assert!(m.as_ref() == &data[..]);
        // One step behind: 6 MiB read gives back the first 4 MiB.
        m.release(6 << 20);
        assert_eq!(*m.released.lock().expect("lock"), 4 << 20);
        m.release(5 << 20);
        assert_eq!(
            *m.released.lock().expect("lock"),
            4 << 20,
            "never backwards"
        );
        assert!(m.as_ref() == &data[..], "read back from the page cache");
        m.release(u64::MAX as usize);
        assert_eq!(*m.released.lock().expect("lock"), data.len());
        assert!(m.as_ref() == &data[..]);
        // Empty files and directories are not mapped.
        let empty = dir.join("empty");
        std::fs::write(&empty, b"").expect("write");
        let f = File::open(&empty).expect("open");
        assert!(Mapped::new(&f, 0).expect("no error").is_none());
        let d = File::open(&dir).expect("open dir");
        assert!(Mapped::new(&d, 4096).expect("no error").is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
