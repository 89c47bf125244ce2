//! Disks the drills can fill or freeze: a small tmpfs (a disk that runs out of space) and an
//! ext4 image on a loop device (a disk whose writes `fsfreeze` can hold, as a stalled volume
//! would). Both need root; each is unmounted (and thawed) when dropped.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A mounted filesystem of the drill's own.
pub struct Mount {
    pub dir: PathBuf,
    frozen: bool,
    /// Holds the mount point and the image file.
    _parent: tempfile::TempDir,
}

fn run(program: &str, args: &[&str]) -> Result<(), String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("{program}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{program} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn path_str(path: &Path) -> Result<&str, String> {
    path.to_str()
        .ok_or_else(|| format!("{} is not UTF-8", path.display()))
}

impl Mount {
    /// A tmpfs of `megabytes`.
    pub fn tmpfs(megabytes: u64) -> Result<Mount, String> {
        let parent = tempfile::tempdir().map_err(|e| e.to_string())?;
        let dir = parent.path().join("disk");
        std::fs::create_dir(&dir).map_err(|e| e.to_string())?;
        run(
            "mount",
            &[
                "-t",
                "tmpfs",
                "-o",
                &format!("size={megabytes}m"),
                "tmpfs",
                path_str(&dir)?,
            ],
        )?;
        Ok(Mount {
            dir,
            frozen: false,
            _parent: parent,
        })
    }

    /// An ext4 filesystem of `megabytes` in an image file, mounted through a loop device.
    pub fn ext4(megabytes: u64) -> Result<Mount, String> {
        let parent = tempfile::tempdir().map_err(|e| e.to_string())?;
        let image = parent.path().join("disk.img");
        let file = std::fs::File::create(&image).map_err(|e| e.to_string())?;
        file.set_len(megabytes << 20).map_err(|e| e.to_string())?;
        run("mkfs.ext4", &["-q", "-F", path_str(&image)?])?;
        let dir = parent.path().join("disk");
        std::fs::create_dir(&dir).map_err(|e| e.to_string())?;
        run("mount", &["-o", "loop", path_str(&image)?, path_str(&dir)?])?;
        Ok(Mount {
            dir,
            frozen: false,
            _parent: parent,
        })
    }

    /// Holds every write to the filesystem until [`Mount::thaw`].
    pub fn freeze(&mut self) -> Result<(), String> {
        run("fsfreeze", &["--freeze", path_str(&self.dir)?])?;
        self.frozen = true;
        Ok(())
    }

    pub fn thaw(&mut self) -> Result<(), String> {
        run("fsfreeze", &["--unfreeze", path_str(&self.dir)?])?;
        self.frozen = false;
        Ok(())
    }

    /// Bytes still free.
    pub fn free_bytes(&self) -> u64 {
        let Ok(path) = std::ffi::CString::new(self.dir.as_os_str().as_encoded_bytes()) else {
            return 0;
        };
        // SAFETY: statvfs fills the struct we pass for a NUL-terminated path we own.
        unsafe {
            let mut stat: libc::statvfs = std::mem::zeroed();
            if libc::statvfs(path.as_ptr(), &mut stat) != 0 {
                return 0;
            }
            stat.f_bavail as u64 * stat.f_frsize as u64
        }
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        if self.frozen {
            let _ = self.thaw();
        }
        if let Ok(dir) = path_str(&self.dir) {
            if run("umount", &[dir]).is_err() {
                // A process still holds a file there: detach now, unmount once it lets go.
                let _ = run("umount", &["-l", dir]);
            }
        }
    }
}

/// Whether this process may mount filesystems (the full-disk and stall drills need it).
pub fn can_mount() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}
