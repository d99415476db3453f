//! EIP-2335 keystores: a secret key encrypted under a password, as JSON.
//!
//! The decryption key comes from the password through scrypt or PBKDF2-HMAC-SHA256;
//! its upper half, hashed with the ciphertext (SHA-256), is the checksum that tells a
//! wrong password from a right one; its lower half is the AES-128-CTR key. Passwords
//! are NFKD-normalised and stripped of C0, C1 and DEL control codes first, so the same
//! password typed on any system opens the same file.
//!
//! # Example
//! ```
//! use bulwark_crypto::{keystore::{Kdf, Keystore}, SecretKey};
//! let sk = SecretKey::from_ikm(&[4u8; 32])?;
//! // Cheap parameters keep the example fast; real keystores use `Kdf::default()`.
//! let ks = Keystore::encrypt(&sk, "correct horse", Kdf::Pbkdf2 { c: 1024 }, "m/12381/60/0/0")?;
//! let json = ks.to_json();
//! let back = Keystore::from_json(&json)?.decrypt("correct horse")?;
//! assert_eq!(back.public_key(), sk.public_key());
//! assert!(Keystore::from_json(&json)?.decrypt("wrong horse").is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Security
//! A keystore file may come from anyone: its KDF parameters are bounded before any
//! work (at most 1 GiB of scrypt memory, 2^24 PBKDF2 rounds) so a crafted file cannot
//! exhaust the machine, and every decoded buffer holding key material is wiped on drop.

use aes::cipher::{KeyIvInit, StreamCipher};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use unicode_normalization::UnicodeNormalization;
use zeroize::Zeroizing;

use crate::SecretKey;

type Aes128Ctr = ctr::Ctr128BE<aes::Aes128>;

/// The only length of decryption key EIP-2335 uses.
const DKLEN: usize = 32;
/// scrypt memory cap: 128 * r * n * p bytes.
const MAX_SCRYPT_MEMORY: u64 = 1 << 30;
/// PBKDF2 round cap.
const MAX_PBKDF2_ROUNDS: u32 = 1 << 24;
/// Salt size cap, so a file cannot make us hash megabytes.
const MAX_SALT_LEN: usize = 1024;

/// What went wrong reading, writing or opening a keystore.
#[derive(Debug, thiserror::Error)]
pub enum KeystoreError {
    /// The file is not keystore JSON.
    #[error("keystore is not valid JSON of the EIP-2335 shape: {0}")]
    Json(#[from] serde_json::Error),
    /// A version other than 4.
    #[error("keystore version {0} is not supported (EIP-2335 is version 4)")]
    Version(u64),
    /// A KDF, checksum or cipher function this implementation does not know.
    #[error("unsupported {module} function {function:?}")]
    UnsupportedFunction {
        /// Which module (kdf, checksum, cipher).
        module: &'static str,
        /// The function named in the file.
        function: String,
    },
    /// A parameter outside what EIP-2335 allows or what we accept.
    #[error("invalid {module} parameter: {reason}")]
    InvalidParameter {
        /// Which module.
        module: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The checksum does not match: almost always a wrong password.
    #[error("wrong password (keystore checksum mismatch)")]
    WrongPassword,
    /// The decrypted secret is not a valid key.
    #[error("decrypted secret is not a valid BLS secret key: {0}")]
    InvalidSecret(crate::Error),
    /// The `pubkey` field does not belong to the decrypted secret.
    #[error("keystore pubkey {0} does not match the decrypted secret key")]
    PubkeyMismatch(String),
    /// The system random number generator failed.
    #[error("operating system randomness unavailable: {0}")]
    Randomness(String),
}

/// A key derivation function and its cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kdf {
    /// scrypt with cost `n` (a power of two), block size `r` and parallelism `p`.
    Scrypt {
        /// CPU/memory cost, a power of two.
        n: u64,
        /// Block size.
        r: u32,
        /// Parallelism.
        p: u32,
    },
    /// PBKDF2-HMAC-SHA256 with `c` rounds.
    Pbkdf2 {
        /// Iteration count.
        c: u32,
    },
}

impl Default for Kdf {
    /// scrypt with the parameters of the EIP-2335 examples and Ethereum staking tools:
    /// n = 2^18, r = 8, p = 1 (256 MiB, about a second).
    fn default() -> Self {
        Kdf::Scrypt {
            n: 1 << 18,
            r: 8,
            p: 1,
        }
    }
}

/// A module of the `crypto` section: a function, its parameters, and its message.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Module {
    function: String,
    #[serde(default)]
    params: serde_json::Map<String, serde_json::Value>,
    message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct CryptoSection {
    kdf: Module,
    checksum: Module,
    cipher: Module,
}

/// An EIP-2335 keystore (version 4).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Keystore {
    crypto: CryptoSection,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pubkey: Option<String>,
    path: String,
    uuid: uuid::Uuid,
    version: u64,
}

