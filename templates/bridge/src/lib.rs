//! A bridge AVS on Bulwark: messages and tokens between a home chain,
//! where the restaking core and the AVS's registry live, and a remote chain that
//! keeps a copy of the operator set (`contracts/OperatorTable.sol`).
//!
//! - [`finality`]: when a message may be signed: at its depth, in the canonical block
//!   it was seen in (reorgs drop what they drop).
//! - [`message`]: messages as the outboxes emit them, their ids and the digest
//!   operators sign for a delivery.
//! - [`table`]: the operator table as the remote chain holds it: members under one
//!   Merkle root, the total stake and the aggregate key, and the proofs a certificate
//!   carries for its non-signers. The relayer builds it from the home registry at a
//!   block; the contract checks certificates against it.

pub mod contracts;
pub mod devnet;
pub mod finality;
pub mod message;
pub mod relay;
pub mod relayer;
pub mod runtime;
pub mod signing;
pub mod status;
pub mod table;
pub mod watch;
