//! The aggregator's journal: arbitrary file contents -> replayed submissions and
//! reports.
//!
//! Replaying never fails on a bad line (it is skipped), and what replays, appended to
//! a fresh journal, replays the same: the journal reads back what it writes.

#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use bulwark_core::SignedResponse;
use bulwark_node::journal::Journal;
use libfuzzer_sys::fuzz_target;

/// Task ids looked up per input: every decoded line's, up to this many.
const MAX_TASKS: usize = 8;

/// A folder for the journal files, in memory when the machine has `/dev/shm` (the
/// journal syncs every append).
fn dir() -> &'static PathBuf {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let shm = std::path::Path::new("/dev/shm");
        if shm.is_dir() {
            tempfile::tempdir_in(shm)
        } else {
            tempfile::tempdir()
        }
        .expect("a temporary folder")
    });
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| dir.path().to_path_buf())
}

fn fields(sub: &SignedResponse) -> (u64, [u8; 20], Vec<u8>, [u8; 48]) {
    (
        sub.task_id,
        sub.operator.0,
        sub.response.clone(),
        sub.signature.to_bytes(),
    )
}

fuzz_target!(|data: &[u8]| {
    let input = dir().join("input.journal");
    std::fs::write(&input, data).expect("write the input");
    let journal = Journal::open(&input).expect("open the input");

    // The task ids of lines that are JSON objects at all, as the journal reads them.
    let mut tasks: Vec<u64> = data
        .split(|&b| b == b'\n')
        .filter_map(|line| serde_json::from_slice::<serde_json::Value>(line).ok())
        .filter_map(|v| v.get("task_id").and_then(serde_json::Value::as_u64))
        .collect();
    tasks.sort_unstable();
    tasks.dedup();
    tasks.truncate(MAX_TASKS);

    let copy = dir().join("copy.journal");
    let _ = std::fs::remove_file(&copy);
    let mut written = Journal::open(&copy).expect("open the copy");
    let mut replayed = Vec::new();
    for &task in &tasks {
        // A line that is not UTF-8 makes the whole replay an I/O error, as `lines()`
        // reports it; that is the journal's contract, not a crash.
        let (Ok(responses), Ok(reports)) = (journal.replay(task), journal.replay_reports(task))
        else {
            return;
        };
        for sub in &responses {
            assert_eq!(sub.task_id, task);
            written.append(sub).expect("append a response");
        }
        for report in &reports {
            assert_eq!(report.task_id, task);
            written.append_report(report).expect("append a report");
        }
        replayed.push((task, responses, reports));
    }
    let written = Journal::open(&copy).expect("reopen the copy");
    for (task, responses, reports) in replayed {
        let again = written.replay(task).expect("replay the copy");
        assert_eq!(
            again.iter().map(fields).collect::<Vec<_>>(),
            responses.iter().map(fields).collect::<Vec<_>>()
        );
        assert_eq!(
            written.replay_reports(task).expect("replay the copy"),
            reports
        );
    }
});
