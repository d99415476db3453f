//! The oracle's two-phase task: what a round's input, an operator's report and the
//! certified answer look like on the wire, how an operator observes and endorses
//! ([`Oracle`], the [`Observe`] side) and how the aggregator proposes ([`Median`],
//! the [`Propose`] side).
//!
//! A round's input is `abi.encode(bytes32 feed, uint64 roundId)`; a report and the
//! answer share one layout, `abi.encode(bytes32 feed, uint64 roundId, uint256 value,
//! uint64 observedAt)`, which is what `OracleAVS._onTaskResponded` decodes. So a
//! report is the answer its operator would have given alone.

use std::collections::HashMap;
use std::time::Duration;

use alloy::primitives::{B256, U256};
use alloy::sol_types::SolValue;
use bulwark::core::{
    Observe, Outlier, Proposal, Propose, SignedReport, SignedResponse, SigningContext,
    SlashingProof, WeighedReport,
};

use crate::config::{FeedConfig, OracleConfig};
use crate::median::{self, Report};
use crate::price::Price;
use crate::slashing::FarEndorsement;
use crate::source::{self, Observation, TooFewSources};

/// A feed's on-chain id: its name as Solidity's `bytes32("ETH/USD")`.
pub fn feed_id(name: &str) -> Option<B256> {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() > 32 {
        return None;
    }
    let mut id = [0u8; 32];
    id[..bytes.len()].copy_from_slice(bytes);
    Some(B256::from(id))
}

/// A feed's name from its id (for logs and `status`); hex when not text.
pub fn feed_name(id: &B256) -> String {
    let trimmed: Vec<u8> = id.iter().copied().take_while(|b| *b != 0).collect();
    match String::from_utf8(trimmed) {
        Ok(name) if !name.is_empty() && name.chars().all(|c| c.is_ascii_graphic()) => name,
        _ => id.to_string(),
    }
}

/// A round's input: which feed and which round.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoundInput {
    /// The feed.
    pub feed: B256,
    /// The round, counting from 1.
    pub round: u64,
}

impl RoundInput {
    /// Decodes the task input; `None` unless it is exactly `abi.encode(bytes32, uint64)`:
    /// a `uint64` word with high bytes set (which alloy's decoder ignores and
    /// Solidity's `abi.decode` refuses) is no input.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != 64 {
            return None;
        }
        let (feed, round) = <(B256, u64)>::abi_decode(bytes).ok()?;
        let input = Self { feed, round };
        (input.encode() == bytes).then_some(input)
    }

    /// The task input bytes.
    pub fn encode(&self) -> Vec<u8> {
        (self.feed, self.round).abi_encode()
    }
}

/// A report or an answer: a price for a round, and when it was observed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoundAnswer {
    /// The feed.
    pub feed: B256,
    /// The round.
    pub round: u64,
    /// The price (8 decimals).
    pub price: Price,
    /// When it was observed, unix seconds.
    pub observed_at: u64,
}

impl RoundAnswer {
    /// Decodes a report or answer; `None` unless it is exactly the 128-byte layout
    /// with a value that fits a price, in its one encoding: `uint64` words with high
    /// bytes set would give one answer several byte strings (and so several digests),
    /// and `OracleAVS` could not decode them.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != 128 {
            return None;
        }
        let (feed, round, value, observed_at) = <(B256, u64, U256, u64)>::abi_decode(bytes).ok()?;
        let answer = Self {
            feed,
            round,
            price: Price(u128::try_from(value).ok()?),
            observed_at,
        };
        (answer.encode() == bytes).then_some(answer)
    }

    /// The bytes operators sign and the contract stores.
    pub fn encode(&self) -> Vec<u8> {
        (
            self.feed,
            self.round,
            U256::from(self.price.0),
            self.observed_at,
        )
            .abi_encode()
    }

    /// Whether it answers `input`.
    pub fn answers(&self, input: &RoundInput) -> bool {
        self.feed == input.feed && self.round == input.round
    }
}

/// How `bulwark status` shows a certified answer (`ETH/USD round 3: 3012.5 observed
/// at 1764400000`); `None` for bytes that are not an answer.
pub fn describe_answer(bytes: &[u8]) -> Option<String> {
    let answer = RoundAnswer::decode(bytes)?;
    Some(format!(
        "{} round {}: {} observed at {}",
        feed_name(&answer.feed),
        answer.round,
        answer.price,
        answer.observed_at
    ))
}

