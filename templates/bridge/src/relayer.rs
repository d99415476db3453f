//! The relayer: follows both outboxes as operators do, asks every operator for its
//! signature on each message that became deep enough, and delivers it with a
//! certificate once enough stake signed; keeps the remote table fresh by committing
//! the registry's set as a new epoch and carrying it across, signed by the table in
//! place.
//!
//! Anyone may relay: a relayer holds no trust, only gas. What it delivers is checked
//! by the inboxes; what it commits is checked by `BridgeHome`.
//!
//! # Security
//! Operators' answers are claims: each is read with a timeout and a size cap, parsed
//! strictly, and checked against that operator's key before it is aggregated
//! ([`relay::table_certificate`], [`relay::home_certificate`]); a slow, lying or
//! garbled endpoint costs one request and is left out. A certificate is sent only
//! when the stake that verifiably signed meets the contract's threshold, so no gas
//! is spent on deliveries that would revert.

use std::time::Duration;

use bulwark::alloy::primitives::{Address, B256, U256};
use bulwark::alloy::providers::{DynProvider, Provider};
use bulwark::chain::registry::operator_set_at;
use bulwark::chain::{ChainError, devnet};
use bulwark::crypto::{Domain, PublicKey, Signature};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

use crate::contracts::{IHomeInbox, IInbox, IOperatorTable, WireTable};
use crate::message::Message;
use crate::relay::{self, RelayError, Signed};
use crate::signing::Deployment;
use crate::table::Table;
use crate::watch::OutboxWatcher;

/// Largest answer read from an operator: a hex signature is 194 bytes.
const MAX_ANSWER: usize = 512;

/// An operator the relayer asks: its account and the base URL of its signatures.
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// The operator's account (its key is looked up in the table or registry).
    pub operator: Address,
    /// e.g. `http://127.0.0.1:9100`.
    pub url: String,
}

/// What one step did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Messages delivered to the remote chain.
    pub to_remote: Vec<B256>,
    /// Messages delivered to the home chain.
    pub to_home: Vec<B256>,
    /// A table epoch installed on the remote chain.
    pub installed: Option<u64>,
    /// Operators whose answers were refused (did not verify).
    pub refused: Vec<Address>,
    /// Messages given up on: their delivery failed `MAX_FAILURES` times, or the queue
    /// was full.
    pub dropped: Vec<B256>,
}

/// Failed deliveries after which a message is given up on (a recipient that always
/// reverts, e.g. an account without code, must not cost gas forever).
pub const MAX_FAILURES: u32 = 20;

/// Messages waiting per direction; beyond, new ones are dropped (a flood of sends
/// must not grow the relayer without bound).
pub const MAX_QUEUE: usize = 10_000;

fn enqueue(queue: &mut Vec<Message>, fresh: impl Iterator<Item = Message>, report: &mut Report) {
    for m in fresh {
        if queue.len() >= MAX_QUEUE {
            bulwark::tracing::warn!(id = %m.id(), "relay queue full; message dropped");
            report.dropped.push(m.id());
        } else {
            queue.push(m);
        }
    }
}

/// Relays between the two chains of `Deployment`.
pub struct Relayer {
    d: Deployment,
    home: DynProvider,
    remote: DynProvider,
    /// Sends on the home chain (and commits tables: a task creator of the AVS).
    home_from: Address,
    remote_from: Address,
    endpoints: Vec<Endpoint>,
    http: reqwest::Client,
    threshold_bps: u64,
    home_watch: OutboxWatcher,
    remote_watch: OutboxWatcher,
    to_remote: Vec<Message>,
    to_home: Vec<Message>,
    /// Failed deliveries so far, by message id.
    failures: std::collections::HashMap<B256, u32>,
    /// The remote table in force, with its members.
    table: Table,
    /// The same, as the contracts hold it.
    table_wire: WireTable,
    /// Seconds a table executes after its commit (the remote table's `maxAge`).
    max_age: u64,
    /// A committed epoch waiting to be carried across.
    pending_table: Option<relay::Committed>,
    confirmations: u64,
}

