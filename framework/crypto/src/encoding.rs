//! Byte encodings shared by keys and signatures: `0x` hex, serde, and EIP-2537.
//!
//! Three encodings exist for every point type, each for one audience:
//! - *compressed* bytes (ZCash format, as blst and the IETF draft define it) on the wire;
//! - *EIP-2537* bytes for contracts: each base-field element as 64 bytes (16 zero bytes,
//!   then 48 big-endian), an Fp2 element as `c0 || c1`, a point as `x || y`;
//! - `0x`-prefixed hex of the compressed bytes for humans, config files and JSON.
//!
//! # Security
//! Every decoder here takes bytes from outside. They check the length before touching
//! the data, never index past it, and leave curve and subgroup checks to the typed
//! constructors, which every decoder ends in.

use crate::Error;

/// Size of a base-field element in the big-endian encoding blst uses.
pub(crate) const FP_LEN: usize = 48;
/// Size of a base-field element padded to the EIP-2537 width.
pub(crate) const EIP2537_FP_LEN: usize = 64;
/// Zero bytes EIP-2537 puts before each 48-byte field element.
const EIP2537_PAD: usize = EIP2537_FP_LEN - FP_LEN;

/// Decodes `0x`-prefixed (or bare) hex into exactly `N` bytes.
pub(crate) fn decode_hex<const N: usize>(what: &'static str, s: &str) -> Result<[u8; N], Error> {
    let digits = s.strip_prefix("0x").unwrap_or(s);
    if digits.len() != 2 * N {
        return Err(Error::InvalidLength {
            what,
            expected: N,
            got: digits.len() / 2,
        });
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(digits, &mut out).map_err(|e| Error::InvalidHex(e.to_string()))?;
    Ok(out)
}

/// Pads each 48-byte field element of an uncompressed blst point to 64 bytes.
///
/// `order` lists, for each output slot, which 48-byte element of `raw` goes there:
/// blst writes Fp2 as `c1 || c0`, EIP-2537 wants `c0 || c1`.
pub(crate) fn to_eip2537<const OUT: usize>(raw: &[u8], order: &[usize]) -> [u8; OUT] {
    let mut out = [0u8; OUT];
    for (slot, &element) in order.iter().enumerate() {
        let src = &raw[element * FP_LEN..(element + 1) * FP_LEN];
        let dst_start = slot * EIP2537_FP_LEN + EIP2537_PAD;
        out[dst_start..dst_start + FP_LEN].copy_from_slice(src);
    }
    out
}

/// Strips EIP-2537 padding back to blst's uncompressed layout (the inverse of
/// [`to_eip2537`] with the same `order`), refusing non-zero padding, the all-zero
/// encoding of infinity, and field elements too wide to be below the modulus.
pub(crate) fn from_eip2537<const RAW: usize>(
    what: &'static str,
    bytes: &[u8],
    order: &[usize],
) -> Result<[u8; RAW], Error> {
    let expected = order.len() * EIP2537_FP_LEN;
    if bytes.len() != expected {
        return Err(Error::InvalidLength {
            what,
            expected,
            got: bytes.len(),
        });
    }
    if bytes.iter().all(|&b| b == 0) {
        return Err(Error::PointAtInfinity { what });
    }
    let mut raw = [0u8; RAW];
    for (slot, chunk) in bytes.chunks_exact(EIP2537_FP_LEN).enumerate() {
        let (pad, element) = chunk.split_at(EIP2537_PAD);
        if pad.iter().any(|&b| b != 0) {
            return Err(Error::InvalidEncoding {
                what,
                reason: "EIP-2537 padding bytes are not zero",
            });
        }
        // The modulus has 381 bits, so the top three bits of a 48-byte element are zero;
        // blst would read set bits there as compression flags.
        if element.first().is_some_and(|b| b & 0xe0 != 0) {
            return Err(Error::InvalidEncoding {
                what,
                reason: "field element is not below the modulus",
            });
        }
        let target = order[slot];
        raw[target * FP_LEN..(target + 1) * FP_LEN].copy_from_slice(element);
    }
    Ok(raw)
}

/// Implements `Display`/`LowerHex` (0x hex), `FromStr`, `Debug` and serde (hex string in
/// human-readable formats, raw bytes otherwise) for a type with `to_bytes`/`from_bytes`.
macro_rules! impl_encodings {
    ($ty:ident, $len:expr, $what:expr) => {
        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "0x{}", hex::encode(self.to_bytes()))
            }
        }

        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}({})", stringify!($ty), self)
            }
        }

        impl std::str::FromStr for $ty {
            type Err = $crate::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let bytes = $crate::encoding::decode_hex::<{ $len }>($what, s)?;
                Self::from_bytes(&bytes)
            }
        }

        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                if s.is_human_readable() {
                    s.collect_str(self)
                } else {
                    s.serialize_bytes(&self.to_bytes())
                }
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                use serde::de::Error as _;
                if d.is_human_readable() {
                    let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                    s.parse().map_err(D::Error::custom)
                } else {
                    let b = <$crate::encoding::serde_bytes_like::Bytes>::deserialize(d)?;
                    Self::from_bytes(&b.0).map_err(D::Error::custom)
                }
            }
        }
    };
}
pub(crate) use impl_encodings;

