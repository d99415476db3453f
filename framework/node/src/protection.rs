//! Slashing protection: an operator never signs two different responses, or two
//! different reports, for one task: not across restarts, not when its task logic or
//! its price sources answer differently the second time.
//!
//! Every signature an operator makes for a task goes through [`Protection::sign_once`],
//! which records the signed bytes and the signature (durably, in a redb file) before
//! the signature leaves the process. Asked again for the same task and kind, it gives
//! back what was signed the first time, whatever the new bytes are: the runtime then
//! sends its original answer again (a duplicate to the aggregator), never a second one
//! that would be an equivocation (`bulwark_chain::slashing::Equivocation`), slashable
//! on every AVS.
//!
//! # Security
//! - The record is keyed by chain id, AVS, task and kind, so the same key serving
//!   several AVSs or chains keeps separate records.
//! - A record is committed (fsync) before the signature is returned; a crash between
//!   signing and committing loses a signature nobody has seen.
//! - The file is the operator's own: whoever can write it can make the operator sign
//!   twice. Keep it beside the keystore, with the same care. Losing it (a new machine,
//!   a deleted file) loses the protection for the tasks still open: wait out their
//!   deadlines before serving from a fresh file.

use std::path::Path;

use bulwark_chain::slashing::SignedKind;
use bulwark_core::{ResponseDigest, SigningContext};
use bulwark_crypto::Signature;
use redb::{Database, ReadableTable, TableDefinition};

/// chain id (8) || avs (20) || task id (8) || kind (1) -> signature (48) || payload.
const SIGNED: TableDefinition<&[u8], &[u8]> = TableDefinition::new("signed");

/// Why protection could not be had.
#[derive(Debug, thiserror::Error)]
pub enum ProtectionError {
    /// The database could not be opened, read or written.
    #[error("slashing protection database: {0}")]
    Db(String),
    /// A stored record does not decode (a damaged or foreign file).
    #[error("slashing protection record for task {0} is damaged")]
    Damaged(u64),
}

crate::store::from_redb_errors!(ProtectionError, ProtectionError::Db);

/// What was signed for a task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signed {
    /// The signed bytes (a response or a report).
    pub payload: Vec<u8>,
    /// The signature on their message.
    pub signature: Signature,
    /// Whether this call signed them; `false` when they were signed before (and may
    /// differ from what this call was asked to sign).
    pub fresh: bool,
}

/// The record of everything an operator signed, per task.
pub struct Protection {
    db: Database,
}

impl std::fmt::Debug for Protection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Protection")
    }
}

fn key(context: &SigningContext, task_id: u64, kind: SignedKind) -> [u8; 37] {
    let mut key = [0u8; 37];
    key[..8].copy_from_slice(&context.chain_id.to_be_bytes());
    key[8..28].copy_from_slice(&context.avs);
    key[28..36].copy_from_slice(&task_id.to_be_bytes());
    key[36] = match kind {
        SignedKind::Response => 0,
        SignedKind::Report => 1,
    };
    key
}

