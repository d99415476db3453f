//! Operators and the operator set of a task's reference block.

use bulwark_crypto::PublicKey;

/// An operator's on-chain address.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct OperatorId(pub [u8; 20]);

impl std::fmt::Debug for OperatorId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "0x{}", hex::encode(self.0))
    }
}

impl std::fmt::Display for OperatorId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

/// A registered operator at a reference block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operator {
    /// Its address.
    pub id: OperatorId,
    /// Its BLS key.
    pub public_key: PublicKey,
    /// Its stake (gwei, as the registry records it).
    pub stake: u64,
}

/// The operators of a reference block, sorted by address, with their total stake
/// and the sum of their keys.
///
/// Cloning shares the members (an `Arc`): every task opened at one reference block
/// holds the same set, so 1,000 open tasks over 10,000 operators keep one copy of
/// the keys, not a thousand. The key sum is made once, when the set is (off any
/// certificate's path): a certificate signed by most of the set then sums only
/// the keys of those who did not sign.
#[derive(Clone)]
pub struct OperatorSet {
    inner: std::sync::Arc<Members>,
}

struct Members {
    operators: Vec<Operator>,
    total: u64,
    key: Option<bulwark_crypto::AggregatePublicKey>,
}

impl PartialEq for OperatorSet {
    fn eq(&self, other: &Self) -> bool {
        self.inner.operators == other.inner.operators
    }
}

impl Eq for OperatorSet {}

impl std::fmt::Debug for OperatorSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OperatorSet")
            .field("operators", &self.inner.operators)
            .field("total", &self.inner.total)
            .finish_non_exhaustive()
    }
}

/// Why an operator set could not be formed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OperatorSetError {
    /// The same address twice.
    #[error("operator {0} listed twice")]
    Duplicate(OperatorId),
    /// The stakes add up past u64.
    #[error("total stake overflows")]
    StakeOverflow,
}

impl OperatorSet {
    /// Sorts `operators` by address and totals their stake.
    pub fn new(mut operators: Vec<Operator>) -> Result<Self, OperatorSetError> {
        operators.sort_by_key(|o| o.id);
        if let Some(w) = operators.windows(2).find(|w| w[0].id == w[1].id) {
            return Err(OperatorSetError::Duplicate(w[0].id));
        }
        let total = operators
            .iter()
            .try_fold(0u64, |acc, o| acc.checked_add(o.stake))
            .ok_or(OperatorSetError::StakeOverflow)?;
        let key =
            bulwark_crypto::AggregatePublicKey::aggregate(operators.iter().map(|o| &o.public_key))
                .ok();
        Ok(Self {
            inner: std::sync::Arc::new(Members {
                operators,
                total,
                key,
            }),
        })
    }

    /// The member with `id`.
    pub fn get(&self, id: &OperatorId) -> Option<&Operator> {
        self.index_of(id).and_then(|i| self.inner.operators.get(i))
    }

    /// Position of `id` in address order.
    pub fn index_of(&self, id: &OperatorId) -> Option<usize> {
        self.inner.operators.binary_search_by(|o| o.id.cmp(id)).ok()
    }

    /// The members in address order.
    pub fn operators(&self) -> &[Operator] {
        &self.inner.operators
    }

    /// Total stake of the set.
    pub fn total_stake(&self) -> u64 {
        self.inner.total
    }

    /// The sum of every member's key (`None` for an empty set).
    pub fn aggregate_key(&self) -> Option<&bulwark_crypto::AggregatePublicKey> {
        self.inner.key.as_ref()
    }

    /// The sum of the keys of the members at `indices` (ascending, in range): from
    /// the whole set's sum less the others when they are fewer, so a certificate
    /// signed by nearly everyone costs a few subtractions, not a sum over the set.
    pub fn key_of_members(&self, indices: &[usize]) -> Option<bulwark_crypto::AggregatePublicKey> {
        let operators = &self.inner.operators;
        if indices.len() * 2 <= operators.len() {
            return bulwark_crypto::AggregatePublicKey::aggregate(
                indices
                    .iter()
                    .filter_map(|&i| operators.get(i))
                    .map(|o| &o.public_key),
            )
            .ok();
        }
        let mut key = *self.inner.key.as_ref()?;
        let mut next = indices.iter().peekable();
        for (i, operator) in operators.iter().enumerate() {
            if next.peek() == Some(&&i) {
                next.next();
            } else {
                key.subtract(&operator.public_key);
            }
        }
        Some(key)
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.inner.operators.len()
    }

    /// Whether the set has no members.
    pub fn is_empty(&self) -> bool {
        self.inner.operators.is_empty()
    }
}

#[cfg(test)]
mod key_tests {
    use bulwark_crypto::{AggregatePublicKey, SecretKey};

    use super::*;

    #[test]
    fn key_of_members_is_their_sum_from_either_side() {
        let keys: Vec<SecretKey> = (0..7u8)
            .map(|i| SecretKey::from_ikm(&[i + 1; 32]).expect("ikm"))
            .collect();
        let set = OperatorSet::new(
            keys.iter()
                .enumerate()
                .map(|(i, k)| Operator {
                    id: OperatorId([i as u8; 20]),
                    public_key: k.public_key(),
                    stake: 1,
                })
                .collect(),
        )
        .expect("set");
        // Every subset: few members summed directly, most from the set's sum.
        for mask in 1u32..(1 << 7) {
            let indices: Vec<usize> = (0..7).filter(|i| mask & (1 << i) != 0).collect();
            let expected = AggregatePublicKey::aggregate(
                indices.iter().map(|&i| &set.operators()[i].public_key),
            )
            .expect("sum");
            let got = set.key_of_members(&indices).expect("sum");
            assert_eq!(got.to_eip2537(), expected.to_eip2537(), "{indices:?}");
        }
    }
}
