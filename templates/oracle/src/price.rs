//! Prices as exact fixed-point integers: no float ever touches a value that gets
//! signed, so every honest operator encodes the same bytes.

use std::fmt;

/// Decimals of every price in this template (as Chainlink's USD feeds).
pub const DECIMALS: u32 = 8;
const SCALE: u128 = 100_000_000;

/// A price with [`DECIMALS`] decimals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Price(pub u128);

/// Why a price string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a price: {0:?}")]
pub struct PriceError(pub String);

impl Price {
    /// Parses a decimal string such as `"3021.45"`; digits beyond [`DECIMALS`] are
    /// truncated. Refuses signs, exponents, empty parts and zero.
    pub fn parse(text: &str) -> Result<Self, PriceError> {
        let err = || PriceError(text.chars().take(40).collect());
        let (whole, frac) = text.trim().split_once('.').unwrap_or((text.trim(), ""));
        if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        if !frac.bytes().all(|b| b.is_ascii_digit()) || whole.len() > 39 {
            return Err(err());
        }
        let whole: u128 = whole.parse().map_err(|_| err())?;
        let mut frac_units = 0u128;
        for (i, b) in frac.bytes().take(DECIMALS as usize).enumerate() {
            frac_units += u128::from(b - b'0') * 10u128.pow(DECIMALS - 1 - i as u32);
        }
        let value = whole
            .checked_mul(SCALE)
            .and_then(|w| w.checked_add(frac_units))
            .ok_or_else(err)?;
        if value == 0 {
            return Err(err());
        }
        Ok(Price(value))
    }

    /// |self − other| in basis points of `self`, rounded up (so a tolerance check never
    /// passes by rounding) and exact: computed in 256 bits, as `OracleAVS` computes it,
    /// since an operator endorses by this figure and is slashed by the contract's. A
    /// product that saturated would let a huge price endorse a tiny one. Above
    /// `u128::MAX` (only when `self` is tiny) it saturates, which refuses anything.
    pub fn deviation_bps(self, other: Price) -> u128 {
        if self.0 == 0 {
            return u128::MAX;
        }
        let diff = alloy::primitives::U256::from(self.0.abs_diff(other.0));
        let bps = (diff * alloy::primitives::U256::from(10_000u64))
            .div_ceil(alloy::primitives::U256::from(self.0));
        u128::try_from(bps).unwrap_or(u128::MAX)
    }

    /// From a float, for the local price server only (never for signed values).
    pub fn from_f64(value: f64) -> Price {
        Price((value * SCALE as f64).round().max(1.0) as u128)
    }

    /// As a float, for display and the random walk.
    pub fn as_f64(self) -> f64 {
        self.0 as f64 / SCALE as f64
    }
}

impl fmt::Display for Price {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:08}", self.0 / SCALE, self.0 % SCALE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A huge own price no longer saturates into a small deviation: 2^127 against 1
    /// is ~10,000 bps, not 2.
    #[test]
    fn deviation_is_exact_for_huge_prices() {
        let huge = Price(1u128 << 127);
        assert_eq!(huge.deviation_bps(Price(1)), 10_000);
        assert!(Price(1).deviation_bps(huge) > 10_000);
        assert_eq!(
            Price(300_000_000_000).deviation_bps(Price(303_000_000_000)),
            100
        );
        assert_eq!(
            Price(300_000_000_000).deviation_bps(Price(303_000_000_001)),
            101
        );
    }
    use proptest::prelude::*;

    #[test]
    fn parses_exchange_strings_exactly() {
        assert_eq!(Price::parse("3021.45").expect("ok"), Price(302_145_000_000));
        assert_eq!(
            Price::parse("3021.450000001").expect("truncated"),
            Price(302_145_000_000)
        );
        assert_eq!(
            Price::parse("64000").expect("ok").to_string(),
            "64000.00000000"
        );
        for bad in [
            "", ".5", "-1", "1e5", "0", "0.0", "abc", "1.2.3", " ", "1,5",
        ] {
            assert!(Price::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn deviation_rounds_up() {
        let p = Price::parse("100").expect("ok");
        assert_eq!(p.deviation_bps(Price::parse("100.5").expect("ok")), 50);
        assert_eq!(
            p.deviation_bps(Price::parse("100.50000001").expect("ok")),
            51
        );
        assert_eq!(p.deviation_bps(p), 0);
    }

    proptest! {
        #[test]
        fn display_parses_back(units in 1u128..u128::MAX / 1_000) {
            let p = Price(units);
            prop_assert_eq!(Price::parse(&p.to_string()).expect("round trip"), p);
        }

        #[test]
        fn arbitrary_text_never_panics(text in ".{0,48}") {
            let _ = Price::parse(&text);
        }
    }
}