/// Why an operator could not observe a round.
#[derive(Debug, thiserror::Error)]
pub enum ObserveError {
    /// The round's feed is not one this operator serves.
    #[error("feed {0} is not configured on this operator")]
    UnknownFeed(String),
    /// Too few sources answered.
    #[error(transparent)]
    Sources(#[from] TooFewSources),
    /// The feed's tolerance on chain could not be read, and none was read before: the
    /// operator does not report what it might endorse beyond it.
    #[error("cannot read the feed's tolerance on chain: {0}")]
    Tolerance(String),
}

/// The operator's side: reads the feed's sources, reports their median, and endorses
/// a proposal within `tolerance_bps` of it, and never beyond the tolerance the AVS
/// holds the feed to on chain (read at each observation, see [`Oracle::with_chain`]):
/// an endorsement beyond that is slashable (`crate::slashing`).
pub struct Oracle {
    feeds: HashMap<B256, FeedConfig>,
    client: reqwest::Client,
    tolerance_bps: u128,
    max_quote_age: Duration,
    min_sources: usize,
    /// Where to read each feed's on-chain tolerance, if anywhere.
    chain: Option<(alloy::providers::DynProvider, alloy::primitives::Address)>,
    /// The last on-chain tolerance read per feed (0: not checked on chain).
    on_chain: std::sync::Mutex<HashMap<B256, u16>>,
    /// Faulty: endorses any proposal for the round (`OracleConfig::endorse_anything`).
    endorse_anything: bool,
}

impl Oracle {
    /// The oracle for `config`'s feeds.
    pub fn new(config: &OracleConfig) -> Result<Self, crate::config::OracleConfigError> {
        config.validate()?;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(config.fetch_timeout_ms))
            .build()
            .map_err(|e| crate::config::OracleConfigError::Http(e.to_string()))?;
        let feeds = config
            .feeds
            .iter()
            .filter_map(|f| Some((feed_id(&f.name)?, f.clone())))
            .collect();
        Ok(Self {
            feeds,
            client,
            tolerance_bps: u128::from(config.tolerance_bps),
            max_quote_age: Duration::from_secs(config.max_quote_age_s),
            min_sources: config.min_sources,
            chain: None,
            on_chain: Default::default(),
            endorse_anything: config.endorse_anything,
        })
    }

    /// Reads each feed's endorsement tolerance from `OracleAVS` at `avs` before every
    /// observation, and endorses within the smaller of it and the local tolerance.
    pub fn with_chain(
        mut self,
        provider: alloy::providers::DynProvider,
        avs: alloy::primitives::Address,
    ) -> Self {
        self.chain = Some((provider, avs));
        self
    }

    /// Refreshes `feed`'s on-chain tolerance for a task with reference block
    /// `reference_block`: `toleranceFor(feed, reference_block)` as the chain stood at
    /// that block. A change at or before it is what the contract holds the task to;
    /// one after it makes the contract looser for the task, never stricter. An RPC
    /// behind that block (a lagging node) fails the read, and a failed read refuses
    /// the observation (better no report than an endorsement judged by a tolerance
    /// the AVS has lowered: that would be slashable), forgetting the last value read.
    pub async fn refresh_tolerance(
        &self,
        feed: &B256,
        reference_block: u32,
    ) -> Result<(), ObserveError> {
        let Some((provider, avs)) = &self.chain else {
            return Ok(());
        };
        let at = alloy::eips::BlockId::number(u64::from(reference_block));
        match crate::slashing::tolerance_for(provider, *avs, *feed, reference_block, at).await {
            Ok(bps) => {
                self.tolerances().insert(*feed, bps);
                Ok(())
            }
            Err(err) => {
                self.tolerances().remove(feed);
                Err(ObserveError::Tolerance(err.to_string()))
            }
        }
    }

    fn tolerances(&self) -> std::sync::MutexGuard<'_, HashMap<B256, u16>> {
        self.on_chain.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How far from its own observation this operator endorses for `feed`: the local
    /// tolerance, capped by the on-chain one when that is set.
    pub fn endorsement_limit(&self, feed: &B256) -> u128 {
        match self.tolerances().get(feed) {
            Some(&bps) if bps > 0 => self.tolerance_bps.min(u128::from(bps)),
            _ => self.tolerance_bps,
        }
    }

