//! Runtimes as child processes, for demos and devnets: start one, wait until it has
//! announced where it listens (see [`crate::listening`]) and its `/health` says ok,
//! stop it with SIGTERM (then SIGKILL if it lingers).
//!
//! Children are also killed when their [`Supervised`] handle is dropped, so a panic or
//! an early return in the parent leaves no process behind.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::process::{Child, Command};

use crate::listening::{Listening, READY_FILE_ENV};

/// Why a child could not be started or did not become healthy.
#[derive(Debug, thiserror::Error)]
pub enum SuperviseError {
    /// The program could not be started.
    #[error("cannot start {name} ({program}): {source}")]
    Spawn {
        /// The child's name.
        name: String,
        /// The program.
        program: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The child exited before it was healthy.
    #[error("{name} exited before it was ready ({status}); see {log}")]
    Exited {
        /// The child's name.
        name: String,
        /// Its exit status.
        status: ExitStatus,
        /// Its log file.
        log: String,
    },
    /// The child did not report healthy in time.
    #[error("{name} was not healthy within {secs} s; see {log}")]
    NotReady {
        /// The child's name.
        name: String,
        /// The wait.
        secs: u64,
        /// Its log file.
        log: String,
    },
    /// The child's announcement could not be read.
    #[error("{name} announced its addresses in {path} unreadably: {source}")]
    Announcement {
        /// The child's name.
        name: String,
        /// The ready file.
        path: String,
        /// The I/O or parse error.
        source: std::io::Error,
    },
    /// The log file could not be created.
    #[error("cannot write log {path}: {source}")]
    Log {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// A free port on 127.0.0.1 for a child to listen on (bound and released here; the
/// child binds it a moment later, and another process may take it in between: prefer
/// port 0 and [`Supervised::wait_ready`] for children that announce their addresses).
pub fn free_port() -> std::io::Result<SocketAddr> {
    std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()
}

/// A running child runtime.
pub struct Supervised {
    name: String,
    child: Child,
    log: PathBuf,
    ready: PathBuf,
}

impl Supervised {
    /// Starts `program args…` with stdout and stderr appended to `log`; it is killed
    /// if this handle is dropped. The child finds in `$BULWARK_READY_FILE` where to
    /// announce its addresses (`<log>.ready.json`).
    pub fn spawn(
        name: &str,
        program: &std::path::Path,
        args: &[&str],
        log: PathBuf,
    ) -> Result<Self, SuperviseError> {
        Self::start(name, program, args, log, false)
    }

    /// Like [`Supervised::spawn`], but the child lives on after this process exits, in
    /// a process group of its own (so a Ctrl-C meant for the parent's terminal does
    /// not reach it): for `bulwark devnet up`, which `devnet down` stops later by pid.
    pub fn spawn_detached(
        name: &str,
        program: &std::path::Path,
        args: &[&str],
        log: PathBuf,
    ) -> Result<Self, SuperviseError> {
        Self::start(name, program, args, log, true)
    }

    fn start(
        name: &str,
        program: &std::path::Path,
        args: &[&str],
        log: PathBuf,
        detached: bool,
    ) -> Result<Self, SuperviseError> {
        let log_err = |source| SuperviseError::Log {
            path: log.display().to_string(),
            source,
        };
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(log_err)?;
        let err = out.try_clone().map_err(log_err)?;
        // A file from an earlier run must not pass for this child's announcement.
        let ready = log.with_extension("ready.json");
        match std::fs::remove_file(&ready) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(log_err(e)),
            _ => {}
        }
        let mut command = Command::new(program);
        command
            .args(args)
            .env(READY_FILE_ENV, &ready)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .kill_on_drop(!detached);
        #[cfg(unix)]
        if detached {
            command.process_group(0);
        }
        let child = command.spawn().map_err(|source| SuperviseError::Spawn {
            name: name.into(),
            program: program.display().to_string(),
            source,
        })?;
        Ok(Self {
            name: name.into(),
            child,
            log,
            ready,
        })
    }

    /// The child's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The child's process id, while it runs.
    pub fn id(&self) -> Option<u32> {
        self.child.id()
    }

    /// Waits until the child has announced where it listens and, when that includes
    /// an HTTP endpoint, until its `/health` answers 200; fails early if the child
    /// exits. For runtimes started with port 0 in their config.
    pub async fn wait_ready(&mut self, timeout: Duration) -> Result<Listening, SuperviseError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let (name, ready) = (self.name.clone(), self.ready.clone());
        let listening = self
            .wait_until(deadline, timeout, || {
                let announced =
                    Listening::read_from(&ready).map_err(|source| SuperviseError::Announcement {
                        name: name.clone(),
                        path: ready.display().to_string(),
                        source,
                    });
                std::future::ready(announced)
            })
            .await?;
        if let Some(http) = listening.http {
            self.wait_until(deadline, timeout, || health_ok(http))
                .await?;
        }
        Ok(listening)
    }

    /// Waits until `GET http://{health}/health` answers 200, failing early if the
    /// child exits. For children told their port (see [`free_port`]).
    pub async fn wait_healthy(
        &mut self,
        health: SocketAddr,
        timeout: Duration,
    ) -> Result<(), SuperviseError> {
        let deadline = tokio::time::Instant::now() + timeout;
        self.wait_until(deadline, timeout, || health_ok(health))
            .await
    }

    /// Polls `probe` every 100 ms until it yields a value, the child exits or
    /// `deadline` (`timeout` after the start) passes.
    async fn wait_until<T, Fut>(
        &mut self,
        deadline: tokio::time::Instant,
        timeout: Duration,
        mut probe: impl FnMut() -> Fut,
    ) -> Result<T, SuperviseError>
    where
        Fut: std::future::Future<Output = Result<Option<T>, SuperviseError>>,
    {
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(SuperviseError::Exited {
                    name: self.name.clone(),
                    status,
                    log: self.log.display().to_string(),
                });
            }
            if let Some(value) = probe().await? {
                return Ok(value);
            }
            if tokio::time::Instant::now() > deadline {
                return Err(SuperviseError::NotReady {
                    name: self.name.clone(),
                    secs: timeout.as_secs(),
                    log: self.log.display().to_string(),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Lets a detached child run on without this handle; returns its pid.
    pub fn release(self) -> Option<u32> {
        self.child.id()
    }

    /// Asks the child to stop (SIGTERM) and waits up to `grace`, then kills it. Returns
    /// its exit status, `None` if it had to be killed.
    pub async fn stop(mut self, grace: Duration) -> Option<ExitStatus> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return Some(status);
        }
        #[cfg(unix)]
        if let Some(pid) = self.child.id().and_then(|p| i32::try_from(p).ok()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        match tokio::time::timeout(grace, self.child.wait()).await {
            Ok(Ok(status)) => Some(status),
            _ => {
                tracing::warn!(name = %self.name, "did not stop in time; killing");
                let _ = self.child.kill().await;
                None
            }
        }
    }
}

/// `Some(())` once `GET /health` on `addr` answers 200.
async fn health_ok(addr: SocketAddr) -> Result<Option<()>, SuperviseError> {
    Ok(http_get(addr, "/health")
        .await
        .is_ok_and(|(code, _)| code == 200)
        .then_some(()))
}

/// GET `http://{addr}{path}` on a runtime's telemetry endpoint: status code and body.
pub async fn http_get(addr: SocketAddr, path: &str) -> Result<(u16, String), reqwest::Error> {
    let response = reqwest::Client::new()
        .get(format!("http://{addr}{path}"))
        .timeout(Duration::from_secs(5))
        .send()
        .await?;
    let code = response.status().as_u16();
    // Whatever listens on the address answers: at most 1 MiB of it is read.
    let mut response = response;
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > MAX_HTTP_BODY {
            break;
        }
        body.extend_from_slice(&chunk);
    }
    Ok((code, String::from_utf8_lossy(&body).into_owned()))
}

/// The most of a telemetry answer [`http_get`] reads.
const MAX_HTTP_BODY: usize = 1 << 20;

/// The value of an unlabelled Prometheus counter or gauge in `text`, or the sum over
/// all its label sets.
pub fn metric_sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (key, value) = l.rsplit_once(' ')?;
            let metric = key.split('{').next()?;
            (metric == name).then(|| value.parse::<f64>().ok())?
        })
        .fold(0.0, |a, b| a + b)
}

