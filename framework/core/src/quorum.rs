//! The stake-threshold rule, exactly as `CertificateVerifier` applies it:
//! a certificate passes when the signers' stake is non-zero and
//! `signed * 10_000 >= threshold_bps * total`.

/// A threshold in basis points of the total stake (1 to 10,000).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Threshold(u16);

/// Basis points in a whole.
pub const BPS: u16 = 10_000;

impl Threshold {
    /// A threshold of `bps` basis points; `None` outside 1..=10,000 (the contract
    /// refuses those too).
    pub fn new(bps: u16) -> Option<Self> {
        (1..=BPS).contains(&bps).then_some(Self(bps))
    }

    /// The basis points.
    pub fn bps(self) -> u16 {
        self.0
    }

    /// Whether `signed` out of `total` meets the threshold. Widened to u128, so no
    /// stake in gwei (u64) can overflow it.
    pub fn is_met(self, signed: u64, total: u64) -> bool {
        signed > 0 && u128::from(signed) * u128::from(BPS) >= u128::from(self.0) * u128::from(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn edges() {
        let t = Threshold::new(6000).expect("valid");
        assert!(t.is_met(6, 10));
        assert!(!t.is_met(5, 10));
        assert!(!t.is_met(0, 0));
        assert!(Threshold::new(0).is_none() && Threshold::new(10_001).is_none());
        assert!(
            Threshold::new(10_000)
                .expect("valid")
                .is_met(u64::MAX, u64::MAX)
        );
    }

    proptest! {
        /// The smallest passing stake passes and one unit less fails.
        #[test]
        fn exactly_at_the_threshold_and_one_below(bps in 1u16..=10_000, total in 1u64..u64::MAX / 2) {
            let t = Threshold::new(bps).expect("valid");
            let need = (u128::from(bps) * u128::from(total)).div_ceil(10_000) as u64;
            let need = need.max(1);
            prop_assert!(t.is_met(need, total));
            prop_assert!(!t.is_met(need - 1, total));
        }
    }
}
