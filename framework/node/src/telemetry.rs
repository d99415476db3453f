//! Logs, metrics and the health endpoint of a runtime.
//!
//! Runtimes record metrics through the [`metrics`] facade; [`install_metrics`] puts a
//! Prometheus recorder behind it once per process, and [`serve`] answers
//! `GET /metrics` (Prometheus text) and `GET /health` (JSON; 503 while the runtime has
//! not reached the chain recently, so an orchestrator can restart or hold traffic).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde::Serialize;

/// Metric names, in one place so dashboards and tests agree with the code.
pub mod names {
    /// Tasks the aggregator opened.
    pub const TASKS_OPENED: &str = "bulwark_aggregator_tasks_opened_total";
    /// Submissions answered by the aggregator's gRPC service, by `status`.
    pub const SUBMISSIONS: &str = bulwark_net::server::SUBMISSIONS_METRIC;
    /// Session openings answered by the aggregator's gRPC service, by `status`.
    pub const SESSIONS: &str = bulwark_net::server::SESSIONS_METRIC;
    /// Evidence a challenger handled, by `result` (landed, known, already_used, late,
    /// invalid, unsupported, failed).
    pub const CHALLENGER_EVIDENCE: &str = "bulwark_challenger_evidence_total";
    /// Proofs of offences offered to challengers, by `offence`.
    pub const EVIDENCE: &str = "bulwark_aggregator_evidence_total";
    /// Signatures found invalid at aggregation and dropped.
    pub const BAD_SIGNATURES: &str = "bulwark_aggregator_bad_signatures_total";
    /// Certificates that landed on chain (or found the task already answered).
    pub const CERTIFICATES: &str = "bulwark_aggregator_certificates_total";
    /// Two-phase reports left out of a proposal (evidence recorded).
    pub const OUTLIERS: &str = "bulwark_aggregator_outliers_total";
    /// Reports an operator sent, by aggregator reply `status`.
    pub const OPERATOR_REPORTS: &str = "bulwark_operator_reports_total";
    /// Tasks that expired without a certificate.
    pub const TASKS_EXPIRED: &str = "bulwark_aggregator_tasks_expired_total";
    /// Seconds from opening a task to its certificate.
    pub const TIME_TO_CERTIFICATE: &str = "bulwark_aggregator_time_to_certificate_seconds";
    /// The lander's outcomes, by `outcome`: landed, answered (another certificate
    /// was first), retry, expired (the deadline passed first).
    pub const LANDINGS: &str = "bulwark_aggregator_landings_total";
    /// Aggregator store writes that failed (accepted work then lives in memory only).
    pub const STORE_ERRORS: &str = "bulwark_aggregator_store_errors_total";
    /// Seconds from a certificate to its transaction landing.
    pub const TIME_TO_LAND: &str = "bulwark_aggregator_time_to_land_seconds";
    /// Tasks an operator saw.
    pub const OPERATOR_TASKS: &str = "bulwark_operator_tasks_total";
    /// Responses an operator sent, by aggregator reply `status`.
    pub const OPERATOR_SUBMISSIONS: &str = "bulwark_operator_submissions_total";
    /// Tasks an operator abandoned because the chain passed their deadline block
    /// while it was still executing or observing.
    pub const OPERATOR_DEADLINES: &str = "bulwark_operator_deadlines_passed_total";
    /// Tasks an operator skipped because too many were in flight.
    pub const OPERATOR_SKIPPED: &str = "bulwark_operator_tasks_skipped_total";
    /// Chain polls that failed.
    pub const CHAIN_ERRORS: &str = "bulwark_chain_poll_errors_total";
}

/// Starts `tracing` output to stderr with `filter` (overridden by `RUST_LOG`). A second
/// call in the same process does nothing.
pub fn init_tracing(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(filter))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// Installs the process-wide Prometheus recorder (once) and returns its handle.
pub fn install_metrics() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(&[
                    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                ])
                .map(PrometheusBuilder::build_recorder)
                .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
            let handle = recorder.handle();
            // Fails only when another recorder was installed first; metrics then go
            // there and this handle renders what it has (nothing).
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// Liveness of a runtime: when it last reached the chain, and the head it saw.
#[derive(Debug, Default)]
pub struct Health {
    last_chain_ok_ms: AtomicU64,
    head: AtomicU64,
}

/// What `/health` answers.
#[derive(Clone, Debug, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct HealthReport {
    /// `ok` or `stale`.
    pub status: String,
    /// The runtime (`aggregator`, `operator`).
    pub role: String,
    /// The last chain head seen.
    pub head: u64,
    /// Milliseconds since the chain last answered; absent if it never did.
    pub chain_age_ms: Option<u64>,
}

impl Health {
    /// Records a successful chain poll that saw `head`.
    pub fn chain_ok(&self, head: u64) {
        self.head.store(head, Ordering::Relaxed);
        self.last_chain_ok_ms.store(now_ms(), Ordering::Relaxed);
    }

    /// The report, `ok` when the chain answered within `max_age`.
    pub fn report(&self, role: &str, max_age: Duration) -> HealthReport {
        let last = self.last_chain_ok_ms.load(Ordering::Relaxed);
        let age = (last > 0).then(|| now_ms().saturating_sub(last));
        let fresh = age.is_some_and(|a| u128::from(a) <= max_age.as_millis());
        HealthReport {
            status: if fresh { "ok" } else { "stale" }.into(),
            role: role.into(),
            head: self.head.load(Ordering::Relaxed),
            chain_age_ms: age,
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[derive(Clone)]
struct Endpoint {
    metrics: PrometheusHandle,
    health: Arc<Health>,
    role: &'static str,
    max_age: Duration,
}

/// Binds `addr` for [`serve`]; returns the listener and the bound address (for port 0).
pub async fn bind(addr: SocketAddr) -> std::io::Result<(tokio::net::TcpListener, SocketAddr)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    Ok((listener, local))
}

/// Serves `/metrics` and `/health` on `listener` until `shutdown` resolves. `/health`
/// is 200 while the chain answered within `max_age`, 503 otherwise.
pub async fn serve(
    listener: tokio::net::TcpListener,
    metrics: PrometheusHandle,
    health: Arc<Health>,
    role: &'static str,
    max_age: Duration,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = axum::Router::new()
        .route("/metrics", get(render_metrics))
        .route("/health", get(render_health))
        .with_state(Endpoint {
            metrics,
            health,
            role,
            max_age,
        });
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

async fn render_metrics(State(e): State<Endpoint>) -> impl IntoResponse {
    (
        [("content-type", "text/plain; version=0.0.4")],
        e.metrics.render(),
    )
}

async fn render_health(State(e): State<Endpoint>) -> impl IntoResponse {
    let report = e.health.report(e.role, e.max_age);
    let code = if report.status == "ok" {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_goes_stale_without_chain_contact() {
        let health = Health::default();
        let never = health.report("operator", Duration::from_secs(5));
        assert_eq!(never.status, "stale");
        assert_eq!(never.chain_age_ms, None);
        health.chain_ok(42);
        let fresh = health.report("operator", Duration::from_secs(5));
        assert_eq!((fresh.status.as_str(), fresh.head), ("ok", 42));
        std::thread::sleep(Duration::from_millis(20));
        let stale = health.report("operator", Duration::from_millis(5));
        assert_eq!(stale.status, "stale");
    }
}
