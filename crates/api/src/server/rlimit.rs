//! `RLIMIT_NOFILE`, the number of file descriptors the process may hold: read it, and raise the
//! soft limit to the hard one at start (many systems start processes at a soft 1,024, far below
//! what a server with thousands of connections needs). Owns only these two system calls.

use std::io;

/// A number of descriptors as the system counts them (`rlim_t`).
pub use sys::Count;

/// The process's file-descriptor limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileLimit {
    pub soft: Count,
    pub hard: Count,
}

impl FileLimit {
    /// The soft limit as a count of descriptors (saturating on 32-bit targets).
    pub fn soft_count(self) -> usize {
        usize::try_from(self.soft).unwrap_or(usize::MAX)
    }
}

/// What `raise_soft_to_hard` found and left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Raised {
    pub before: FileLimit,
    pub after: FileLimit,
}

/// The current limits.
pub fn file_limit() -> io::Result<FileLimit> {
    sys::get()
}

/// Raises the soft limit to the hard limit (when the hard limit is unlimited: to 1,048,576, the
/// kernel's default `fs.nr_open`). Never lowers it.
pub fn raise_soft_to_hard() -> io::Result<Raised> {
    const UNLIMITED_TARGET: Count = 1 << 20;
    let before = sys::get()?;
    let target = if before.hard == sys::INFINITY {
        UNLIMITED_TARGET
    } else {
        before.hard
    };
    if before.soft != sys::INFINITY && before.soft < target {
        sys::set_soft(target, before.hard)?;
    }
    Ok(Raised {
        before,
        after: sys::get()?,
    })
}

#[cfg(unix)]
#[allow(unsafe_code)] // getrlimit/setrlimit: the workspace's only unsafe code
mod sys {
    use std::io;

    use super::FileLimit;

    pub type Count = libc::rlim_t;

    pub const INFINITY: Count = libc::RLIM_INFINITY;

    pub fn get() -> io::Result<FileLimit> {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: `getrlimit` writes one `rlimit` through a pointer to a live, exclusively
        // borrowed local and keeps no reference to it.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(FileLimit {
            soft: limit.rlim_cur,
            hard: limit.rlim_max,
        })
    }

    pub fn set_soft(soft: Count, hard: Count) -> io::Result<()> {
        let limit = libc::rlimit {
            rlim_cur: soft,
            rlim_max: hard,
        };
        // SAFETY: `setrlimit` only reads the `rlimit` behind a pointer to a live local.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

#[cfg(not(unix))]
mod sys {
    use std::io;

    use super::FileLimit;

    pub type Count = u64;

    pub const INFINITY: Count = Count::MAX;

    pub fn get() -> io::Result<FileLimit> {
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }

    pub fn set_soft(_: Count, _: Count) -> io::Result<()> {
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raising_never_lowers_and_ends_at_the_hard_limit() {
        let raised = raise_soft_to_hard().unwrap();
        assert!(raised.after.soft >= raised.before.soft, "{raised:?}");
        assert_eq!(raised.after.hard, raised.before.hard);
        if raised.before.hard != sys::INFINITY {
            assert_eq!(raised.after.soft, raised.after.hard, "{raised:?}");
        }
        assert_eq!(file_limit().unwrap(), raised.after);
    }
}