impl Relayer {
    /// A relayer of `d`, reading both chains from `from` (home, remote) on, asking
    /// `endpoints`, sending from `home_from` / `remote_from`. Reads the remote table
    /// in force and its members (from the registry at the table's home block).
    #[allow(clippy::too_many_arguments)]
    pub async fn new(
        d: Deployment,
        home: DynProvider,
        remote: DynProvider,
        (home_from, remote_from): (Address, Address),
        endpoints: Vec<Endpoint>,
        (from_home, from_remote): (u64, u64),
        confirmations: u64,
        timeout: Duration,
    ) -> Result<Self, RelayError> {
        let (table_wire, table) = Self::table_in_force(&d, &home, &remote).await?;
        let max_age = IOperatorTable::new(d.remote_table, remote.clone())
            .maxAge()
            .call()
            .await
            .map_err(ChainError::from)?;
        // Operators' answers are read where they were registered, nowhere else: no
        // redirects, no proxy from the environment.
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .map_err(|_| ChainError::OutOfRange("HTTP client"))?;
        let threshold_bps = IOperatorTable::new(d.remote_table, remote.clone())
            .thresholdBps()
            .call()
            .await
            .map_err(ChainError::from)?;
        Ok(Self {
            home_watch: OutboxWatcher::new(
                home.clone(),
                d.home_outbox,
                d.home_chain,
                from_home,
                confirmations,
            ),
            remote_watch: OutboxWatcher::new(
                remote.clone(),
                d.remote_outbox,
                d.remote_chain,
                from_remote,
                confirmations,
            ),
            d,
            home,
            remote,
            home_from,
            remote_from,
            endpoints,
            http,
            threshold_bps: u64::from(threshold_bps),
            to_remote: Vec::new(),
            to_home: Vec::new(),
            failures: std::collections::HashMap::new(),
            table,
            table_wire,
            max_age,
            pending_table: None,
            confirmations,
        })
    }

    /// The remote table in force and its members, rebuilt from the calldata of its
    /// commit on the home chain (the registry may have moved in the commit's own
    /// block) and checked against its root.
    async fn table_in_force(
        d: &Deployment,
        home: &DynProvider,
        remote: &DynProvider,
    ) -> Result<(WireTable, Table), RelayError> {
        let wire = IOperatorTable::new(d.remote_table, remote.clone())
            .table()
            .call()
            .await
            .map_err(ChainError::from)?;
        let table = relay::committed_members(home, d.home_avs, &wire).await?;
        Ok((wire, table))
    }

    /// Re-reads the table in force when the remote chain moved on (another relayer
    /// may have installed an epoch), and forgets a pending epoch no newer than it.
    async fn refresh_table(&mut self) -> Result<(), RelayError> {
        let epoch = IOperatorTable::new(self.d.remote_table, self.remote.clone())
            .table()
            .call()
            .await
            .map_err(ChainError::from)?
            .epoch;
        if epoch != self.table_wire.epoch {
            let (wire, table) = Self::table_in_force(&self.d, &self.home, &self.remote).await?;
            self.table_wire = wire;
            self.table = table;
        }
        if self
            .pending_table
            .as_ref()
            .is_some_and(|p| p.epoch <= self.table_wire.epoch)
        {
            self.pending_table = None;
        }
        Ok(())
    }

    /// The signatures `endpoints` give on `digest`, asked all at once and each
    /// checked as it arrives against the key `weigh` gives its operator (with its
    /// stake, in gwei); returns as soon as the verified stake reaches `needed`, so a
    /// slow endpoint delays nothing once enough others answered.
    pub async fn collect(
        &self,
        digest: B256,
        weigh: impl Fn(&Address) -> Option<(PublicKey, u64)>,
        needed: u64,
    ) -> Vec<Signed> {
        let mut asks: FuturesUnordered<_> = self
            .endpoints
            .iter()
            .map(|e| async move {
                self.ask(&e.url, digest).await.map(|signature| Signed {
                    operator: e.operator,
                    signature,
                })
            })
            .collect();
        let mut out: Vec<Signed> = Vec::new();
        let mut counted: Vec<Address> = Vec::new();
        let mut stake = 0u64;
        while let Some(answer) = asks.next().await {
            let Some(signed) = answer else { continue };
            if let Some((key, weight)) = weigh(&signed.operator)
                && !counted.contains(&signed.operator)
                && key
                    .verify(&Domain::SIGNATURE, digest.as_slice(), &signed.signature)
                    .is_ok()
            {
                counted.push(signed.operator);
                stake = stake.saturating_add(weight);
            }
            out.push(signed);
            if stake >= needed {
                break;
            }
        }
        out
    }

    /// The stake (gwei) of `total` a certificate needs.
    fn needed(&self, total: u64) -> u64 {
        (u128::from(total) * u128::from(self.threshold_bps)).div_ceil(10_000) as u64
    }

