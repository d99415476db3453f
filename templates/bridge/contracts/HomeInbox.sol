// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {CertificateVerifier} from "@bulwark/avs/CertificateVerifier.sol";
import {Message, deliveryDigest} from "./BridgeMessage.sol";
import {MessageInbox} from "./Inbox.sol";

/// @title HomeInbox
/// @notice The home chain's inbox for messages from the remote chain. The home chain
/// has the registry itself, so a message executes with an ordinary Bulwark certificate
/// of the AVS's operator set at a recent reference block (`verifyCertificate`), no
/// table needed.
contract HomeInbox is MessageInbox {
    CertificateVerifier public immutable home;
    /// Share of the registered stake (basis points) a certificate needs.
    uint16 public immutable thresholdBps;

    constructor(CertificateVerifier home_, uint16 thresholdBps_, uint256 sourceChainId_, address sourceOutbox_)
        MessageInbox(sourceChainId_, sourceOutbox_)
    {
        home = home_;
        thresholdBps = thresholdBps_;
    }

    /// Executes `m` with a certificate of the home operator set.
    function deliver(Message calldata m, CertificateVerifier.Certificate calldata cert) external returns (bytes32 id) {
        id = _admit(m);
        (uint64 signed,) = home.verifyCertificate(deliveryDigest(block.chainid, address(this), id), thresholdBps, cert);
        _execute(m, id, signed);
    }
}