/// A minimal byte-buffer visitor so binary serde formats can hand us bytes or a sequence.
pub(crate) mod serde_bytes_like {
    use serde::de::{Deserialize, Deserializer, SeqAccess, Visitor};

    /// Bytes from any binary serde format, capped so a hostile length cannot allocate much.
    pub struct Bytes(pub Vec<u8>);

    /// No point encoding is larger than this.
    const MAX: usize = 256;

    impl<'de> Deserialize<'de> for Bytes {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Bytes;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    write!(f, "at most {MAX} bytes")
                }
                fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Bytes, E> {
                    if v.len() > MAX {
                        return Err(E::invalid_length(v.len(), &self));
                    }
                    Ok(Bytes(v.to_vec()))
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Bytes, A::Error> {
                    let mut out = Vec::new();
                    while let Some(b) = seq.next_element::<u8>()? {
                        if out.len() == MAX {
                            return Err(serde::de::Error::invalid_length(out.len() + 1, &self));
                        }
                        out.push(b);
                    }
                    Ok(Bytes(out))
                }
            }
            d.deserialize_bytes(V)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eip2537_round_trip_reorders_and_pads() {
        let raw: Vec<u8> = (0..4u8).flat_map(|i| [i + 1; FP_LEN]).collect();
        let order = [1, 0, 3, 2];
        let enc: [u8; 256] = to_eip2537(&raw, &order);
        assert!(enc[..16].iter().all(|&b| b == 0));
        assert_eq!(enc[16], 2, "c0 of x comes first");
        let back: [u8; 192] = from_eip2537("test", &enc, &order).expect("round trip");
        assert_eq!(&back[..], &raw[..]);
    }

    #[test]
    fn eip2537_rejects_padding_and_wide_elements() {
        let mut enc = [0u8; 128];
        enc[20] = 1;
        enc[0] = 1;
        assert!(matches!(
            from_eip2537::<96>("t", &enc, &[0, 1]),
            Err(Error::InvalidEncoding { .. })
        ));
        enc[0] = 0;
        enc[16] = 0x80;
        assert!(matches!(
            from_eip2537::<96>("t", &enc, &[0, 1]),
            Err(Error::InvalidEncoding { .. })
        ));
        assert!(matches!(
            from_eip2537::<96>("t", &[0u8; 128], &[0, 1]),
            Err(Error::PointAtInfinity { .. })
        ));
        assert!(matches!(
            from_eip2537::<96>("t", &[0u8; 127], &[0, 1]),
            Err(Error::InvalidLength { .. })
        ));
    }

    #[test]
    fn hex_needs_exact_length() {
        assert!(decode_hex::<2>("t", "0xabcd").is_ok());
        assert!(decode_hex::<2>("t", "abcd").is_ok());
        assert!(decode_hex::<2>("t", "0xabc").is_err());
        assert!(decode_hex::<2>("t", "0xzzzz").is_err());
    }
}
