//! The operator table a remote chain keeps (`OperatorTable.sol`), built the way the
//! contract checks it.
//!
//! Members are sorted by operator address. A member's leaf is
//! `keccak256(keccak256(abi.encode(operator, stakeGwei, publicKey)))` (the key as the
//! contract's `BLS.G2Point`, its 256 EIP-2537 bytes), the tree hashes sorted pairs
//! (OpenZeppelin's `MerkleProof`), and a layer's odd last node is carried up as is.
//! The contract's tests and this module's pin the same root for one table, so the two
//! constructions cannot drift apart.

use bulwark::alloy::primitives::{Address, B256, keccak256};
use bulwark::crypto::{AggregatePublicKey, PublicKey};

/// Why a set of members is no table.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TableError {
    /// A table needs at least one member with stake.
    #[error("a table needs at least one member with stake")]
    Empty,
    /// An operator is listed twice.
    #[error("operator {0} is listed twice")]
    Duplicate(Address),
    /// The stakes do not fit the contract's `uint64` gwei total.
    #[error("the total stake overflows 64 bits of gwei")]
    StakeOverflow,
    /// The keys do not aggregate to a usable key (they cancel out).
    #[error("the members' keys do not aggregate to a public key")]
    Aggregate,
}

/// One operator of the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// Its address on the home chain.
    pub operator: Address,
    /// Its stake, in gwei (as the home registry counts it).
    pub stake_gwei: u64,
    /// Its BLS key.
    pub public_key: PublicKey,
}

impl Member {
    /// Its leaf in the table's tree.
    pub fn leaf(&self) -> B256 {
        let mut encoded = Vec::with_capacity(32 + 32 + 256);
        encoded.extend_from_slice(&[0u8; 12]);
        encoded.extend_from_slice(self.operator.as_slice());
        encoded.extend_from_slice(&[0u8; 24]);
        encoded.extend_from_slice(&self.stake_gwei.to_be_bytes());
        encoded.extend_from_slice(&self.public_key.to_eip2537());
        keccak256(keccak256(&encoded))
    }
}

/// A table: its members (sorted), their tree, total stake and aggregate key.
#[derive(Clone, Debug)]
pub struct Table {
    members: Vec<Member>,
    /// The tree's layers, leaves first, the root last.
    layers: Vec<Vec<B256>>,
    total_stake_gwei: u64,
    aggregate_key: [u8; 256],
}

impl Table {
    /// The table of `members` (in any order).
    pub fn new(mut members: Vec<Member>) -> Result<Self, TableError> {
        members.sort_by_key(|m| m.operator);
        if let Some(pair) = members.windows(2).find(|w| w[0].operator == w[1].operator) {
            return Err(TableError::Duplicate(pair[0].operator));
        }
        let total_stake_gwei = members
            .iter()
            .try_fold(0u64, |sum, m| sum.checked_add(m.stake_gwei))
            .ok_or(TableError::StakeOverflow)?;
        if total_stake_gwei == 0 {
            return Err(TableError::Empty);
        }
        let aggregate = AggregatePublicKey::aggregate(members.iter().map(|m| &m.public_key))
            .map_err(|_| TableError::Aggregate)?;
        aggregate.to_public_key().ok_or(TableError::Aggregate)?;
        let mut layers = vec![members.iter().map(Member::leaf).collect::<Vec<_>>()];
        while let Some(layer) = layers.last().filter(|l| l.len() > 1) {
            let next = layer
                .chunks(2)
                .map(|pair| match pair {
                    [a, b] => hash_pair(*a, *b),
                    [a] => *a,
                    _ => unreachable!("chunks(2) yields one or two"),
                })
                .collect();
            layers.push(next);
        }
        Ok(Self {
            members,
            layers,
            total_stake_gwei,
            aggregate_key: aggregate.to_eip2537(),
        })
    }

    /// The members, sorted by operator address.
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// The Merkle root the contract stores.
    pub fn root(&self) -> B256 {
        self.layers
            .last()
            .and_then(|l| l.first())
            .copied()
            .unwrap_or_default()
    }

    /// The members' total stake, in gwei.
    pub fn total_stake_gwei(&self) -> u64 {
        self.total_stake_gwei
    }