/// Whether process `pid` is alive and its command line contains `marker` (a path only
/// this devnet uses), so a recycled pid is never taken for one of ours.
#[cfg(target_os = "linux")]
pub fn is_ours(pid: u32, marker: &str) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|raw| {
            String::from_utf8_lossy(&raw)
                .replace('\0', " ")
                .contains(marker)
        })
        .unwrap_or(false)
        && !is_zombie(pid)
}

#[cfg(target_os = "linux")]
fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next().map(|s| s == "Z"))
        })
        .unwrap_or(false)
}

/// Stops process `pid` (one of ours, see [`is_ours`]) with SIGTERM, waiting up to
/// `grace` before SIGKILL. Returns whether it stopped on SIGTERM.
#[cfg(target_os = "linux")]
pub async fn terminate(pid: u32, marker: &str, grace: Duration) -> bool {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    let Ok(raw) = i32::try_from(pid) else {
        return false;
    };
    if !is_ours(pid, marker) {
        return true;
    }
    let _ = kill(Pid::from_raw(raw), Signal::SIGTERM);
    let deadline = tokio::time::Instant::now() + grace;
    while tokio::time::Instant::now() < deadline {
        if !is_ours(pid, marker) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = kill(Pid::from_raw(raw), Signal::SIGKILL);
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_sums_cover_label_sets() {
        let text = "# TYPE x counter\nx{status=\"ACCEPTED\"} 4\nx{status=\"BAD\"} 1\nxy 9\ny 2\n";
        assert_eq!(metric_sum(text, "x"), 5.0);
        assert_eq!(metric_sum(text, "y"), 2.0);
        assert_eq!(metric_sum(text, "z"), 0.0);
    }

    #[tokio::test]
    async fn ready_means_announced_by_this_child() {
        let dir = tempfile::tempdir().expect("dir");
        let log = dir.path().join("child.log");
        let sh = std::path::Path::new("/bin/sh");
        let announce = r#"printf '{"grpc":"127.0.0.1:4100"}' > "$BULWARK_READY_FILE.partial"
            mv "$BULWARK_READY_FILE.partial" "$BULWARK_READY_FILE"; exec sleep 30"#;
        let mut child =
            Supervised::spawn("child", sh, &["-c", announce], log.clone()).expect("spawn");
        let listening = child
            .wait_ready(Duration::from_secs(20))
            .await
            .expect("ready");
        assert_eq!(
            listening.grpc,
            Some("127.0.0.1:4100".parse().expect("addr"))
        );
        assert_eq!(listening.http, None);
        child.stop(Duration::from_secs(5)).await;

        // The next child under the same log does not inherit that announcement: it
        // exits without one, and that is what the wait reports.
        let mut quitter =
            Supervised::spawn("quitter", sh, &["-c", "sleep 1; exit 3"], log).expect("spawn");
        match quitter.wait_ready(Duration::from_secs(20)).await {
            Err(SuperviseError::Exited { status, .. }) => assert_eq!(status.code(), Some(3)),
            other => panic!("expected an early exit, got {other:?}"),
        }

        // One that never announces times out.
        let log = dir.path().join("silent.log");
        let mut silent =
            Supervised::spawn("silent", sh, &["-c", "exec sleep 30"], log).expect("spawn");
        assert!(matches!(
            silent.wait_ready(Duration::from_millis(300)).await,
            Err(SuperviseError::NotReady { .. })
        ));
    }
}
