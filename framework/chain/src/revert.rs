//! Reverts in words: a custom Solidity error reaches a client as four selector bytes
//! and ABI-encoded arguments (`custom error 0xc4efc01c`), which tell a user nothing.
//! Decoded against the errors of Bulwark's contracts, it reads
//! `WithdrawalDelayNotElapsed { id: 0, readyAtBlock: 41 }`.

use alloy::sol_types::SolInterface;

use crate::bindings::{BasicAVS, LiquidStakingToken, RestakingCore, RewardsDistributor, SlashVeto};

/// The revert carried by `err`, decoded against the errors of the restaking core,
/// the task manager (every AVS built on `BasicAVS`), its veto window and rewards
/// distributor (their errors pass through the AVS), and the staking token; `None` when
/// `err` is no revert or its error is none of theirs.
pub fn reason(err: &alloy::contract::Error) -> Option<String> {
    decode(err.as_revert_data()?.as_ref())
}

/// `data` (selector and arguments) as one of the known errors.
pub fn decode(data: &[u8]) -> Option<String> {
    if let Ok(e) = RestakingCore::RestakingCoreErrors::abi_decode(data) {
        return Some(unwrap_variant(format!("{e:?}")));
    }
    if let Ok(e) = BasicAVS::BasicAVSErrors::abi_decode(data) {
        return Some(unwrap_variant(format!("{e:?}")));
    }
    if let Ok(e) = SlashVeto::SlashVetoErrors::abi_decode(data) {
        return Some(unwrap_variant(format!("{e:?}")));
    }
    if let Ok(e) = RewardsDistributor::RewardsDistributorErrors::abi_decode(data) {
        return Some(unwrap_variant(format!("{e:?}")));
    }
    if let Ok(e) = LiquidStakingToken::LiquidStakingTokenErrors::abi_decode(data) {
        return Some(unwrap_variant(format!("{e:?}")));
    }
    None
}

/// `Name(Name { .. })`, how an error enum's variant prints, as `Name { .. }`.
fn unwrap_variant(debug: String) -> String {
    match debug.split_once('(') {
        Some((name, rest)) if rest.starts_with(name) && rest.ends_with(')') => {
            rest[..rest.len() - 1].to_string()
        }
        _ => debug,
    }
}

/// How a failed contract call reads in an error message: the decoded revert when
/// there is one, the transport's words otherwise.
pub(crate) fn describe(err: &alloy::contract::Error) -> String {
    match reason(err) {
        Some(reason) => format!("reverted with {reason}"),
        None => err.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use alloy::primitives::U256;
    use alloy::sol_types::SolError;

    use super::*;

    #[test]
    fn known_errors_read_by_name_with_their_arguments() {
        let data = RestakingCore::WithdrawalDelayNotElapsed {
            id: U256::from(0),
            readyAtBlock: U256::from(41),
        }
        .abi_encode();
        assert_eq!(
            decode(&data).as_deref(),
            Some("WithdrawalDelayNotElapsed { id: 0, readyAtBlock: 41 }")
        );
        assert_eq!(decode(&[0xde, 0xad, 0xbe, 0xef]), None);
        assert_eq!(decode(&[]), None);
    }
}
