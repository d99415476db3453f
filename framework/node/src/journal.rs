//! The aggregator's journal of accepted submissions: one JSON line each, appended and
//! flushed before the operator is told "accepted", so a restarted aggregator replays
//! them when it reopens the task and no accepted signature is lost.
//!
//! # Security
//! The journal is local state, but it is parsed like input: a line that does not
//! decode (a torn write at a crash, say) is skipped with a warning.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use bulwark_core::{OperatorId, SignedResponse};
use bulwark_crypto::Signature;

/// One journal line.
#[derive(serde::Serialize, serde::Deserialize)]
struct Record {
    task_id: u64,
    operator: String,
    response: String,
    signature: Signature,
}

/// An append-only file of accepted submissions.
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
        let record = Record {
            task_id: sub.task_id,
            operator: hex::encode(sub.operator.0),
            response: hex::encode(&sub.response),
            signature: sub.signature,
        };
        let mut line = serde_json::to_vec(&record).map_err(std::io::Error::other)?;
        line.push(b'\n');
        self.file.write_all(&line)?;
        self.file.sync_data()
    }

    /// Every well-formed submission recorded for `task_id`, in order.
    pub fn replay(&self, task_id: u64) -> std::io::Result<Vec<SignedResponse>> {
        let reader = std::io::BufReader::new(std::fs::File::open(&self.path)?);
        let mut out = Vec::new();
        for line in reader.lines() {
            let line = line?;
            let Ok(record) = serde_json::from_str::<Record>(&line) else {
                tracing::warn!(path = %self.path.display(), "undecodable journal line skipped");
                continue;
            };
            if record.task_id != task_id {
                continue;
            }
            let (Ok(operator), Ok(response)) =
                (hex::decode(&record.operator), hex::decode(&record.response))
            else {
                continue;
            };
            let Ok(operator) = <[u8; 20]>::try_from(operator.as_slice()) else {
                continue;
            };
            out.push(SignedResponse {
                task_id,
                operator: OperatorId(operator),
                response,
                signature: record.signature,
            });
        }
        Ok(out)
    }
}
