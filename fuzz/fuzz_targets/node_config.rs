//! Runtime configs: TOML -> operator or aggregator config (and the oracle's `[avs]`
//! table in it), as `OperatorConfig::load` and `AggregatorConfig::load` read them.
//!
//! A config that parses serialises to TOML that parses to a config serialising the
//! same; `validate` answers without panicking; the oracle's settings survive
//! `to_table` and `from_table` unchanged.

#![no_main]

use bulwark_node::config::{AggregatorConfig, OperatorConfig};
use libfuzzer_sys::fuzz_target;
use oracle_avs::config::OracleConfig;

fn oracle(avs: &toml::Table) {
    let Ok(config) = OracleConfig::from_table(avs) else {
        return;
    };
    let table = config.to_table().expect("valid oracle settings serialise");
    let again = OracleConfig::from_table(&table).expect("serialised oracle settings parse");
    assert_eq!(again, config);
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(config) = toml::from_str::<OperatorConfig>(text) {
        let _ = config.validate();
        let out = config
            .to_toml()
            .expect("a parsed operator config serialises");
        let again: OperatorConfig = toml::from_str(&out).expect("a serialised config parses");
        assert_eq!(again.to_toml().expect("serialises"), out);
        assert_eq!(again.validate().is_ok(), config.validate().is_ok());
        oracle(&config.avs);
    }
    if let Ok(config) = toml::from_str::<AggregatorConfig>(text) {
        let _ = config.validate();
        let out = config
            .to_toml()
            .expect("a parsed aggregator config serialises");
        let again: AggregatorConfig = toml::from_str(&out).expect("a serialised config parses");
        assert_eq!(again.to_toml().expect("serialises"), out);
        assert_eq!(again.validate().is_ok(), config.validate().is_ok());
        oracle(&config.avs);
    }
});
