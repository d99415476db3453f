//! Operator sessions: an operator proves its BLS key once, on a challenge of this
//! server, and gets a token; a submission or report in its name is taken only with a
//! token of its own.
//!
//! Why: the `operator` field of a request is a claim, and the only other proof of it
//! is the request's own signature, which costs a pairing to check. Without sessions
//! anyone could buy a pairing of the aggregator's CPU per forged request; with them a
//! request naming an operator its token was not opened for is refused after a map
//! lookup, before its signature is even decompressed.
//!
//! # Security
//! - Challenges are stateless: `issued_at || random || HMAC-SHA256(secret, issued_at
//!   || random)`, the secret drawn per server at start. A challenge is accepted for
//!   [`CHALLENGE_TTL`] after issue and opens at most one session; it cannot be made
//!   by anyone else nor reused on another server (another secret).
//! - Opening a session costs the server one pairing, so session checks have a lane of
//!   their own with a fixed number of slots ([`crate::server::ServerLimits`]): a flood
//!   of forged openings delays other openings (they are answered `UNAVAILABLE` and
//!   retried), never submissions on sessions already open.
//! - What is signed is `bytes32("bulwark.session.v1") || operator || challenge` (100
//!   bytes) under the standard signature tag: never 32 bytes long, so it cannot be
//!   mistaken for a task or report message (keccak digests), and it names the operator
//!   so a signature cannot open a session for anyone else.
//! - Sessions per operator are bounded ([`MAX_SESSIONS_PER_OPERATOR`], oldest
//!   dropped) and only registered operators can open any, so the table is bounded by
//!   the operator sets the aggregator has read.
//! - What an attacker can still do: with a copy of a token (read off an unencrypted
//!   link), send requests in that operator's name until it expires; each still needs
//!   the operator's signature to count, and the engine bounds what an operator's bad
//!   signatures cost. Serve over TLS or a private network where links can be read.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use bulwark_core::OperatorId;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Length of a challenge: 8 bytes of issue time, 16 random, 24 of MAC.
pub const CHALLENGE_BYTES: usize = 48;
/// Length of a session token.
pub const TOKEN_BYTES: usize = 32;
/// How long a challenge can be used after it was issued.
pub const CHALLENGE_TTL: Duration = Duration::from_secs(60);
/// Sessions one operator may hold at once; opening one more closes its oldest.
pub const MAX_SESSIONS_PER_OPERATOR: usize = 8;
/// Version tag that starts the signed session message, `bytes32("bulwark.session.v1")`.
pub const SESSION_TAG: [u8; 32] = *b"bulwark.session.v1\0\0\0\0\0\0\0\0\0\0\0\0\0\0";

/// The bytes an operator signs to open a session on `challenge`.
pub fn session_message(operator: &OperatorId, challenge: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(32 + 20 + challenge.len());
    message.extend_from_slice(&SESSION_TAG);
    message.extend_from_slice(&operator.0);
    message.extend_from_slice(challenge);
    message
}

/// Why a challenge is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChallengeError {
    /// Not [`CHALLENGE_BYTES`] long.
    #[error("challenge must be {CHALLENGE_BYTES} bytes, got {0}")]
    Length(usize),
    /// Not made by this server.
    #[error("challenge was not issued by this server")]
    Forged,
    /// Older than [`CHALLENGE_TTL`].
    #[error("challenge expired; get a new one")]
    Expired,
    /// Already opened a session.
    #[error("challenge already used; get a new one")]
    Used,
}

/// A session the server holds.
#[derive(Clone, Copy, Debug)]
struct Session {
    operator: OperatorId,
    expires: Instant,
}

/// The sessions of one server and the secret its challenges are made with.
pub struct Sessions {
    secret: [u8; 32],
    epoch: Instant,
    ttl: Duration,
    state: std::sync::Mutex<State>,
}