impl Keystore {
    /// Encrypts `secret` under `password` with fresh random salt and IV.
    pub fn encrypt(
        secret: &SecretKey,
        password: &str,
        kdf: Kdf,
        path: &str,
    ) -> Result<Self, KeystoreError> {
        let mut random = [0u8; 32 + 16 + 16];
        getrandom::fill(&mut random).map_err(|e| KeystoreError::Randomness(e.to_string()))?;
        let (salt, rest) = random.split_at(32);
        let (iv, uuid_bytes) = rest.split_at(16);

        let (function, params) = match kdf {
            Kdf::Scrypt { n, r, p } => (
                "scrypt",
                serde_json::json!({ "dklen": DKLEN, "n": n, "r": r, "p": p, "salt": hex::encode(salt) }),
            ),
            Kdf::Pbkdf2 { c } => (
                "pbkdf2",
                serde_json::json!({ "dklen": DKLEN, "c": c, "prf": "hmac-sha256", "salt": hex::encode(salt) }),
            ),
        };
        let kdf_module = Module {
            function: function.into(),
            params: match params {
                serde_json::Value::Object(map) => map,
                _ => serde_json::Map::new(),
            },
            message: String::new(),
        };
        let dk = derive_key(&kdf_module, password)?;
        let mut ciphertext = *secret.to_bytes();
        apply_cipher(&dk, iv, &mut ciphertext)?;
        let checksum = checksum(&dk, &ciphertext);
        let mut uuid_raw = [0u8; 16];
        uuid_raw.copy_from_slice(uuid_bytes);

        Ok(Self {
            crypto: CryptoSection {
                kdf: kdf_module,
                checksum: Module {
                    function: "sha256".into(),
                    params: serde_json::Map::new(),
                    message: hex::encode(checksum),
                },
                cipher: Module {
                    function: "aes-128-ctr".into(),
                    params: [("iv".to_string(), serde_json::Value::from(hex::encode(iv)))]
                        .into_iter()
                        .collect(),
                    message: hex::encode(ciphertext),
                },
            },
            description: None,
            pubkey: Some(hex::encode(secret.public_key().to_bytes())),
            path: path.into(),
            uuid: uuid::Builder::from_random_bytes(uuid_raw).into_uuid(),
            version: 4,
        })
    }

    /// Parses keystore JSON, refusing versions other than 4.
    pub fn from_json(json: &str) -> Result<Self, KeystoreError> {
        let ks: Keystore = serde_json::from_str(json)?;
        if ks.version != 4 {
            return Err(KeystoreError::Version(ks.version));
        }
        Ok(ks)
    }

