//! Evidence of slashable offences an aggregator saw, served to challengers as a
//! stream (`StreamEvidence`): each item is the exact bytes `TaskManager.challenge`
//! takes, with a sequence number so a challenger resumes where it stopped, and the
//! id of the aggregator's run so it knows when the numbering started over.
//!
//! # Security
//! Evidence is public (every byte of it can be checked on chain by anyone), so the
//! stream needs no session; it holds at most [`MAX_ITEMS`] items (oldest dropped) and
//! the server serves at most a few streams at once. A challenger must verify every
//! item before acting on it: the aggregator that sends it may lie.

use std::collections::VecDeque;

use tokio::sync::watch;

/// Items kept for challengers that connect late; older ones are dropped.
pub const MAX_ITEMS: usize = 4096;

/// One piece of evidence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvidenceItem {
    /// 1, 2, ... within one run of the aggregator.
    pub sequence: u64,
    /// The task.
    pub task_id: u64,
    /// The offence (`keccak256` of its name).
    pub offence: [u8; 32],
    /// The offender.
    pub operator: [u8; 20],
    /// What `TaskManager.challenge` takes.
    pub evidence: Vec<u8>,
}

/// The evidence of one aggregator run.
pub struct EvidenceLog {
    run: [u8; 16],
    items: std::sync::Mutex<VecDeque<EvidenceItem>>,
    latest: watch::Sender<u64>,
}

impl std::fmt::Debug for EvidenceLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvidenceLog")
            .field("latest", &*self.latest.borrow())
            .finish_non_exhaustive()
    }
}

impl Default for EvidenceLog {
    fn default() -> Self {
        Self::new()
    }
}

impl EvidenceLog {
    /// An empty log with a fresh run id (random; from the clock and process id if the
    /// system has no randomness to give, which only has to differ between runs).
    pub fn new() -> Self {
        let mut run = [0u8; 16];
        if getrandom::fill(&mut run).is_err() {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default();
            run[..12].copy_from_slice(&nanos.to_be_bytes()[4..]);
            run[12..].copy_from_slice(&std::process::id().to_be_bytes());
        }
        Self {
            run,
            items: Default::default(),
            latest: watch::channel(0).0,
        }
    }

    /// This run's id.
    pub fn run(&self) -> [u8; 16] {
        self.run
    }

    fn items(&self) -> std::sync::MutexGuard<'_, VecDeque<EvidenceItem>> {
        self.items.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records evidence; returns its sequence number.
    pub fn push(
        &self,
        task_id: u64,
        offence: [u8; 32],
        operator: [u8; 20],
        evidence: Vec<u8>,
    ) -> u64 {
        let mut items = self.items();
        let sequence = *self.latest.borrow() + 1;
        items.push_back(EvidenceItem {
            sequence,
            task_id,
            offence,
            operator,
            evidence,
        });
        while items.len() > MAX_ITEMS {
            items.pop_front();
        }
        self.latest.send_replace(sequence);
        sequence
    }

    /// The items after sequence `after`, oldest first.
    pub fn since(&self, after: u64) -> Vec<EvidenceItem> {
        self.items()
            .iter()
            .filter(|i| i.sequence > after)
            .cloned()
            .collect()
    }

    /// A receiver that changes whenever evidence is added.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.latest.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_are_numbered_and_bounded() {
        let log = EvidenceLog::new();
        for i in 0..(MAX_ITEMS as u64 + 10) {
            assert_eq!(log.push(i, [1; 32], [2; 20], vec![3]), i + 1);
        }
        let all = log.since(0);
        assert_eq!(all.len(), MAX_ITEMS, "bounded");
        assert_eq!(all[0].sequence, 11, "oldest dropped");
        assert_eq!(log.since(MAX_ITEMS as u64 + 9).len(), 1);
        assert!(log.since(MAX_ITEMS as u64 + 10).is_empty());
        assert_ne!(EvidenceLog::new().run(), log.run());
    }
}
