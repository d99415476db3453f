//! Runtimes as child processes, for demos and devnets: start one, wait until its
//! `/health` says ok, stop it with SIGTERM (then SIGKILL if it lingers).
//!
//! Children are also killed when their [`Supervised`] handle is dropped, so a panic or
//! an early return in the parent leaves no process behind.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::process::{Child, Command};

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
/// child binds it a moment later).
pub fn free_port() -> std::io::Result<SocketAddr> {
    std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()
}

/// A running child runtime.
pub struct Supervised {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Supervised {
    /// Starts `program args…` with stdout and stderr appended to `log`; it is killed
    /// if this handle is dropped.
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
        let mut command = Command::new(program);
        command
            .args(args)
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

    /// Waits until `GET http://{health}/health` answers 200, failing early if the
    /// child exits.
    pub async fn wait_healthy(
        &mut self,
        health: SocketAddr,
        timeout: Duration,
    ) -> Result<(), SuperviseError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(SuperviseError::Exited {
                    name: self.name.clone(),
                    status,
                    log: self.log.display().to_string(),
                });
            }
            if http_get(health, "/health")
                .await
                .is_ok_and(|(code, _)| code == 200)
            {
                return Ok(());
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

/// GET `http://{addr}{path}` on a runtime's telemetry endpoint: status code and body.
pub async fn http_get(addr: SocketAddr, path: &str) -> Result<(u16, String), reqwest::Error> {
    let response = reqwest::Client::new()
        .get(format!("http://{addr}{path}"))
        .timeout(Duration::from_secs(5))
        .send()
        .await?;
    let code = response.status().as_u16();
    Ok((code, response.text().await?))
}

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
}
