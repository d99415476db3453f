//! BLS12-381 keys, proofs of possession, signatures, aggregation, batch verification and EIP-2335 keystores for Bulwark, over blst.
//!
//! Every operator signs each task response with this crate and every aggregator checks
//! those signatures with it, so it is the root of trust of the framework.
//!
//! # The variant: signatures in G1, public keys in G2 ("min-sig")
//!
//! BLS12-381 lets either group hold the signatures. Bulwark puts signatures in G1
//! (48 bytes) and public keys in G2 (96 bytes), because what dominates the cost of an
//! AVS is checking a certificate on-chain, on every task, through the EIP-2537
//! precompiles:
//!
//! | per certificate check (EIP-2537 prices)      | min-sig (sig in G1) | min-pk (sig in G2) |
//! |-----------------------------------------------|--------------------:|-------------------:|
//! | pairing check, 2 pairs                        | 102,900             | 102,900            |
//! | hash to curve: 2 field maps + add             | ~11,400 (G1)        | ~48,500 (G2)       |
//! | expand_message_xmd + reductions (MODEXP)      | ~2,500              | ~4,500             |
//! | **total, before storage and calldata**        | **~117k**           | **~156k**          |
//!
//! Off-chain the trade goes the other way in places (G2 additions cost more than G1, so
//! aggregating keys is dearer), but the differences are microseconds per task, while
//! on-chain min-pk costs ~40k gas more per task. The figures measured on this machine
//! for both variants are in this crate's `README.md` (`make bench` prints them).
//!
//! # What is here
//! - [`SecretKey`], [`PublicKey`], [`Signature`] with checked decoding ([`key`], [`signature`]);
//! - [`Domain`]: every sign/verify call names its domain separation tag ([`domain`]);
//! - [`ProofOfPossession`] under its own tag, bound to its registration by a
//!   [`PossessionBinding`] (chain, registry, operator) ([`pop`]);
//! - [`AggregatePublicKey`], [`AggregateSignature`] and same-message verification ([`aggregate`]);
//! - [`batch::verify_batch`] with random weights and [`batch::find_invalid`] by bisection ([`batch`]);
//! - compressed, hex/serde and EIP-2537 encodings ([`encoding`]);
//! - EIP-2335 [`keystore`]s.

pub mod aggregate;
pub mod batch;
pub mod domain;
pub mod encoding;
mod error;
pub mod key;
pub mod keystore;
pub mod pop;
pub mod signature;

pub use aggregate::{AggregatePublicKey, AggregateSignature};
pub use batch::SignedMessage;
pub use domain::Domain;
pub use error::Error;
pub use key::{PublicKey, SecretKey};
pub use pop::{PossessionBinding, ProofOfPossession};
pub use signature::Signature;
