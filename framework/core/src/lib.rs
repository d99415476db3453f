//! The traits an AVS implements and the sans-IO aggregation engine that turns signed responses into stake-weighted certificates.
//!
//! Nothing here touches a socket, a clock or a chain: the runtimes in `bulwark-node`
//! feed the engine and carry out what it decides, so the hard logic is tested alone.
//!
//! - [`task`]: the [`Task`] an AVS team writes, the [`Aggregation`] policy, and the
//!   [`SlashingProof`] interface;
//! - [`message`]: the bytes operators sign for a response (and for a report);
//! - [`observation`]: two-phase tasks (reports, a proposal, endorsements);
//! - [`operator`]: operators, their stakes and the set at a reference block;
//! - [`quorum`]: the stake-threshold rule, identical to the contract's;
//! - [`engine`]: the aggregation state machine;
//! - [`certificate`]: what the engine produces and the contract checks.

pub mod certificate;
pub mod engine;
pub mod message;
pub mod observation;
pub mod operator;
pub mod quorum;
pub mod task;

pub use certificate::Certificate;
pub use engine::{
    Check, Checked, Engine, EngineConfig, EngineError, Event, Expiring, ExpiryReport, Offer,
    Outcome, Rejection, Settled, SignedResponse, TaskConfig, Verification,
};
pub use message::{ResponseDigest, SigningContext};
pub use observation::{
    Observe, Outlier, Proposal, Propose, ReportCheck, ReportOutcome, ReportRejection, ReportRound,
    Screened, SignedReport, VerifiedReport, WeighedReport,
};
pub use operator::{Operator, OperatorId, OperatorSet};
pub use quorum::Threshold;
pub use task::{Aggregation, IdenticalOutputs, SlashingProof, Task};