    /// Observes `feed` now: the median of its usable sources.
    pub async fn observe_feed(&self, feed: &B256) -> Result<Observation, ObserveError> {
        let config = self
            .feeds
            .get(feed)
            .ok_or_else(|| ObserveError::UnknownFeed(feed_name(feed)))?;
        let observation = source::observe(
            &self.client,
            &config.sources,
            self.max_quote_age,
            self.min_sources,
        )
        .await?;
        for (url, why) in &observation.dropped {
            tracing::warn!(feed = %config.name, url, why, "source dropped");
        }
        Ok(observation)
    }
}

impl Observe for Oracle {
    type Input = RoundInput;
    type Observation = Observation;
    type Error = ObserveError;

    fn decode_input(&self, bytes: &[u8]) -> Option<RoundInput> {
        RoundInput::decode(bytes)
    }

    async fn observe(
        &self,
        input: &RoundInput,
        reference_block: u32,
    ) -> Result<Observation, ObserveError> {
        self.refresh_tolerance(&input.feed, reference_block).await?;
        self.observe_feed(&input.feed).await
    }

    fn encode_report(&self, input: &RoundInput, observation: &Observation) -> Vec<u8> {
        RoundAnswer {
            feed: input.feed,
            round: input.round,
            price: observation.price,
            observed_at: observation.at,
        }
        .encode()
    }

    /// Endorses an answer to this very round whose price lies within tolerance of
    /// ours and whose time is not in our future.
    fn endorses(&self, input: &RoundInput, observation: &Observation, proposal: &[u8]) -> bool {
        let Some(answer) = RoundAnswer::decode(proposal) else {
            return false;
        };
        if self.endorse_anything {
            return answer.answers(input);
        }
        answer.answers(input)
            && answer.observed_at <= observation.at.saturating_add(60)
            && median::endorses(
                observation.price,
                answer.price,
                self.endorsement_limit(&input.feed),
            )
    }
}

/// The aggregator's side: the stake-weighted median of the reports; reports beyond
/// `tolerance_bps` of it are outliers.
pub struct Median {
    /// How far (basis points) a report may lie from the median and still count.
    pub tolerance_bps: u128,
}

impl Propose for Median {
    fn check_report(&self, input: &[u8], report: &[u8]) -> bool {
        match (RoundInput::decode(input), RoundAnswer::decode(report)) {
            (Some(input), Some(answer)) => answer.answers(&input) && answer.price.0 > 0,
            _ => false,
        }
    }

    /// `FAR_ENDORSEMENT`: the operator endorsed a value farther from its own report
    /// than this aggregator's tolerance. The proof is verified (both signatures)
    /// before it is offered; challengers hold it to the feed's tolerance on chain,
    /// which may be looser (then they drop it as within tolerance).
    fn endorsement_evidence(
        &self,
        context: &SigningContext,
        key: &bulwark::crypto::PublicKey,
        report: &SignedReport,
        endorsement: &SignedResponse,
    ) -> Option<Vec<u8>> {
        let reported = RoundAnswer::decode(&report.report)?;
        let endorsed = RoundAnswer::decode(&endorsement.response)?;
        let tolerance_bps = u16::try_from(self.tolerance_bps).unwrap_or(u16::MAX);
        // The cheap test first: only a far endorsement costs the two pairings.
        if reported.price.deviation_bps(endorsed.price) <= u128::from(tolerance_bps) {
            return None;
        }
        let proof = FarEndorsement {
            context: *context,
            task_id: report.task_id,
            operator: report.operator,
            public_key: *key,
            report: (reported, report.signature),
            endorsed: (endorsed, endorsement.signature),
            tolerance_bps,
        };
        proof.verify().ok()?;
        Some(proof.encode())
    }

