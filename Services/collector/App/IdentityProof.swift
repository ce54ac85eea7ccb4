import Crypto
import Foundation
import ProfileModel

/// Which identifiers of an event the site vouched for (`events.verified_identifiers`).
///
/// Sent with the site's server key, every identifier is verified: only the site's own servers
/// hold that key. From a browser, an identifier is verified only with a user hash: the lower-case
/// hex HMAC-SHA256 of the user id (or, without one, of the email in the traits) under the site's
/// identity secret, which the site's server computes and hands to its own page (Intercom's and
/// Crisp's identity verification). Everything else is claimed.
enum IdentityProof {
    /// The event's `userHash` field: read here and never stored (it is a bearer proof of the user).
    static let field = "userHash"

    enum Outcome: Equatable {
        case claimed
        case verified([IdentityKind])
        /// A user hash that does not match, or that the site cannot check (no identity secret).
        case forged
    }

    static func outcome(serverKey: Bool, identitySecret: String?, userHash: String?,
                        anonymousID: String?, userID: String?, email: String?) -> Outcome {
        if serverKey {
            var kinds: [IdentityKind] = []
            if anonymousID != nil { kinds.append(.anonymousID) }
            if userID != nil { kinds.append(.userID) }
            if email != nil { kinds.append(.email) }
            return .verified(kinds)
        }
        guard let userHash else { return .claimed }
        guard let identitySecret, let subject = userID ?? email else { return .forged }
        let expected = userHashOf(subject, secret: identitySecret)
        // Compared in constant time: a timing difference would let a browser find the hash byte by byte.
        let given = Array(userHash.lowercased().utf8)
        let wanted = Array(expected.utf8)
        guard given.count == wanted.count else { return .forged }
        var difference: UInt8 = 0
        for (a, b) in zip(given, wanted) { difference |= a ^ b }
        guard difference == 0 else { return .forged }
        return .verified(userID != nil ? [.userID] : [.email])
    }

    /// What the site's server computes: hex(HMAC-SHA256(key: identity secret, message: identifier)).
    static func userHashOf(_ identifier: String, secret: String) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: Data(identifier.utf8), using: SymmetricKey(data: Data(secret.utf8)))
        return Array(code).hexString
    }
}
