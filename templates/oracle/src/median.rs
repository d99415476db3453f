//! The aggregator's proposal: the stake-weighted median of the operators' reports,
//! and who reported too far from it.
//!
//! A report weighs as much as its operator's stake, so operators holding less than
//! half of the reporting stake cannot move the median outside the range of the
//! others' prices, however far off they report (tested below for every input).

use bulwark::core::OperatorId;

use crate::price::Price;

/// One operator's signed observation, as the aggregator holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// Who reported.
    pub operator: OperatorId,
    /// Its stake at the round's reference block.
    pub stake: u64,
    /// The price it observed.
    pub price: Price,
    /// When it observed it, unix seconds.
    pub at: u64,
}

/// What the aggregator asks operators to endorse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposal {
    /// The stake-weighted median price.
    pub price: Price,
    /// The median observation time of the reports kept.
    pub at: u64,
    /// Operators whose report deviates from the median beyond the tolerance: left
    /// out, their signed reports kept as evidence.
    pub outliers: Vec<OperatorId>,
    /// Stake of the reports kept.
    pub kept_stake: u64,
}

/// The stake-weighted median: the lowest price at which the reports at or below it
/// hold at least half of the total stake. Ties are broken by operator id, so every
/// aggregator computes the same value. `None` without reports or stake.
pub fn weighted_median(reports: &[Report]) -> Option<Price> {
    let total: u128 = reports.iter().map(|r| u128::from(r.stake)).sum();
    if total == 0 {
        return None;
    }
    let mut sorted: Vec<&Report> = reports.iter().filter(|r| r.stake > 0).collect();
    sorted.sort_by(|a, b| a.price.cmp(&b.price).then(a.operator.0.cmp(&b.operator.0)));
    let mut cumulative = 0u128;
    for r in sorted {
        cumulative += u128::from(r.stake);
        if cumulative * 2 >= total {
            return Some(r.price);
        }
    }
    None
}

/// The proposal for `reports`: the weighted median, the outliers beyond
/// `tolerance_bps` of it, and the median time of the rest.
pub fn propose(reports: &[Report], tolerance_bps: u128) -> Option<Proposal> {
    let price = weighted_median(reports)?;
    let (kept, outliers): (Vec<&Report>, Vec<&Report>) = reports
        .iter()
        .partition(|r| price.deviation_bps(r.price) <= tolerance_bps);
    let mut times: Vec<u64> = kept.iter().map(|r| r.at).collect();
    times.sort_unstable();
    let at = *times.get(times.len().checked_sub(1)? / 2)?;
    Some(Proposal {
        price,
        at,
        outliers: outliers.iter().map(|r| r.operator).collect(),
        kept_stake: kept.iter().map(|r| r.stake).sum(),
    })
}

/// An operator endorses a proposal when it lies within its tolerance of what it
/// observed itself.
pub fn endorses(own: Price, proposal: Price, tolerance_bps: u128) -> bool {
    own.deviation_bps(proposal) <= tolerance_bps
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn id(i: u8) -> OperatorId {
        OperatorId([i; 20])
    }

    fn report(i: u8, stake: u64, price: u128) -> Report {
        Report {
            operator: id(i),
            stake,
            price: Price(price),
            at: 1_000 + u64::from(i),
        }
    }

    #[test]
    fn median_weighs_by_stake() {
        // Equal stakes: the middle price.
        let even = [report(1, 10, 100), report(2, 10, 300), report(3, 10, 200)];
        assert_eq!(weighted_median(&even), Some(Price(200)));
        // One heavy operator holds the majority: its price wins.
        let heavy = [report(1, 60, 100), report(2, 20, 300), report(3, 20, 200)];
        assert_eq!(weighted_median(&heavy), Some(Price(100)));
        // Exactly half at or below a price: that price.
        let half = [report(1, 50, 100), report(2, 50, 300)];
        assert_eq!(weighted_median(&half), Some(Price(100)));
        assert_eq!(weighted_median(&[]), None);
        assert_eq!(weighted_median(&[report(1, 0, 5)]), None);
    }

    #[test]
    fn a_liar_is_left_out_and_named() {
        let reports = [
            report(1, 32, 300_000),
            report(2, 32, 300_100),
            report(3, 32, 299_900),
            report(4, 32, 900_000),
        ];
        let p = propose(&reports, 50).expect("proposal");
        assert_eq!(p.price, Price(300_000));
        assert_eq!(p.outliers, vec![id(4)]);
        assert_eq!(p.kept_stake, 96);
        assert_eq!(p.at, 1_002, "median time of the kept reports");
        assert!(endorses(Price(300_100), p.price, 50));
        assert!(!endorses(Price(900_000), p.price, 50));
    }

    proptest! {
        /// Honest operators holding more than half the stake pin the median inside
        /// their own range, whatever the others report.
        #[test]
        fn minority_cannot_move_the_median(
            honest in proptest::collection::vec((1u64..1_000, 1_000u128..2_000), 1..8),
            liars in proptest::collection::vec((1u64..1_000, 1u128..u128::MAX / 4), 0..8),
        ) {
            let honest_stake: u64 = honest.iter().map(|h| h.0).sum();
            let liar_stake: u64 = liars.iter().map(|l| l.0).sum();
            prop_assume!(honest_stake > liar_stake);
            let mut reports = Vec::new();
            for (i, (stake, price)) in honest.iter().enumerate() {
                reports.push(report(i as u8, *stake, *price));
            }
            for (i, (stake, price)) in liars.iter().enumerate() {
                reports.push(report(100 + i as u8, *stake, *price));
            }
            let median = weighted_median(&reports).expect("median");
            let lo = honest.iter().map(|h| h.1).min().expect("some");
            let hi = honest.iter().map(|h| h.1).max().expect("some");
            prop_assert!(median.0 >= lo && median.0 <= hi, "{} outside [{lo}, {hi}]", median.0);
        }

        /// The result does not depend on the order reports arrived in.
        #[test]
        fn order_does_not_matter(
            mut reports in proptest::collection::vec((1u64..100, 1u128..1_000), 1..12),
        ) {
            let a: Vec<Report> = reports.iter().enumerate().map(|(i, r)| report(i as u8, r.0, r.1)).collect();
            reports.reverse();
            let n = reports.len();
            let b: Vec<Report> = reports.iter().enumerate().map(|(i, r)| report((n - 1 - i) as u8, r.0, r.1)).collect();
            prop_assert_eq!(propose(&a, 100).map(|p| (p.price, p.kept_stake)), propose(&b, 100).map(|p| (p.price, p.kept_stake)));
        }
    }
}