    fn propose(&self, input: &[u8], reports: &[WeighedReport<'_>]) -> Option<Proposal> {
        let input = RoundInput::decode(input)?;
        let decoded: Vec<Report> = reports
            .iter()
            .filter_map(|r| {
                let answer = RoundAnswer::decode(r.report)?;
                Some(Report {
                    operator: r.operator,
                    stake: r.stake,
                    price: answer.price,
                    at: answer.observed_at,
                })
            })
            .collect();
        let proposal = median::propose(&decoded, self.tolerance_bps)?;
        let outliers = proposal
            .outliers
            .iter()
            .filter_map(|id| {
                let report = decoded.iter().find(|r| r.operator == *id)?;
                Some(Outlier {
                    operator: *id,
                    reason: format!(
                        "reported {} for {} round {}: {} bps from the median {} (tolerance {} bps)",
                        report.price,
                        feed_name(&input.feed),
                        input.round,
                        proposal.price.deviation_bps(report.price),
                        proposal.price,
                        self.tolerance_bps
                    ),
                })
            })
            .collect();
        Some(Proposal {
            response: RoundAnswer {
                feed: input.feed,
                round: input.round,
                price: proposal.price,
                observed_at: proposal.at,
            }
            .encode(),
            outliers,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bulwark::core::OperatorId;

    fn input() -> RoundInput {
        RoundInput {
            feed: feed_id("ETH/USD").expect("id"),
            round: 3,
        }
    }

    fn answer(price: u128) -> Vec<u8> {
        RoundAnswer {
            feed: input().feed,
            round: 3,
            price: Price(price),
            observed_at: 1_700_000_000,
        }
        .encode()
    }

    #[test]
    fn encodings_round_trip_and_refuse_garbage() {
        assert_eq!(feed_name(&input().feed), "ETH/USD");
        assert_eq!(RoundInput::decode(&input().encode()), Some(input()));
        assert_eq!(RoundInput::decode(&[0u8; 63]), None);
        let bytes = answer(300_000_000_000);
        assert_eq!(bytes.len(), 128);
        assert_eq!(
            RoundAnswer::decode(&bytes).map(|a| a.price),
            Some(Price(300_000_000_000))
        );
        assert_eq!(RoundAnswer::decode(&bytes[..127]), None);
        let huge = (input().feed, 3u64, U256::MAX, 1u64).abi_encode();
        assert_eq!(RoundAnswer::decode(&huge), None, "value beyond u128");
        assert_eq!(feed_id(""), None);
        assert_eq!(feed_id(&"x".repeat(33)), None);
    }

    /// Found by the `oracle_round` fuzz target: alloy's decoder reads a `uint64` from
    /// the low 8 bytes of its word and ignores the rest, so a word of 0x11 bytes
    /// decoded as round 0x111111111111110a.
    #[test]
    fn uint64_words_with_high_bytes_set_are_refused() {
        let mut crash = [0x11u8; 64];
        crash[0] = 0x0a;
        crash[63] = 0x0a;
        assert_eq!(RoundInput::decode(&crash), None);
        let mut dirty = input().encode();
        dirty[32] = 1;
        assert_eq!(RoundInput::decode(&dirty), None);

        let clean = answer(300_000_000_000);
        for word in [1, 3] {
            let mut dirty = clean.clone();
            dirty[32 * word] = 0xff;
            assert_eq!(RoundAnswer::decode(&dirty), None, "word {word}");
        }
        assert!(RoundAnswer::decode(&clean).is_some());
    }

    #[test]
    fn median_proposes_and_names_the_outlier() {
        let median = Median { tolerance_bps: 100 };
        let reports = [answer(3_000), answer(3_001), answer(2_999), answer(4_500)];
        let weighed: Vec<WeighedReport<'_>> = reports
            .iter()
            .enumerate()
            .map(|(i, r)| WeighedReport {
                operator: OperatorId([i as u8; 20]),
                stake: 10,
                report: r,
            })
            .collect();
        assert!(median.check_report(&input().encode(), &reports[0]));
        let other_round = RoundAnswer {
            round: 4,
            ..RoundAnswer::decode(&reports[0]).expect("decodes")
        }
        .encode();
        assert!(!median.check_report(&input().encode(), &other_round));
        let proposal = median
            .propose(&input().encode(), &weighed)
            .expect("proposal");
        let answer = RoundAnswer::decode(&proposal.response).expect("answer");
        assert_eq!(answer.price, Price(3_000));
        assert!(answer.answers(&input()));
        assert_eq!(proposal.outliers.len(), 1);
        assert_eq!(proposal.outliers[0].operator, OperatorId([3; 20]));
        assert!(
            proposal.outliers[0].reason.contains("ETH/USD round 3"),
            "{}",
            proposal.outliers[0].reason
        );
    }
}