    /// Member keys and stakes of the table in force, for [`Relayer::collect`].
    fn table_weights(table: &Table) -> impl Fn(&Address) -> Option<(PublicKey, u64)> + '_ {
        |operator| {
            let members = table.members();
            let i = members
                .binary_search_by_key(operator, |m| m.operator)
                .ok()?;
            Some((members[i].public_key, members[i].stake_gwei))
        }
    }

    async fn ask(&self, url: &str, digest: B256) -> Option<Signature> {
        let mut response = self
            .http
            .get(format!("{url}/v1/signatures/{digest}"))
            .send()
            .await
            .ok()?;
        if !response.status().is_success() {
            return None;
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.ok()? {
            if body.len() + chunk.len() > MAX_ANSWER {
                return None;
            }
            body.extend_from_slice(&chunk);
        }
        let text = std::str::from_utf8(&body).ok()?.trim();
        let bytes = bulwark::alloy::primitives::hex::decode(text).ok()?;
        Signature::from_wire(&bytes).ok()
    }

    /// Whether `signed` stake (gwei) of `total` meets the threshold.
    fn enough(&self, signed: u64, total: u64) -> bool {
        u128::from(signed) * 10_000 >= u128::from(total) * u128::from(self.threshold_bps)
    }

    /// One round: new messages, deliveries both ways, the table.
    pub async fn step(&mut self) -> Result<Report, RelayError> {
        let mut report = Report::default();
        let remote_chain = U256::from(self.d.remote_chain);
        let home_chain = U256::from(self.d.home_chain);
        let fresh = self.home_watch.poll().await?;
        enqueue(
            &mut self.to_remote,
            fresh
                .into_iter()
                .filter(|m| m.destination_chain_id == remote_chain),
            &mut report,
        );
        let fresh = self.remote_watch.poll().await?;
        enqueue(
            &mut self.to_home,
            fresh
                .into_iter()
                .filter(|m| m.destination_chain_id == home_chain),
            &mut report,
        );

        let inbox = IInbox::new(self.d.remote_inbox, self.remote.clone());
        let mut waiting = Vec::new();
        for m in std::mem::take(&mut self.to_remote) {
            let id = m.id();
            if inbox.executed(id).call().await.map_err(ChainError::from)? {
                continue;
            }
            let digest = relay::delivery(self.d.remote_chain, self.d.remote_inbox, &m);
            let needed = self.needed(self.table.total_stake_gwei());
            let signed = self
                .collect(digest, Self::table_weights(&self.table), needed)
                .await;
            let certified = relay::table_certificate(&self.table, digest, &signed);
            let Ok((cert, refused)) = certified else {
                waiting.push(m);
                continue;
            };
            report.refused.extend(refused);
            let missing: u64 = cert.nonSigners.iter().map(|n| n.member.stakeGwei).sum();
            let total = self.table.total_stake_gwei();
            if !self.enough(total.saturating_sub(missing), total) {
                waiting.push(m);
                continue;
            }
            let sent = inbox
                .deliver((&m).into(), cert)
                .from(self.remote_from)
                .send()
                .await;
            match landed(&self.remote, sent).await {
                Ok(()) => {
                    self.failures.remove(&id);
                    report.to_remote.push(id);
                }
                Err(e) => {
                    if self.failed(id, &e, "remote", &mut report) {
                        waiting.push(m);
                    }
                }
            }
        }
        self.to_remote = waiting;

        let home_inbox = IHomeInbox::new(self.d.home_inbox, self.home.clone());
        let mut waiting = Vec::new();
        for m in std::mem::take(&mut self.to_home) {
            let id = m.id();
            if home_inbox
                .executed(id)
                .call()
                .await
                .map_err(ChainError::from)?
            {
                continue;
            }
            let digest = relay::delivery(self.d.home_chain, self.d.home_inbox, &m);
            let head = self
                .home
                .get_block_number()
                .await
                .map_err(ChainError::from)?;
            let reference = u32::try_from(head.saturating_sub(1))
                .map_err(|_| ChainError::OutOfRange("home block"))?;
            let set = operator_set_at(&self.home, self.d.home_avs, reference).await?;
            let weights =
                |operator: &Address| set.get(operator).map(|e| (e.public_key, e.stake_gwei));
            let signed = self
                .collect(digest, weights, self.needed(set.total_stake_gwei))
                .await;
            let Ok((cert, refused)) = relay::home_certificate(&set, digest, &signed) else {
                waiting.push(m);
                continue;
            };
            report.refused.extend(refused);
            let missing: u64 = cert
                .nonSigners
                .iter()
                .filter_map(|n| set.get(&n.operator).map(|e| e.stake_gwei))
                .sum();
            if !self.enough(
                set.total_stake_gwei.saturating_sub(missing),
                set.total_stake_gwei,
            ) {
                waiting.push(m);
                continue;
            }
            let sent = home_inbox
                .deliver((&m).into(), cert)
                .from(self.home_from)
                .send()
                .await;
            match landed(&self.home, sent).await {
                Ok(()) => {
                    self.failures.remove(&id);
                    report.to_home.push(id);
                }
                Err(e) => {
                    if self.failed(id, &e, "home", &mut report) {
                        waiting.push(m);
                    }
                }
            }
        }
        self.to_home = waiting;

        report.installed = self.carry_table().await?;
        Ok(report)
    }

    /// Commits the registry's set as a new epoch when it differs from the table in
    /// force or that table is past half its life, and installs a committed epoch on
    /// the remote chain once it is deep and enough of the table in force signed it.
    /// A failure is logged and tried again next step: it never stops the relayer.
    async fn carry_table(&mut self) -> Result<Option<u64>, RelayError> {
        self.refresh_table().await?;
        let head = self
            .home
            .get_block_number()
            .await
            .map_err(ChainError::from)?;
        if self.pending_table.is_none() {
            let now = u32::try_from(head).map_err(|_| ChainError::OutOfRange("home block"))?;
            let current = relay::read_table(&self.home, self.d.home_avs, now).await?;
            let remote_now = self
                .remote
                .get_block_by_number(Default::default())
                .await
                .map_err(ChainError::from)?
                .map(|b| b.header.timestamp)
                .unwrap_or_default();
            let aging = remote_now.saturating_sub(self.table_wire.homeTimestamp) > self.max_age / 2;
            if current.root() != self.table.root() || aging {
                match relay::commit_table(&self.home, self.d.home_avs, self.home_from, &current)
                    .await
                {
                    Ok(committed) => self.pending_table = Some(committed),
                    Err(e) => {
                        bulwark::tracing::warn!(error = %e, "committing a table failed; retrying");
                        return Ok(None);
                    }
                }
            }
        }
        let Some(committed) = self.pending_table.clone() else {
            return Ok(None);
        };
        if head < committed.block + self.confirmations {
            return Ok(None);
        }
        let digest = relay::update_digest(
            self.d.home_chain,
            self.d.home_avs,
            self.d.remote_chain,
            self.d.remote_table,
            &committed.table,
        );
        let needed = self.needed(self.table.total_stake_gwei());
        let signed = self
            .collect(digest, Self::table_weights(&self.table), needed)
            .await;
        let Ok((cert, _)) = relay::table_certificate(&self.table, digest, &signed) else {
            return Ok(None);
        };
        let missing: u64 = cert.nonSigners.iter().map(|n| n.member.stakeGwei).sum();
        let total = self.table.total_stake_gwei();
        if !self.enough(total.saturating_sub(missing), total) {
            return Ok(None);
        }
        let remote_table = IOperatorTable::new(self.d.remote_table, self.remote.clone());
        let sent = remote_table
            .update(committed.table.clone(), cert)
            .from(self.remote_from)
            .send()
            .await;
        if let Err(e) = landed(&self.remote, sent).await {
            bulwark::tracing::warn!(epoch = committed.epoch, error = %e, "installing a table failed; retrying");
            return Ok(None);
        }
        self.refresh_table().await?;
        Ok(Some(committed.epoch))
    }

    /// Counts a failed delivery of `id` to the `side` chain; returns whether to try
    /// again (false once it failed `MAX_FAILURES` times: dropped and reported).
    fn failed(&mut self, id: B256, e: &ChainError, side: &str, report: &mut Report) -> bool {
        let failures = self.failures.entry(id).or_default();
        *failures += 1;
        if *failures >= MAX_FAILURES {
            bulwark::tracing::warn!(%id, error = %e, "delivery to the {side} chain failed {MAX_FAILURES} times; dropped");
            self.failures.remove(&id);
            report.dropped.push(id);
            false
        } else {
            bulwark::tracing::warn!(%id, error = %e, "delivery to the {side} chain failed; retrying");
            true
        }
    }

    /// Replaces the operators this relayer asks (e.g. as they register).
    pub fn set_endpoints(&mut self, endpoints: Vec<Endpoint>) {
        self.endpoints = endpoints;
    }

    /// The operators this relayer asks.
    pub fn endpoints(&self) -> &[Endpoint] {
        &self.endpoints
    }

    /// The table in force on the remote chain, as this relayer knows it.
    pub fn table(&self) -> &Table {
        &self.table
    }
}

/// Whether a sent transaction was mined without reverting.
async fn landed(
    provider: &DynProvider,
    sent: Result<
        bulwark::alloy::providers::PendingTransactionBuilder<bulwark::alloy::network::Ethereum>,
        bulwark::alloy::contract::Error,
    >,
) -> Result<(), ChainError> {
    devnet::mined(provider, sent?).await.map(|_| ())
}
