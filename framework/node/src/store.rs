//! The runtimes' redb stores (slashing protection, the challenger's state): how redb's
//! errors become each runtime's own.
//!
//! A list of conversions rather than a blanket `impl<E: Into<redb::Error>> From<E>`:
//! the blanket overlaps with an error type's other `From` impls (the challenger's
//! `From<ChainError>`), so it could not serve every store.

/// Implements `From` for every redb error a store meets (opening, transactions,
/// tables, storage, commits) for `$error`, as `$variant` with redb's reason.
macro_rules! from_redb_errors {
    ($error:ty, $variant:path) => {
        $crate::store::from_redb_errors!(
            @each $error, $variant;
            DatabaseError, TransactionError, TableError, StorageError, CommitError
        );
    };
    (@each $error:ty, $variant:path; $($redb:ident),*) => {$(
        impl From<redb::$redb> for $error {
            fn from(err: redb::$redb) -> Self {
                $variant(err.to_string())
            }
        }
    )*};
}

pub(crate) use from_redb_errors;
