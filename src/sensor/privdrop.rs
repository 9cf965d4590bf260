//! `--user NAME`: give up root once the capture is open.
//!
//! Order matters: supplementary groups first (`initgroups`, which needs root), then the group
//! (`setgid`), then the user (`setuid`, after which none of the others is allowed). As root,
//! `setuid` sets the real, effective and saved user ids, and the kernel clears every
//! capability when a process leaves uid 0, so the capture socket already open keeps working
//! while nothing new can be opened with privilege. The result is checked, not assumed: all
//! three user and group ids must be the target's, and getting root back must fail.
//!
//! Without root, a sensor can run with `CAP_NET_RAW` alone (plus `CAP_NET_ADMIN` for
//! promiscuous mode): `setcap cap_net_raw,cap_net_admin=eip /usr/local/bin/smbscope`, or a
//! systemd unit with `AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN` (see
//! `dist/smbscope.service`). `--user` is then unnecessary; given the name of the user the
//! sensor already runs as, it does nothing.

use std::ffi::CString;

use nix::unistd::{self, Gid, Uid, User};

/// Who the process runs as after [`drop_privileges`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    pub uid: u32,
    pub gid: u32,
}

/// Switches the whole process to `name` (its primary group and supplementary groups). Fails
/// with a message when the user does not exist, when the switch is not permitted, or when
/// the ids after it are not the user's.
pub fn drop_privileges(name: &str) -> Result<Identity, String> {
    let user = lookup(name)?;
    let target = Identity {
        uid: user.uid.as_raw(),
        gid: user.gid.as_raw(),
    };
    let cname = CString::new(name).map_err(|_| format!("bad user name '{name}'"))?;
    if unistd::geteuid() == user.uid && unistd::getuid() == user.uid && !user.uid.is_root() {
        // Already that user (e.g. started by systemd with User= and capabilities).
        return Ok(target);
    }
    let fail = |what: &str, e: nix::Error| {
        format!(
            "cannot drop privileges to user '{name}': {what}: {e} (run as root, or omit --user)"
        )
    };
    unistd::initgroups(&cname, user.gid).map_err(|e| fail("initgroups", e))?;
    unistd::setgid(user.gid).map_err(|e| fail("setgid", e))?;
    unistd::setuid(user.uid).map_err(|e| fail("setuid", e))?;
    verify(name, user.uid, user.gid)?;
    Ok(target)
}

/// Looks the user up in the password database (done before the capture is opened too, so a
/// typo fails fast).
pub fn lookup(name: &str) -> Result<User, String> {
    if name.is_empty() {
        return Err("--user: empty user name".into());
    }
    match User::from_name(name) {
        Ok(Some(u)) => Ok(u),
        Ok(None) => Err(format!("no such user '{name}'")),
        // getpwnam(3): "0 or ENOENT or ESRCH or EBADF or EPERM or ... The given name or uid
        // was not found." An NSS module such as winbind (added to nsswitch.conf by Samba's
        // AD DC packages) answers ENOENT when its daemon is not running.
        Err(nix::Error::ENOENT | nix::Error::ESRCH | nix::Error::EBADF | nix::Error::EPERM) => {
            Err(format!("no such user '{name}'"))
        }
        Err(e) => Err(format!("cannot look up user '{name}': {e}")),
    }
}

/// Checks that real, effective and saved ids are all the target's and that root is gone.
fn verify(name: &str, uid: Uid, gid: Gid) -> Result<(), String> {
    let bad = |what: String| format!("dropping privileges to '{name}' did not take: {what}");
    let u = unistd::getresuid().map_err(|e| bad(format!("getresuid: {e}")))?;
    let g = unistd::getresgid().map_err(|e| bad(format!("getresgid: {e}")))?;
    if [u.real, u.effective, u.saved] != [uid; 3] {
        return Err(bad(format!(
            "user ids are {}/{}/{}, not {uid}",
            u.real, u.effective, u.saved
        )));
    }
    if [g.real, g.effective, g.saved] != [gid; 3] {
        return Err(bad(format!(
            "group ids are {}/{}/{}, not {gid}",
            g.real, g.effective, g.saved
        )));
    }
    if !uid.is_root() && unistd::setuid(Uid::from_raw(0)).is_ok() {
        return Err(bad("root could be regained".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_user_is_named() {
        let e = drop_privileges("smbscope-no-such-user").unwrap_err();
        assert_eq!(e, "no such user 'smbscope-no-such-user'");
        assert!(drop_privileges("").is_err());
    }

    #[test]
    fn current_user_passes_verification() {
        // The test process's own ids verify (without changing anything).
        let uid = unistd::getuid();
        let gid = unistd::getgid();
        if unistd::geteuid() == uid && unistd::getegid() == gid && !uid.is_root() {
            verify("self", uid, gid).unwrap();
        } else if uid.is_root() {
            // As root, "root could be regained" is not checked for uid 0.
            let u = unistd::getresuid().unwrap();
            let g = unistd::getresgid().unwrap();
            if u.saved == uid && g.saved == gid && g.real == gid && g.effective == gid {
                verify("root", uid, gid).unwrap();
            }
        }
        assert!(verify("x", Uid::from_raw(54321), gid).is_err());
    }
}
