//! Signature checks the engine hands to its caller.
//!
//! The engine never runs a pairing itself on the deferred path: it describes the work
//! as a [`Check`] (which signatures, on which message, under which keys), the caller
//! runs [`Check::run`] wherever pairings belong (a blocking thread pool, outside any
//! lock), and hands the [`Checked`] result back to [`super::Engine::settle`]. A
//! result is a fact about fixed bytes (this key signed this message, or did not), so
//! it stays true however the task changed while the check ran; `settle` applies only
//! the parts that still matter.

use bulwark_crypto::{AggregateSignature, Domain, PublicKey, Signature, batch};

use crate::ResponseDigest;

/// Why a check was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scope {
    /// A group's unverified candidates, once they claimed the threshold.
    Group,
    /// One submission on its own (eager mode, or a candidate the engine would not
    /// hold unverified: a second one for an operator and response, one past a cap,
    /// one from an operator already credited).
    Single,
}

/// A batch of signatures on one task message, to verify outside the engine.
#[derive(Debug)]
pub struct Check {
    pub(crate) task_id: u64,
    pub(crate) digest: ResponseDigest,
    pub(crate) message: [u8; 32],
    /// (index in the operator set, the signature claimed in its name), in ascending
    /// index order, one per index. Keys are read from `set` when the check runs, not
    /// copied here under the engine's lock (a 10,000-member check would copy ~2 MB).
    pub(crate) entries: Vec<(usize, Signature)>,
    /// The submission whose verdict waits on this check, if any.
    pub(crate) trigger: Option<(usize, Signature)>,
    pub(crate) scope: Scope,
    /// The response bytes, for a single check whose response has no group yet.
    pub(crate) response: Option<Vec<u8>>,
    /// The task's operator set: the entries' keys, and their sum from the set's
    /// cached sum when the entries are most of it.
    pub(crate) set: crate::OperatorSet,
}

/// A [`Check`] carried out: which of its entries are invalid.
pub struct Checked {
    pub(crate) check: Check,
    /// Indices into `check.entries`, ascending.
    pub(crate) invalid: Vec<usize>,
    /// The aggregate of the valid entries, when all were valid (saves summing again).
    pub(crate) aggregate: Option<AggregateSignature>,
}

impl Check {
    /// The task checked.
    pub fn task_id(&self) -> u64 {
        self.task_id
    }

    /// How many signatures it holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Verifies the entries: one aggregate check when they are all valid (the honest
    /// case), bisection over same-message aggregates otherwise. Pure computation
    /// (pairings): run it off async worker threads and outside the engine's lock.
    pub fn run(self) -> Checked {
        let members = self.set.operators();
        // Ascending and unique, as the engine builds them; anything else (or an
        // index outside the set) goes to the search below.
        let ordered = self.entries.windows(2).all(|w| w[0].0 < w[1].0)
            && self.entries.last().is_some_and(|e| e.0 < members.len());
        let all_valid = (|| {
            if !ordered {
                return None;
            }
            let indices: Vec<usize> = self.entries.iter().map(|e| e.0).collect();
            let apk = self.set.key_of_members(&indices)?;
            let asig = AggregateSignature::aggregate(self.entries.iter().map(|e| &e.1)).ok()?;
            asig.verify(&Domain::SIGNATURE, &self.message, &apk)
                .is_ok()
                .then_some(asig)
        })();
        if let Some(aggregate) = all_valid {
            return Checked {
                check: self,
                invalid: Vec::new(),
                aggregate: Some(aggregate),
            };
        }
        // Entries whose index is outside the set have no key: invalid outright.
        let (known, unknown): (Vec<usize>, Vec<usize>) =
            (0..self.entries.len()).partition(|&k| self.entries[k].0 < members.len());
        let pairs: Vec<(PublicKey, Signature)> = known
            .iter()
            .map(|&k| (members[self.entries[k].0].public_key, self.entries[k].1))
            .collect();
        let mut invalid: Vec<usize> = match pairs.len() {
            0 => Vec::new(),
            // The aggregate check of this one entry just failed.
            1 if ordered => vec![known[0]],
            _ => batch::find_invalid_same_message(&Domain::SIGNATURE, &self.message, &pairs)
                .into_iter()
                .map(|j| known[j])
                .collect(),
        };
        invalid.extend(unknown);
        invalid.sort_unstable();
        Checked {
            check: self,
            invalid,
            aggregate: None,
        }
    }
}

impl std::fmt::Debug for Checked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checked")
            .field("check", &self.check)
            .field("invalid", &self.invalid)
            .finish_non_exhaustive()
    }
}

impl Checked {
    /// The task checked.
    pub fn task_id(&self) -> u64 {
        self.check.task_id
    }

    /// How many of the signatures were invalid.
    pub fn invalid(&self) -> usize {
        self.invalid.len()
    }
}
