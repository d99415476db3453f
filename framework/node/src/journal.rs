//! The aggregator's journal of accepted work: submissions (responses and
//! endorsements) and, for two-phase tasks, reports. One JSON line each, appended and
//! flushed before the operator is told "accepted", so a restarted aggregator replays
//! them when it reopens the task: no accepted signature is lost, and a round whose
//! operators reported once (they do not report again) can still be proposed.
//!
//! # Security
//! The journal is local state, but it is parsed like input: a line that does not
//! decode (a torn write at a crash, say) is skipped with a warning.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use bulwark_core::{OperatorId, SignedReport, SignedResponse};
use bulwark_crypto::Signature;

/// What a journal line holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
enum Kind {
    /// A response or endorsement (lines written before reports existed have no kind).
    #[default]
    Response,
    /// A two-phase report.
    Report,
}

/// One journal line.
#[derive(serde::Serialize, serde::Deserialize)]
struct Record {
    task_id: u64,
    #[serde(default)]
    kind: Kind,
    operator: String,
    /// The signed bytes: the response, or the report.
    response: String,
    signature: Signature,
}

/// An append-only file of accepted submissions and reports.
pub struct Journal {
    path: PathBuf,
    file: std::fs::File,
}

impl Journal {
    /// Opens (creating if needed) the journal at `path`.
    pub fn open(path: impl AsRef<Path>) -> std::io::Result<Self> {
        let path = path.as_ref().to_path_buf();
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
        Ok(Self { path, file })
    }

    /// Appends and flushes one accepted submission.
    pub fn append(&mut self, sub: &SignedResponse) -> std::io::Result<()> {
        self.write(
            sub.task_id,
            Kind::Response,
            sub.operator,
            &sub.response,
            sub.signature,
        )
    }

    /// Appends and flushes one accepted report.
    pub fn append_report(&mut self, report: &SignedReport) -> std::io::Result<()> {
        self.write(
            report.task_id,
            Kind::Report,
            report.operator,
            &report.report,
            report.signature,
        )
    }

    fn write(
        &mut self,
        task_id: u64,
        kind: Kind,
        operator: OperatorId,
        bytes: &[u8],
        signature: Signature,
    ) -> std::io::Result<()> {
        let record = Record {
            task_id,
            kind,
            operator: hex::encode(operator.0),
            response: hex::encode(bytes),
            signature,
        };
        let mut line = serde_json::to_vec(&record).map_err(std::io::Error::other)?;
        line.push(b'\n');
        self.file.write_all(&line)?;
        self.file.sync_data()
    }

    /// Every well-formed submission recorded for `task_id`, in order.
    pub fn replay(&self, task_id: u64) -> std::io::Result<Vec<SignedResponse>> {
        Ok(self
            .records(task_id, Kind::Response)?
            .into_iter()
            .map(|(operator, response, signature)| SignedResponse {
                task_id,
                operator,
                response,
                signature,
            })
            .collect())
    }

    /// Every well-formed report recorded for `task_id`, in order.
    pub fn replay_reports(&self, task_id: u64) -> std::io::Result<Vec<SignedReport>> {
        Ok(self
            .records(task_id, Kind::Report)?
            .into_iter()
            .map(|(operator, report, signature)| SignedReport {
                task_id,
                operator,
                report,
                signature,
            })
            .collect())
    }

    /// The well-formed lines of `kind` for `task_id`: operator, bytes, signature.
    fn records(
        &self,
        task_id: u64,
        kind: Kind,
    ) -> std::io::Result<Vec<(OperatorId, Vec<u8>, Signature)>> {
        let reader = std::io::BufReader::new(std::fs::File::open(&self.path)?);
        let mut out = Vec::new();
        // Split on bytes, not `lines()`: a line that is not UTF-8 (a torn write) is
        // one bad line to skip, not an error that loses the whole file.
        for line in reader.split(b'\n') {
            let line = line?;
            let Ok(record) = serde_json::from_slice::<Record>(&line) else {
                tracing::warn!(path = %self.path.display(), "undecodable journal line skipped");
                continue;
            };
            if record.task_id != task_id || record.kind != kind {
                continue;
            }
            let (Ok(operator), Ok(bytes)) =
                (hex::decode(&record.operator), hex::decode(&record.response))
            else {
                continue;
            };
            let Ok(operator) = <[u8; 20]>::try_from(operator.as_slice()) else {
                continue;
            };
            out.push((OperatorId(operator), bytes, record.signature));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use bulwark_crypto::{Domain, SecretKey};

    use super::*;

    #[test]
    fn reports_and_submissions_replay_apart_and_torn_lines_are_skipped() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("aggregator.journal");
        let key = SecretKey::random().expect("key");
        let signature = key.sign(&Domain::SIGNATURE, b"message");
        let operator = OperatorId([7; 20]);
        // A line from before reports were journaled: no `kind`, so a response.
        let old = format!(
            "{{\"task_id\":4,\"operator\":\"{}\",\"response\":\"0a0b\",\"signature\":{}}}\n",
            hex::encode(operator.0),
            serde_json::to_string(&signature).expect("json")
        );
        std::fs::write(&path, old).expect("old line");
        let mut journal = Journal::open(&path).expect("open");
        let report = SignedReport {
            task_id: 4,
            operator,
            report: vec![1, 2, 3],
            signature,
        };
        journal.append_report(&report).expect("report");
        let endorsement = SignedResponse {
            task_id: 4,
            operator,
            response: vec![9],
            signature,
        };
        journal.append(&endorsement).expect("endorsement");
        journal
            .append_report(&SignedReport {
                task_id: 5,
                ..report.clone()
            })
            .expect("other task");
        // A torn write at a crash.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(b"{\"task_id\":4,\"kind\":\"rep"))
            .expect("torn line");

        let journal = Journal::open(&path).expect("reopen");
        assert_eq!(journal.replay_reports(4).expect("reports"), vec![report]);
        let responses = journal.replay(4).expect("responses");
        assert_eq!(responses.len(), 2);
        assert_eq!(responses[0].response, vec![0x0a, 0x0b]);
        assert_eq!(responses[1].response, endorsement.response);
        assert_eq!(responses[1].signature, endorsement.signature);
        assert_eq!(journal.replay_reports(5).expect("reports").len(), 1);
        assert!(journal.replay(5).expect("responses").is_empty());
    }

    #[test]
    fn a_line_that_is_not_utf8_is_skipped_not_fatal() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("aggregator.journal");
        std::fs::write(&path, b"\xff\xfe not utf-8\n").expect("bad line");
        let mut journal = Journal::open(&path).expect("open");
        let key = SecretKey::random().expect("key");
        let response = SignedResponse {
            task_id: 1,
            operator: OperatorId([3; 20]),
            response: vec![4],
            signature: key.sign(&Domain::SIGNATURE, b"message"),
        };
        journal.append(&response).expect("append");
        let journal = Journal::open(&path).expect("reopen");
        assert_eq!(journal.replay(1).expect("replays"), vec![response]);
    }
}
