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

/// The operators of a reference block, sorted by address, with their total stake.
///
/// Cloning shares the members (an `Arc`): every task opened at one reference block
/// holds the same set, so 1,000 open tasks over 10,000 operators keep one copy of
/// the keys, not a thousand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperatorSet {
    operators: std::sync::Arc<[Operator]>,
    total: u64,
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
        Ok(Self {
            operators: operators.into(),
            total,
        })
    }

    /// The member with `id`.
    pub fn get(&self, id: &OperatorId) -> Option<&Operator> {
        self.index_of(id).and_then(|i| self.operators.get(i))
    }

    /// Position of `id` in address order.
    pub fn index_of(&self, id: &OperatorId) -> Option<usize> {
        self.operators.binary_search_by(|o| o.id.cmp(id)).ok()
    }

    /// The members in address order.
    pub fn operators(&self) -> &[Operator] {
        &self.operators
    }

    /// Total stake of the set.
    pub fn total_stake(&self) -> u64 {
        self.total
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.operators.len()
    }

    /// Whether the set has no members.
    pub fn is_empty(&self) -> bool {
        self.operators.is_empty()
    }
}
