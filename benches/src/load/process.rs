//! The servers under load, as child processes: started, watched (CPU time and peak resident
//! memory from `/proc`) and stopped with SIGTERM, as a service manager would stop them.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running server and the lines it has logged.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
    /// When each line of `log` arrived, for drills that time what the server said.
    log_times: Arc<Mutex<Vec<Instant>>>,
}

/// How a stop went.
#[derive(Debug)]
pub struct Stopped {
    pub status: ExitStatus,
    pub took: Duration,
    /// Everything the server logged.
    pub log: Vec<String>,
}

impl Server {
    /// Runs `command` (stderr piped) and waits until it logs `listening on http://ADDR`.
    pub fn start(mut command: Command) -> Result<Server, String> {
        command.stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start {command:?}: {e}"))?;
        let stderr = child.stderr.take().expect("piped");
        let log = Arc::new(Mutex::new(Vec::new()));
        let log_times = Arc::new(Mutex::new(Vec::new()));
        let (addr_tx, addr_rx) = mpsc::channel();
        let (lines, times) = (log.clone(), log_times.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    let addr = rest.split_whitespace().next().unwrap_or_default();
                    let _ = addr_tx.send(addr.parse::<SocketAddr>());
                }
                // Times first: a reader that sees the line also finds its time.
                times.lock().unwrap().push(Instant::now());
                lines.lock().unwrap().push(line);
            }
        });
        match addr_rx.recv_timeout(Duration::from_secs(120)) {
            Ok(Ok(addr)) => Ok(Server {
                child,
                addr,
                log,
                log_times,
            }),
            outcome => {
                let _ = child.kill();
                let _ = child.wait();
                Err(format!(
                    "{command:?} did not start ({outcome:?}); it logged:\n{}",
                    log.lock().unwrap().join("\n")
                ))
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU time the server has used so far (user and system), from `/proc/PID/stat`.
    pub fn cpu(&self) -> Duration {
        cpu_of(self.pid())
    }

    /// The most memory the server has held resident since start or the last
    /// [`Server::reset_peak`] (`VmHWM`).
    pub fn peak_rss_bytes(&self) -> u64 {
        status_kib(self.pid(), "VmHWM:") * 1024
    }

    /// How many lines the server has logged so far.
    pub fn log_len(&self) -> usize {
        self.log.lock().unwrap().len()
    }

    /// Memory resident now (`VmRSS`).
    pub fn rss_bytes(&self) -> u64 {
        status_kib(self.pid(), "VmRSS:") * 1024
    }

    /// Starts the peak over (`echo 5 > /proc/PID/clear_refs`), so a phase measures its own.
    pub fn reset_peak(&self) {
        let _ = std::fs::write(format!("/proc/{}/clear_refs", self.pid()), "5");
    }

    /// The last line the server logged holding `needle`.
    pub fn last_line(&self, needle: &str) -> Option<String> {
        let log = self.log.lock().unwrap();
        log.iter().rev().find(|line| line.contains(needle)).cloned()
    }

    /// When the server first logged a line holding `needle`, and the line.
    pub fn first_line(&self, needle: &str) -> Option<(Instant, String)> {
        let log = self.log.lock().unwrap();
        let at = log.iter().position(|line| line.contains(needle))?;
        Some((self.log_times.lock().unwrap()[at], log[at].clone()))
    }

    /// SIGKILL, as a crash or the OOM killer would end it, and waits for the exit.
    pub fn kill(mut self) -> Result<Stopped, String> {
        let started = Instant::now();
        self.child.kill().map_err(|e| e.to_string())?;
        let status = self.child.wait().map_err(|e| e.to_string())?;
        std::thread::sleep(Duration::from_millis(50));
        Ok(Stopped {
            status,
            took: started.elapsed(),
            log: self.log.lock().unwrap().clone(),
        })
    }

    /// SIGTERM, then waits up to `limit` for the exit (then SIGKILL, reported as a failure).
    pub fn stop(mut self, limit: Duration) -> Result<Stopped, String> {
        let started = Instant::now();
        // SAFETY: kill(2) with our own child's pid has no memory effects.
        unsafe { libc::kill(self.pid() as libc::pid_t, libc::SIGTERM) };
        loop {
            if let Some(status) = self.child.try_wait().map_err(|e| e.to_string())? {
                // Let the log reader catch the last lines.
                std::thread::sleep(Duration::from_millis(50));
                return Ok(Stopped {
                    status,
                    took: started.elapsed(),
                    log: self.log.lock().unwrap().clone(),
                });
            }
            if started.elapsed() > limit {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return Err(format!("still running {limit:?} after SIGTERM; killed"));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// CPU time (user and system) of a process, this one included.
pub fn cpu_of(pid: u32) -> Duration {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return Duration::ZERO;
    };
    // Fields after the command name, which is in parentheses and may hold spaces: state is the
    // first, utime the 12th and stime the 13th.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<u64>().ok())
        .sum();
    // SAFETY: sysconf reads a constant.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Duration::from_nanos(ticks * 1_000_000_000 / per_second)
}

/// CPU time of every ClickHouse server process on this machine (`clickhouse-server`, named
/// `clickhouse-serv` by the kernel): what a ClickHouse store costs beside the server that writes
/// to it, when the shards run here.
pub fn clickhouse_cpu() -> Duration {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Duration::ZERO;
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|name| name.starts_with("clickhouse-serv"))
        })
        .map(cpu_of)
        .sum()
}

fn status_kib(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(key))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

/// A file next to this executable (the release folder holds every binary of the workspace).
pub fn sibling(name: &str) -> std::path::PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
        .unwrap_or_default()
        .join(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_its_own_cpu_and_memory() {
        let pid = std::process::id();
        // Spins until the kernel has counted the time, not for a fixed while: on a loaded
        // machine 300 ms of wall time gave this thread less than 100 ms of CPU.
        let spin = Instant::now();
        let mut x = 0u64;
        while cpu_of(pid) < Duration::from_millis(150) && spin.elapsed() < Duration::from_secs(60) {
            for _ in 0..100_000 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
            }
        }
        assert!(
            cpu_of(pid) >= Duration::from_millis(100),
            "{:?}",
            cpu_of(pid)
        );
        assert!(
            status_kib(pid, "VmHWM:") > 100,
            "{}",
            status_kib(pid, "VmHWM:")
        );
    }
}
