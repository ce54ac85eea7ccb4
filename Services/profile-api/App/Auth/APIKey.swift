import Crypto
import Foundation
import ProfileModel

/// An API key as stored: only its public prefix and a hash of the whole secret are kept.
struct APIKey: Sendable, Equatable {
    let id: Int64
    let name: String
    let prefix: String
    let scopes: Set<APIScope>
    let rateLimitPerMinute: Int
    let revoked: Bool

    func allows(_ scope: APIScope) -> Bool { scopes.contains(scope) || scopes.contains(.admin) }

    /// A new key: `pb_<prefix>_<secret>`. The secret has 256 random bits, so a plain SHA-256 is a
    /// sufficient hash (no password stretching is needed for keys nobody chose).
    static func generate() -> (token: String, prefix: String, hash: String) {
        let prefix = randomString(bytes: 6)
        let token = "pb_\(prefix)_\(randomString(bytes: 32))"
        return (token, prefix, hash(token))
    }

    static func hash(_ token: String) -> String {
        SHA256.hash(data: Data(token.utf8)).hexString
    }

    /// The prefix part of a presented token, or nil if it is not shaped like one of ours.
    static func prefix(of token: String) -> String? {
        let parts = token.split(separator: "_")
        guard parts.count == 3, parts[0] == "pb", parts[1].count == 8 else { return nil }
        return String(parts[1])
    }

    private static func randomString(bytes: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        let data = Data((0..<bytes).map { _ in UInt8.random(in: 0...255, using: &generator) })
        return data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "-")
            .replacingOccurrences(of: "=", with: "").replacingOccurrences(of: "_", with: "-")
    }
}