    /// The members' aggregate key, as the contract's `BLS.G2Point` (EIP-2537 bytes).
    pub fn aggregate_key(&self) -> &[u8; 256] {
        &self.aggregate_key
    }

    /// The proof a certificate carries for `operator` as a non-signer; `None` if it is
    /// not a member.
    pub fn proof(&self, operator: Address) -> Option<Vec<B256>> {
        let mut index = self
            .members
            .binary_search_by_key(&operator, |m| m.operator)
            .ok()?;
        let mut proof = Vec::new();
        for layer in &self.layers[..self.layers.len() - 1] {
            if let Some(sibling) = layer.get(index ^ 1) {
                proof.push(*sibling);
            }
            index /= 2;
        }
        Some(proof)
    }
}

/// OpenZeppelin's `Hashes.commutativeKeccak256`: the smaller word first.
fn hash_pair(a: B256, b: B256) -> B256 {
    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
    let mut bytes = [0u8; 64];
    bytes[..32].copy_from_slice(lo.as_slice());
    bytes[32..].copy_from_slice(hi.as_slice());
    keccak256(bytes)
}

/// Whether `proof` shows `leaf` under `root` (what the contract checks).
pub fn verify(proof: &[B256], root: B256, leaf: B256) -> bool {
    proof
        .iter()
        .fold(leaf, |node, sibling| hash_pair(node, *sibling))
        == root
}

#[cfg(test)]
mod tests {
    use super::*;
    use bulwark::alloy::primitives::U256;
    use bulwark::alloy::sol_types::SolValue;
    use bulwark::crypto::SecretKey;

    /// The forge fixture's operator `sk`: secret key `sk`, address from
    /// `keccak256(abi.encode("op", sk))`, 32 gwei-denominated ether of stake.
    fn fixture_member(sk: u64) -> Member {
        let mut bytes = [0u8; 32];
        bytes[24..].copy_from_slice(&sk.to_be_bytes());
        let secret = SecretKey::from_bytes(&bytes).expect("a scalar");
        let hash = keccak256(("op".to_string(), U256::from(sk)).abi_encode_params());
        Member {
            operator: Address::from_slice(&hash[12..]),
            stake_gwei: 32_000_000_000,
            public_key: secret.public_key(),
        }
    }

    #[test]
    fn the_root_matches_the_contracts() {
        // The same values `test_tableRootVector` in test/Bridge.t.sol asserts.
        let four = Table::new((1..=4).map(fixture_member).collect()).expect("table");
        assert_eq!(
            four.root().to_string(),
            "0xe9a1fc1d37179cb0089be62c5d1f8df77ae06f1f543e01b47adbe4242af2fb7d"
        );
        let five = Table::new((1..=5).rev().map(fixture_member).collect()).expect("table");
        assert_eq!(
            five.root().to_string(),
            "0x1d13629488999f657e03c583de2686cffc792547232dc8fe42be8b3c4551b72b"
        );
        assert_eq!(five.total_stake_gwei(), 160_000_000_000);
    }

    #[test]
    fn every_member_has_a_proof_and_strangers_none() {
        for n in 1..=9 {
            let table = Table::new((1..=n).map(fixture_member).collect()).expect("table");
            for m in table.members() {
                let proof = table.proof(m.operator).expect("a member");
                assert!(verify(&proof, table.root(), m.leaf()), "n={n}");
                // Another stake or key is another leaf.
                let mut lying = m.clone();
                lying.stake_gwei -= 1;
                assert!(!verify(&proof, table.root(), lying.leaf()), "n={n}");
            }
            assert!(table.proof(fixture_member(100).operator).is_none());
        }
    }

    #[test]
    fn duplicates_empty_and_overflowing_tables_are_refused() {
        let a = fixture_member(1);
        assert_eq!(
            Table::new(vec![a.clone(), fixture_member(2), a.clone()]).err(),
            Some(TableError::Duplicate(a.operator))
        );
        assert_eq!(Table::new(Vec::new()).err(), Some(TableError::Empty));
        let mut zero = a.clone();
        zero.stake_gwei = 0;
        assert_eq!(Table::new(vec![zero]).err(), Some(TableError::Empty));
        let mut big = a;
        big.stake_gwei = u64::MAX;
        assert_eq!(
            Table::new(vec![big, fixture_member(2)]).err(),
            Some(TableError::StakeOverflow)
        );
    }
}
