//! Debian/Ubuntu packaging: which packages are installed, waiting for dpkg, installing.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::util::{check, describe, step};

/// Lock files held by apt and dpkg while they change the system.
const LOCKS: &[&str] = &[
    "/var/lib/dpkg/lock-frontend",
    "/var/lib/dpkg/lock",
    "/var/lib/apt/lists/lock",
    "/var/cache/apt/archives/lock",
];

/// How long to wait for another apt or dpkg run (e.g. an image's provisioning) to finish.
const LOCK_WAIT: Duration = Duration::from_secs(30 * 60);

/// Whether this system manages packages with dpkg.
pub fn is_dpkg_system() -> bool {
    Command::new("dpkg-query")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success())
}

/// The packages of `wanted` that are not fully installed.
pub fn missing<'a>(wanted: &[&'a str]) -> Result<Vec<&'a str>> {
    // Unknown packages make dpkg-query exit 1 but still list the known ones.
    let out = Command::new("dpkg-query")
        .args(["-W", "-f=${Package}\t${Status}\n"])
        .args(wanted)
        .output()
        .context("could not run dpkg-query")?;
    let query = String::from_utf8_lossy(&out.stdout);
    let installed = installed(&query);
    Ok(wanted
        .iter()
        .copied()
        .filter(|p| !installed.contains(p))
        .collect())
}

/// Package names whose status (`want ok state`) ends in `installed`, from
/// `dpkg-query -W -f='${Package}\t${Status}\n'` output.
fn installed(query: &str) -> BTreeSet<&str> {
    query
        .lines()
        .filter_map(|line| line.split_once('\t'))
        .filter(|(_, status)| status.split_whitespace().last() == Some("installed"))
        .map(|(name, _)| name)
        .collect()
}

/// Waits while another process holds an apt or dpkg lock, so that half-configured packages
/// are not taken for missing ones and our own apt-get does not fail on the lock.
pub fn wait_for_locks() -> Result<()> {
    let inodes: Vec<u64> = LOCKS
        .iter()
        .filter_map(|p| fs::metadata(p).ok())
        .map(|m| m.ino())
        .collect();
    let start = Instant::now();
    let mut told = false;
    loop {
        let Ok(locks) = fs::read_to_string("/proc/locks") else {
            return Ok(()); // Not Linux: apt-get's own lock timeout has to do.
        };
        let holders = holders(&locks, &inodes);
        let Some(&pid) = holders.first() else {
            return Ok(());
        };
        if start.elapsed() > LOCK_WAIT {
            bail!("apt/dpkg (pid {pid}) still holds its lock after {LOCK_WAIT:?}");
        }
        if !told {
            let name = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            step(format!(
                "waiting for {} (pid {pid}) to finish with apt/dpkg",
                name.trim()
            ));
            told = true;
        }
        thread::sleep(Duration::from_secs(2));
    }
}

/// PIDs holding a lock on any of `inodes`, from `/proc/locks` lines such as
/// `4: POSIX  ADVISORY  WRITE 1918 fe:00:379054 0 EOF`.
fn holders(proc_locks: &str, inodes: &[u64]) -> Vec<u32> {
    proc_locks
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // Blocked waiters are shown as `1: -> POSIX ...`; only holders count.
            if fields.get(1) == Some(&"->") {
                return None;
            }
            let pid = fields.get(4)?.parse().ok()?;
            let inode: u64 = fields.get(5)?.rsplit(':').next()?.parse().ok()?;
            inodes.contains(&inode).then_some(pid)
        })
        .collect()
}

/// `apt-get update`, then installs `packages` without prompting. Needs root.
pub fn install(packages: &[&str]) -> Result<()> {
    let apt = || {
        let mut cmd = Command::new("apt-get");
        cmd.args(["-o", "DPkg::Lock::Timeout=600"])
            .env("DEBIAN_FRONTEND", "noninteractive");
        cmd
    };
    step("apt-get update");
    check(apt().args(["-q", "update"]))?;
    let mut cmd = apt();
    cmd.args(["install", "-y", "-q", "--no-install-recommends"])
        .args(packages);
    step(describe(&cmd));
    check(&mut cmd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_fully_installed_packages_count() {
        let query = "\
libssl-dev\tinstall ok installed
patchelf\thold ok installed
cmake\tinstall ok unpacked
nasm\tdeinstall ok config-files
chromium\tinstall ok half-configured
";
        let found = installed(query);
        assert_eq!(
            found.into_iter().collect::<Vec<_>>(),
            ["libssl-dev", "patchelf"]
        );
    }

    #[test]
    fn lock_holders_by_inode() {
        let locks = "\
1: POSIX  ADVISORY  WRITE 8735 fe:00:382078 0 EOF
2: FLOCK  ADVISORY  WRITE 8266 fe:00:895189 0 EOF
3: POSIX  ADVISORY  WRITE 1918 fe:00:382079 0 EOF
3: -> POSIX  ADVISORY  WRITE 2000 fe:00:382079 0 EOF
";
        assert_eq!(holders(locks, &[382079, 382078]), [8735, 1918]);
        assert!(holders(locks, &[42]).is_empty());
        assert!(holders("", &[382079]).is_empty());
    }
}
