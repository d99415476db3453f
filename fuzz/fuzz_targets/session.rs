//! gRPC `OpenSession` requests: protobuf bytes -> request -> challenge and token
//! checks, the part of opening a session that runs before any pairing.
//!
//! No challenge the server did not issue is accepted, whatever its bytes; a real
//! challenge with any byte changed is refused; and no token opens anything on a
//! table with no session.

#![no_main]

use std::sync::OnceLock;

use bulwark_net::proto::OpenSessionRequest;
use bulwark_net::session::{CHALLENGE_BYTES, ChallengeError, Sessions};
use libfuzzer_sys::fuzz_target;
use prost::Message;

fn sessions() -> &'static Sessions {
    static SESSIONS: OnceLock<Sessions> = OnceLock::new();
    SESSIONS.get_or_init(|| Sessions::new(std::time::Duration::from_secs(60)).expect("randomness"))
}

fuzz_target!(|data: &[u8]| {
    let Ok(request) = OpenSessionRequest::decode(data) else {
        return;
    };
    let sessions = sessions();
    match sessions.check_challenge(&request.challenge) {
        Ok(_) => panic!("a challenge this server never issued was accepted"),
        Err(ChallengeError::Length(n)) => assert_ne!(n, CHALLENGE_BYTES),
        Err(_) => assert_eq!(request.challenge.len(), CHALLENGE_BYTES),
    }
    let issued = sessions.challenge().expect("randomness");
    let mut tampered = issued;
    for (byte, flip) in tampered.iter_mut().zip(&request.challenge) {
        *byte ^= flip;
    }
    assert_eq!(
        sessions.check_challenge(&tampered).is_ok(),
        tampered == issued,
        "only the unchanged challenge is accepted"
    );
    assert!(!sessions.admits(&request.signature, &request.operator));
    assert!(!sessions.admits(&request.challenge, &request.operator));
});
