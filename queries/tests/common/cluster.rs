//! Test servers for the ClickHouse tests: a cluster of ClickHouse 18.16 instances on loopback,
//! started by `scripts/clickhouse.sh` and stopped when the guard drops, also when a test fails.

use std::path::{Path, PathBuf};
use std::process::Command;

use footfall_queries::clickhouse::{ClickHouseConfig, Client};

/// `scripts/clickhouse.sh`, found from the crate being tested (the workspace's root or
/// `queries/`).
fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|dir| dir.join("scripts/clickhouse.sh"))
        .find(|path| path.exists())
        .expect("scripts/clickhouse.sh above the crate")
}

pub fn run_script(args: &[&str]) -> String {
    let output = Command::new("bash")
        .arg(script())
        .args(args)
        .output()
        .expect("bash runs");
    assert!(
        output.status.success(),
        "clickhouse.sh {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The test servers: started on creation, stopped on drop, also when the test fails.
pub struct Cluster {
    /// Under /tmp: the servers run as the `clickhouse` user, which cannot reach /root.
    dir: tempfile::TempDir,
    http_ports: Vec<u16>,
}

impl Cluster {
    pub fn start(shards: usize) -> Cluster {
        let dir = tempfile::Builder::new()
            .prefix("footfall-clickhouse-")
            .tempdir_in("/tmp")
            .unwrap();
        let path = dir.path().to_str().unwrap().to_owned();
        // Owned by the guard from here on: a failing start stops what it started itself.
        let ports = run_script(&["start", &path, "--shards", &shards.to_string()]);
        let http_ports = ports
            .lines()
            .map(|line| line.split_whitespace().next().unwrap().parse().unwrap())
            .collect::<Vec<u16>>();
        assert_eq!(http_ports.len(), shards);
        Cluster { dir, http_ports }
    }

    pub fn path(&self) -> &str {
        self.dir.path().to_str().unwrap()
    }

    pub fn clients(&self) -> Vec<Client> {
        self.http_ports
            .iter()
            .map(|port| Client::new(&ClickHouseConfig::new(format!("http://127.0.0.1:{port}"))))
            .collect()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let status = Command::new("bash")
            .arg(script())
            .args(["stop", self.path()])
            .status();
        if !matches!(status, Ok(s) if s.success()) {
            eprintln!(
                "stopping the ClickHouse test servers in {} failed",
                self.path()
            );
        }
    }
}