impl Protection {
    /// Opens (or creates) the record at `path`.
    pub fn open(path: &Path) -> Result<Self, ProtectionError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| ProtectionError::Db(e.to_string()))?;
        }
        Ok(Self {
            db: Database::create(path)?,
        })
    }

    /// A record that lives as long as the process (tests, benchmarks, one-off runs):
    /// it protects against signing twice within the process only.
    pub fn in_memory() -> Result<Self, ProtectionError> {
        Ok(Self {
            db: Database::builder().create_with_backend(redb::backends::InMemoryBackend::new())?,
        })
    }

    /// What was signed as this operator's `kind` for `task_id` on `context`, if
    /// anything.
    pub fn signed(
        &self,
        context: &SigningContext,
        task_id: u64,
        kind: SignedKind,
    ) -> Result<Option<Signed>, ProtectionError> {
        let key = key(context, task_id, kind);
        let tx = self.db.begin_read()?;
        let table = match tx.open_table(SIGNED) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(err) => return Err(err.into()),
        };
        let Some(record) = table.get(key.as_slice())? else {
            return Ok(None);
        };
        decode(task_id, record.value()).map(Some)
    }

    /// Signs `payload` (whose digest `sign` signs) as this operator's `kind` for
    /// `task_id` on `context`, unless it signed something for them before: then it
    /// returns that, unsigned again. Either way the answer is the one thing the
    /// operator may send for the task.
    pub fn sign_once(
        &self,
        context: &SigningContext,
        task_id: u64,
        kind: SignedKind,
        payload: &[u8],
        sign: impl FnOnce(&ResponseDigest) -> Signature,
    ) -> Result<Signed, ProtectionError> {
        let key = key(context, task_id, kind);
        let tx = self.db.begin_write()?;
        let signed = {
            let mut table = tx.open_table(SIGNED)?;
            let stored = table.get(key.as_slice())?.map(|v| v.value().to_vec());
            match stored {
                Some(record) => decode(task_id, &record)?,
                None => {
                    let signature = sign(&ResponseDigest::of(payload));
                    let mut record = signature.to_bytes().to_vec();
                    record.extend_from_slice(payload);
                    table.insert(key.as_slice(), record.as_slice())?;
                    Signed {
                        payload: payload.to_vec(),
                        signature,
                        fresh: true,
                    }
                }
            }
        };
        tx.commit()?;
        Ok(signed)
    }
}

/// A stored record: signature (48) || payload.
fn decode(task_id: u64, record: &[u8]) -> Result<Signed, ProtectionError> {
    let (signature, payload) = record
        .split_at_checked(48)
        .ok_or(ProtectionError::Damaged(task_id))?;
    Ok(Signed {
        payload: payload.to_vec(),
        signature: Signature::from_bytes(signature)
            .map_err(|_| ProtectionError::Damaged(task_id))?,
        fresh: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bulwark_crypto::{Domain, SecretKey};

    const CTX: SigningContext = SigningContext {
        chain_id: 1,
        avs: [3; 20],
    };

    fn signer(key: &SecretKey) -> impl Fn(&ResponseDigest) -> Signature + '_ {
        move |digest| key.sign(&Domain::SIGNATURE, &CTX.message(7, digest))
    }

    #[test]
    fn a_second_answer_is_never_signed_even_after_a_restart() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("protection.redb");
        let key = SecretKey::from_ikm(&[1; 32]).expect("ikm");
        let first = {
            let p = Protection::open(&path).expect("open");
            let first = p
                .sign_once(&CTX, 7, SignedKind::Response, b"42", signer(&key))
                .expect("signed");
            assert!(first.fresh);
            let again = p
                .sign_once(&CTX, 7, SignedKind::Response, b"42", |_| {
                    panic!("not signed twice")
                })
                .expect("stored");
            assert_eq!(
                (again.payload.as_slice(), again.signature),
                (&b"42"[..], first.signature)
            );
            first
        };
        // Reopened, asked for another answer to the same task: the first comes back.
        let p = Protection::open(&path).expect("reopen");
        let other = p
            .sign_once(&CTX, 7, SignedKind::Response, b"43", |_| {
                panic!("a second answer must not be signed")
            })
            .expect("stored");
        assert!(!other.fresh);
        assert_eq!(other.payload, b"42");
        assert_eq!(other.signature, first.signature);
        // A report, another task, another AVS or chain: records of their own.
        for (ctx, task, kind) in [
            (CTX, 7, SignedKind::Report),
            (CTX, 8, SignedKind::Response),
            (
                SigningContext {
                    avs: [4; 20],
                    ..CTX
                },
                7,
                SignedKind::Response,
            ),
            (
                SigningContext { chain_id: 2, ..CTX },
                7,
                SignedKind::Response,
            ),
        ] {
            let s = p
                .sign_once(&ctx, task, kind, b"43", signer(&key))
                .expect("signed");
            assert!(s.fresh, "{ctx:?} {task} {kind:?}");
        }
    }
}
