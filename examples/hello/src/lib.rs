//! The smallest Bulwark AVS: a task is a name, the answer is `<GREETING>, <name>!`
//! (`Hello, Ada!`).
//!
//! Everything an AVS team writes is here and in `contracts/HelloAVS.sol`: the [`Hello`]
//! task (how to read an input, compute the answer, and encode it so every honest
//! operator signs the same bytes). The framework does the rest: following tasks on
//! chain, signing, gRPC to the aggregator, stake-weighted certificates, and landing
//! them on the contract. `src/main.rs` turns it into the operator and aggregator
//! binaries and a devnet demo.

use bulwark::Task;

/// Contract bindings for the hello AVS, generated from `artifacts/HelloAVS.json`
/// (`make artifacts` refreshes it from `contracts/HelloAVS.sol`).
#[allow(missing_docs, clippy::too_many_arguments)]
pub mod bindings {
    bulwark::alloy::sol!(
        #[sol(rpc)]
        HelloAVS,
        "artifacts/HelloAVS.json"
    );
}

/// Longest name a task may carry; the contract refuses longer ones too.
pub const MAX_NAME_BYTES: usize = 64;

/// The word every answer starts with; the contract's `GREETING` is the same.
pub const GREETING: &str = "Hello";

/// Greets by name.
#[derive(Clone, Copy, Debug, Default)]
pub struct Hello;

impl Task for Hello {
    type Input = String;
    type Output = String;
    type Error = std::convert::Infallible;

    /// A name is 1 to 64 bytes of UTF-8. Anything else is not signed at all.
    fn decode_input(&self, bytes: &[u8]) -> Option<String> {
        if bytes.is_empty() || bytes.len() > MAX_NAME_BYTES {
            return None;
        }
        String::from_utf8(bytes.to_vec()).ok()
    }

    async fn execute(&self, name: String) -> Result<String, Self::Error> {
        Ok(format!("{GREETING}, {name}!"))
    }

    /// The greeting's UTF-8 bytes, exactly what the contract's `greeting(name)` returns.
    fn encode_output(&self, greeting: &String) -> Vec<u8> {
        greeting.as_bytes().to_vec()
    }

    /// What `bulwark status` shows: the greeting and whom it greets.
    fn describe_response(&self, response: &[u8]) -> Option<String> {
        let greeting = std::str::from_utf8(response).ok()?;
        let name = greeting
            .strip_prefix(GREETING)?
            .strip_prefix(", ")?
            .strip_suffix('!')?;
        Some(format!("{greeting:?} (greets {name})"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn greets_valid_names_and_refuses_the_rest() {
        let input = Hello.decode_input(b"Ada").expect("a name");
        let out = Hello.execute(input).await.expect("infallible");
        assert_eq!(
            Hello.encode_output(&out),
            format!("{GREETING}, Ada!").as_bytes()
        );
        assert_eq!(Hello.decode_input(b""), None);
        assert_eq!(Hello.decode_input(&[b'a'; 65]), None);
        assert!(Hello.decode_input(&[b'a'; 64]).is_some());
        assert_eq!(Hello.decode_input(&[0xff, 0xfe]), None);
        assert_eq!(
            Hello.describe_response(format!("{GREETING}, Ada!").as_bytes()),
            Some(format!("\"{GREETING}, Ada!\" (greets Ada)"))
        );
        assert_eq!(Hello.describe_response(b"Bye"), None);
        assert_eq!(Hello.describe_response(&[0xff]), None);
    }

    proptest::proptest! {
        /// Every name the contract accepts is greeted, and the greeting is the same
        /// bytes on every operator; anything else is refused without a panic.
        #[test]
        fn any_input_is_greeted_or_refused(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..100)) {
            let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
            match Hello.decode_input(&bytes) {
                Some(name) => {
                    proptest::prop_assert!(!bytes.is_empty() && bytes.len() <= MAX_NAME_BYTES);
                    let greeting = runtime.block_on(Hello.execute(name.clone())).expect("infallible");
                    let encoded = Hello.encode_output(&greeting);
                    proptest::prop_assert_eq!(encoded, [GREETING.as_bytes(), b", ", bytes.as_slice(), b"!"].concat());
                }
                None => proptest::prop_assert!(
                    bytes.is_empty() || bytes.len() > MAX_NAME_BYTES || std::str::from_utf8(&bytes).is_err()
                ),
            }
        }
    }
}