    /// The keystore as pretty JSON.
    pub fn to_json(&self) -> String {
        // Serialising this plain struct cannot fail; fall back to compact form regardless.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Sets a free-text description.
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// The public key recorded in the file, hex without prefix (may be absent).
    pub fn pubkey(&self) -> Option<&str> {
        self.pubkey.as_deref()
    }

    /// The derivation path recorded in the file.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The file's UUID.
    pub fn uuid(&self) -> uuid::Uuid {
        self.uuid
    }

    /// Opens the keystore with `password`.
    ///
    /// Checks the checksum before decrypting (a wrong password is
    /// [`KeystoreError::WrongPassword`]), and that `pubkey`, when present, belongs to the
    /// secret: either our G2 key, or the G1 key Ethereum validator tools record.
    pub fn decrypt(&self, password: &str) -> Result<SecretKey, KeystoreError> {
        if self.crypto.checksum.function != "sha256" {
            return Err(KeystoreError::UnsupportedFunction {
                module: "checksum",
                function: self.crypto.checksum.function.clone(),
            });
        }
        if self.crypto.cipher.function != "aes-128-ctr" {
            return Err(KeystoreError::UnsupportedFunction {
                module: "cipher",
                function: self.crypto.cipher.function.clone(),
            });
        }
        let iv = hex_param("cipher", &self.crypto.cipher.params, "iv", 16..=16)?;
        let mut secret = Zeroizing::new(hex_field("cipher", &self.crypto.cipher.message, 32..=32)?);
        let expected = hex_field("checksum", &self.crypto.checksum.message, 32..=32)?;

        let dk = derive_key(&self.crypto.kdf, password)?;
        let actual = checksum(&dk, &secret);
        // Constant-time compare: the checksum is a password oracle.
        if actual
            .iter()
            .zip(&expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            != 0
        {
            return Err(KeystoreError::WrongPassword);
        }
        apply_cipher(&dk, &iv, &mut secret)?;
        let sk = SecretKey::from_bytes(&secret).map_err(KeystoreError::InvalidSecret)?;
        if let Some(pubkey) = &self.pubkey {
            check_pubkey(&sk, pubkey)?;
        }
        Ok(sk)
    }
}

/// EIP-2335 password processing: NFKD, then drop C0, C1 and DEL control codes.
fn normalize_password(password: &str) -> Zeroizing<Vec<u8>> {
    let cleaned: String = password
        .nfkd()
        .filter(|c| {
            let c = *c as u32;
            !(c <= 0x1f || c == 0x7f || (0x80..=0x9f).contains(&c))
        })
        .collect();
    Zeroizing::new(cleaned.into_bytes())
}

fn derive_key(kdf: &Module, password: &str) -> Result<Zeroizing<[u8; DKLEN]>, KeystoreError> {
    const M: &str = "kdf";
    let password = normalize_password(password);
    let dklen = uint_param(M, &kdf.params, "dklen")?;
    if dklen != DKLEN as u64 {
        return Err(invalid(M, format!("dklen must be {DKLEN}, got {dklen}")));
    }
    let salt = hex_param(M, &kdf.params, "salt", 0..=MAX_SALT_LEN)?;
    let mut dk = Zeroizing::new([0u8; DKLEN]);
    match kdf.function.as_str() {
        "scrypt" => {
            let n = uint_param(M, &kdf.params, "n")?;
            let r = uint_param(M, &kdf.params, "r")?;
            let p = uint_param(M, &kdf.params, "p")?;
            if n < 2 || !n.is_power_of_two() {
                return Err(invalid(
                    M,
                    format!("scrypt n must be a power of two above 1, got {n}"),
                ));
            }
            let (r, p) = match (u32::try_from(r), u32::try_from(p)) {
                (Ok(r), Ok(p)) if r > 0 && p > 0 => (r, p),
                _ => {
                    return Err(invalid(
                        M,
                        format!("scrypt r and p must be positive 32-bit, got {r}, {p}"),
                    ));
                }
            };
            let memory = 128u64
                .saturating_mul(u64::from(r))
                .saturating_mul(n)
                .saturating_mul(u64::from(p));
            if memory > MAX_SCRYPT_MEMORY {
                return Err(invalid(
                    M,
                    format!("scrypt needs {memory} bytes, over the 1 GiB cap"),
                ));
            }
            let log_n = n.trailing_zeros() as u8;
            let params = scrypt::Params::new(log_n, r, p, DKLEN)
                .map_err(|e| invalid(M, format!("scrypt parameters: {e}")))?;
            scrypt::scrypt(&password, &salt, &params, dk.as_mut())
                .map_err(|e| invalid(M, format!("scrypt: {e}")))?;
        }
        "pbkdf2" => {
            let c = uint_param(M, &kdf.params, "c")?;
            let prf = kdf.params.get("prf").and_then(|v| v.as_str()).unwrap_or("");
            if prf != "hmac-sha256" {
                return Err(KeystoreError::UnsupportedFunction {
                    module: "kdf prf",
                    function: prf.into(),
                });
            }
            let c = match u32::try_from(c) {
                Ok(c) if c > 0 && c <= MAX_PBKDF2_ROUNDS => c,
                _ => {
                    return Err(invalid(
                        M,
                        format!("pbkdf2 c must be 1 to {MAX_PBKDF2_ROUNDS}, got {c}"),
                    ));
                }
            };
            pbkdf2::pbkdf2_hmac::<Sha256>(&password, &salt, c, dk.as_mut());
        }
        other => {
            return Err(KeystoreError::UnsupportedFunction {
                module: M,
                function: other.into(),
            });
        }
    }
    Ok(dk)
}

fn checksum(dk: &[u8; DKLEN], ciphertext: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(&dk[16..]);
    h.update(ciphertext);
    h.finalize().into()
}

fn apply_cipher(dk: &[u8; DKLEN], iv: &[u8], data: &mut [u8]) -> Result<(), KeystoreError> {
    let mut cipher = Aes128Ctr::new_from_slices(&dk[..16], iv)
        .map_err(|_| invalid("cipher", "iv must be 16 bytes".into()))?;
    cipher.apply_keystream(data);
    Ok(())
}

fn check_pubkey(sk: &SecretKey, recorded: &str) -> Result<(), KeystoreError> {
    let recorded_bytes = hex::decode(recorded.trim_start_matches("0x"))
        .map_err(|_| KeystoreError::PubkeyMismatch(recorded.into()))?;
    let ours = sk.public_key().to_bytes();
    let matches = if recorded_bytes.len() == ours.len() {
        recorded_bytes == ours
    } else {
        // The G1 public key of the same scalar, as Ethereum's min-pk tools record it.
        let g1 = blst::min_pk::SecretKey::from_bytes(sk.to_bytes().as_ref())
            .map(|k| k.sk_to_pk().compress().to_vec())
            .unwrap_or_default();
        recorded_bytes == g1
    };
    if matches {
        Ok(())
    } else {
        Err(KeystoreError::PubkeyMismatch(recorded.into()))
    }
}

fn invalid(module: &'static str, reason: String) -> KeystoreError {
    KeystoreError::InvalidParameter { module, reason }
}

fn uint_param(
    module: &'static str,
    params: &serde_json::Map<String, serde_json::Value>,
    name: &str,
) -> Result<u64, KeystoreError> {
    params
        .get(name)
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| invalid(module, format!("{name} must be a non-negative integer")))
}

fn hex_param(
    module: &'static str,
    params: &serde_json::Map<String, serde_json::Value>,
    name: &str,
    len: std::ops::RangeInclusive<usize>,
) -> Result<Vec<u8>, KeystoreError> {
    let s = params
        .get(name)
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| invalid(module, format!("{name} must be a hex string")))?;
    hex_field(module, s, len)
}

