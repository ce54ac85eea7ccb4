import Crypto
import Foundation
import _CryptoExtras

/// The operator-configured dashboard administrator (`DASHBOARD_ADMIN_USER` and
/// `DASHBOARD_ADMIN_PASSWORD_HASH`). Only a PBKDF2-HMAC-SHA256 hash of the password is ever
/// configured, in the form `pbkdf2-sha256$<rounds>$<salt, base64>$<derived key, base64>`
/// (what `profile-api dashboard hash-password` prints).
struct AdminCredential: Sendable {
    /// OWASP's 2023 figure for PBKDF2-HMAC-SHA256; what `hash-password` uses.
    static let defaultRounds = 600_000
    /// Fewer rounds are refused (swift-crypto's own lower bound).
    static let minimumRounds = 210_000
    static let minimumPasswordLength = 12

    let user: String
    let rounds: Int
    let salt: [UInt8]
    let derivedKey: [UInt8]
    /// The configured hash as written, which the session cookie is bound to.
    let encodedHash: String

    struct InvalidHash: Error, CustomStringConvertible {
        let description: String
    }

    init(user: String, encodedHash: String) throws {
        let parts = encodedHash.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "pbkdf2-sha256" else {
            throw InvalidHash(description: "expected pbkdf2-sha256$<rounds>$<salt>$<hash> as printed by 'profile-api dashboard hash-password'")
        }
        guard let rounds = Int(parts[1]), rounds >= Self.minimumRounds, rounds <= 100_000_000 else {
            throw InvalidHash(description: "the round count must be an integer of at least \(Self.minimumRounds)")
        }
        guard let salt = Data(base64Encoded: String(parts[2])), salt.count >= 16,
              let key = Data(base64Encoded: String(parts[3])), key.count == 32 else {
            throw InvalidHash(description: "the salt (at least 16 bytes) or the 32-byte hash is not valid base64")
        }
        self.user = user
        self.rounds = rounds
        self.salt = Array(salt)
        self.derivedKey = Array(key)
        self.encodedHash = encodedHash
    }

    /// A new hash of `password` with a random salt, in the configured form.
    static func hash(password: String, rounds: Int = defaultRounds) throws -> String {
        var salt = [UInt8](repeating: 0, count: 16)
        var generator = SystemRandomNumberGenerator()
        for index in salt.indices { salt[index] = generator.next() }
        let key = try derive(password, salt: salt, rounds: rounds)
        return "pbkdf2-sha256$\(rounds)$\(Data(salt).base64EncodedString())$\(Data(key).base64EncodedString())"
    }

    /// True only for the configured user and password. The password is derived even when the
    /// user is wrong, and both comparisons look at every byte, so the answer's timing says
    /// neither which part was wrong nor how much of it matched.
    func verify(user candidateUser: String, password: String) -> Bool {
        guard let key = try? Self.derive(password, salt: salt, rounds: rounds) else { return false }
        let userMatches = Self.constantTimeEqual(Array(SHA256.hash(data: Data(candidateUser.utf8))), Array(SHA256.hash(data: Data(user.utf8))))
        let passwordMatches = Self.constantTimeEqual(key, derivedKey)
        return userMatches && passwordMatches
    }

    private static func derive(_ password: String, salt: [UInt8], rounds: Int) throws -> [UInt8] {
        let key = try KDF.Insecure.PBKDF2.deriveKey(from: Array(password.utf8), salt: salt, using: .sha256, outputByteCount: 32, rounds: rounds)
        return key.withUnsafeBytes { Array($0) }
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        return zip(a, b).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