#[derive(Default)]
struct State {
    by_token: HashMap<[u8; TOKEN_BYTES], Session>,
    by_operator: HashMap<OperatorId, VecDeque<[u8; TOKEN_BYTES]>>,
    /// Challenges that opened a session, until they expire.
    used: HashMap<[u8; CHALLENGE_BYTES], Instant>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl Sessions {
    /// A table whose sessions last `ttl`, with a fresh random secret.
    pub fn new(ttl: Duration) -> Result<Self, getrandom::Error> {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret)?;
        Ok(Self {
            secret,
            epoch: Instant::now(),
            ttl,
            state: Default::default(),
        })
    }

    /// How long a session lasts.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn mac(&self, body: &[u8]) -> [u8; 24] {
        // A 32-byte key is always accepted by HMAC.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.secret)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(body);
        let tag = mac.finalize().into_bytes();
        let mut out = [0u8; 24];
        out.copy_from_slice(&tag[..24]);
        out
    }

    /// A new challenge.
    pub fn challenge(&self) -> Result<[u8; CHALLENGE_BYTES], getrandom::Error> {
        let mut challenge = [0u8; CHALLENGE_BYTES];
        let issued = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        challenge[..8].copy_from_slice(&issued.to_be_bytes());
        getrandom::fill(&mut challenge[8..24])?;
        let mac = self.mac(&challenge[..24]);
        challenge[24..].copy_from_slice(&mac);
        Ok(challenge)
    }

    /// Checks that `challenge` is this server's, fresh and unused (cheap: a MAC, no
    /// pairing), and returns it as an array.
    pub fn check_challenge(
        &self,
        challenge: &[u8],
    ) -> Result<[u8; CHALLENGE_BYTES], ChallengeError> {
        let challenge: [u8; CHALLENGE_BYTES] = challenge
            .try_into()
            .map_err(|_| ChallengeError::Length(challenge.len()))?;
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.secret)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(&challenge[..24]);
        // Constant time, so the MAC cannot be found byte by byte.
        mac.verify_truncated_left(&challenge[24..])
            .map_err(|_| ChallengeError::Forged)?;
        let mut issued = [0u8; 8];
        issued.copy_from_slice(&challenge[..8]);
        let issued = Duration::from_millis(u64::from_be_bytes(issued));
        if self.epoch.elapsed().saturating_sub(issued) > CHALLENGE_TTL {
            return Err(ChallengeError::Expired);
        }
        if self.state().used.contains_key(&challenge) {
            return Err(ChallengeError::Used);
        }
        Ok(challenge)
    }

    /// Opens a session for `operator`, whose signature on `challenge` the caller has
    /// verified; returns its token. Refused when the challenge opened a session since
    /// it was checked.
    pub fn open(
        &self,
        operator: OperatorId,
        challenge: [u8; CHALLENGE_BYTES],
    ) -> Result<[u8; TOKEN_BYTES], SessionError> {
        let mut token = [0u8; TOKEN_BYTES];
        getrandom::fill(&mut token).map_err(|e| SessionError::Random(e.to_string()))?;
        let now = Instant::now();
        let mut state = self.state();
        state.used.retain(|_, expires| *expires > now);
        if state.used.contains_key(&challenge) {
            return Err(SessionError::Challenge(ChallengeError::Used));
        }
        state.used.insert(challenge, now + CHALLENGE_TTL);
        state.by_token.insert(
            token,
            Session {
                operator,
                expires: now + self.ttl,
            },
        );
        let State {
            by_token,
            by_operator,
            ..
        } = &mut *state;
        let tokens = by_operator.entry(operator).or_default();
        tokens.push_back(token);
        // Expired sessions go first, then the oldest beyond the bound.
        tokens.retain(|t| by_token.get(t).is_some_and(|s| s.expires > now));
        while tokens.len() > MAX_SESSIONS_PER_OPERATOR {
            if let Some(old) = tokens.pop_front() {
                by_token.remove(&old);
            }
        }
        by_token.retain(|_, s| s.expires > now);
        Ok(token)
    }

    /// Whether `token` is an open session of `operator` (a map lookup: the cost of
    /// refusing a request in someone else's name).
    pub fn admits(&self, token: &[u8], operator: &[u8]) -> bool {
        let Ok(token) = <[u8; TOKEN_BYTES]>::try_from(token) else {
            return false;
        };
        self.state()
            .by_token
            .get(&token)
            .is_some_and(|s| s.operator.0 == operator && s.expires > Instant::now())
    }

    /// Open sessions (expired ones not yet dropped included).
    pub fn len(&self) -> usize {
        self.state().by_token.len()
    }

    /// Whether no session is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Why a session was not opened.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// The challenge is refused.
    #[error(transparent)]
    Challenge(#[from] ChallengeError),
    /// The system's random source failed.
    #[error("no randomness for a token: {0}")]
    Random(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE: OperatorId = OperatorId([1; 20]);
    const BOB: OperatorId = OperatorId([2; 20]);

    #[test]
    fn a_challenge_is_the_servers_and_opens_one_session() {
        let sessions = Sessions::new(Duration::from_secs(60)).expect("random");
        let challenge = sessions.challenge().expect("random");
        let checked = sessions.check_challenge(&challenge).expect("fresh");
        let token = sessions.open(ALICE, checked).expect("open");
        assert!(sessions.admits(&token, &ALICE.0));
        assert!(
            !sessions.admits(&token, &BOB.0),
            "a token names its operator"
        );
        assert!(!sessions.admits(&[0; 32], &ALICE.0));
        assert!(!sessions.admits(&token[..31], &ALICE.0));
        assert_eq!(
            sessions.check_challenge(&challenge),
            Err(ChallengeError::Used)
        );
        assert_eq!(
            sessions.open(BOB, checked),
            Err(SessionError::Challenge(ChallengeError::Used))
        );
    }

    #[test]
    fn forged_and_foreign_challenges_are_refused() {
        let sessions = Sessions::new(Duration::from_secs(60)).expect("random");
        let other = Sessions::new(Duration::from_secs(60)).expect("random");
        let mut challenge = sessions.challenge().expect("random");
        assert_eq!(
            other.check_challenge(&challenge),
            Err(ChallengeError::Forged)
        );
        for i in [0, 8, 30, 47] {
            let mut tampered = challenge;
            tampered[i] ^= 1;
            assert_eq!(
                sessions.check_challenge(&tampered),
                Err(ChallengeError::Forged)
            );
        }
        assert_eq!(
            sessions.check_challenge(&challenge[..47]),
            Err(ChallengeError::Length(47))
        );
        // Back-dated by the server itself: what an expired challenge looks like.
        challenge[..8].copy_from_slice(&0u64.to_be_bytes());
        let mac = sessions.mac(&challenge[..24]);
        challenge[24..].copy_from_slice(&mac);
        let Some(epoch) = Instant::now().checked_sub(CHALLENGE_TTL + Duration::from_secs(1)) else {
            return; // A clock younger than the TTL cannot express an old challenge.
        };
        let sessions = Sessions { epoch, ..sessions };
        assert_eq!(
            sessions.check_challenge(&challenge),
            Err(ChallengeError::Expired)
        );
    }

    #[test]
    fn sessions_per_operator_are_bounded_and_expire() {
        let sessions = Sessions::new(Duration::from_secs(60)).expect("random");
        let tokens: Vec<_> = (0..MAX_SESSIONS_PER_OPERATOR + 2)
            .map(|_| {
                let c = sessions.challenge().expect("random");
                sessions.open(ALICE, c).expect("open")
            })
            .collect();
        assert_eq!(sessions.len(), MAX_SESSIONS_PER_OPERATOR);
        assert!(!sessions.admits(&tokens[0], &ALICE.0), "oldest closed");
        assert!(sessions.admits(&tokens[tokens.len() - 1], &ALICE.0));

        let short = Sessions::new(Duration::ZERO).expect("random");
        let c = short.challenge().expect("random");
        let token = short.open(BOB, c).expect("open");
        assert!(!short.admits(&token, &BOB.0), "expired at once");
    }
}