fn hex_field(
    module: &'static str,
    s: &str,
    len: std::ops::RangeInclusive<usize>,
) -> Result<Vec<u8>, KeystoreError> {
    if !len.contains(&(s.len() / 2)) {
        return Err(invalid(
            module,
            format!(
                "expected {} to {} bytes of hex, got {} characters",
                len.start(),
                len.end(),
                s.len()
            ),
        ));
    }
    hex::decode(s).map_err(|e| invalid(module, format!("bad hex: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_is_normalised_and_stripped() {
        // The EIP-2335 test password: Fraktur letters NFKD-normalise to ASCII.
        let p = normalize_password(
            "\u{1d531}\u{1d522}\u{1d530}\u{1d531}\u{1d52d}\u{1d51e}\u{1d530}\u{1d530}\u{1d534}\u{1d52c}\u{1d52f}\u{1d521}\u{1f511}",
        );
        assert_eq!(hex::encode(&*p), "7465737470617373776f7264f09f9491");
        assert_eq!(&*normalize_password("a\u{0}b\u{7f}c\u{85}d e"), b"abcd e");
    }

    #[test]
    fn hostile_parameters_are_refused_before_work() {
        let sk = SecretKey::from_ikm(&[1u8; 32]).expect("ikm");
        let ks = Keystore::encrypt(&sk, "pw", Kdf::Pbkdf2 { c: 16 }, "m").expect("encrypt");
        let mut v: serde_json::Value = serde_json::from_str(&ks.to_json()).expect("json");
        v["crypto"]["kdf"]["function"] = "scrypt".into();
        v["crypto"]["kdf"]["params"]["n"] = (1u64 << 40).into();
        v["crypto"]["kdf"]["params"]["r"] = 8.into();
        v["crypto"]["kdf"]["params"]["p"] = 1.into();
        let bad = Keystore::from_json(&v.to_string()).expect("parse");
        assert!(matches!(
            bad.decrypt("pw"),
            Err(KeystoreError::InvalidParameter { .. })
        ));
        v["crypto"]["kdf"]["params"]["n"] = 1000.into();
        let bad = Keystore::from_json(&v.to_string()).expect("parse");
        assert!(matches!(
            bad.decrypt("pw"),
            Err(KeystoreError::InvalidParameter { .. })
        ));
        v["version"] = 3.into();
        assert!(matches!(
            Keystore::from_json(&v.to_string()),
            Err(KeystoreError::Version(3))
        ));
    }
}
