import Crypto
import Foundation

/// The `X-Profile-Builder-Signature` header: `t=<unix seconds>,v1=<hex HMAC-SHA256>` computed
/// with the subscription's secret over `"<t>.<body>"`, so a receiver can check both who sent the
/// body and how old it is (README.md shows how to verify it).
enum WebhookSignature {
    static let header = "X-Profile-Builder-Signature"

    static func sign(body: some DataProtocol, secret: String, timestamp: Int) -> String {
        "t=\(timestamp),v1=" + hmac(body: body, secret: secret, timestamp: timestamp)
    }

    static func hmac(body: some DataProtocol, secret: String, timestamp: Int) -> String {
        var message = Data("\(timestamp).".utf8)
        message.append(contentsOf: body)
        let code = HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: Data(secret.utf8)))
        return code.map { String(format: "%02x", $0) }.joined()
    }

    /// Checks a header against a body: the signature must match and be at most `tolerance`
    /// seconds old (replay protection). Compares in constant time.
    static func verify(header: String, body: some DataProtocol, secret: String, now: Date = Date(), tolerance: TimeInterval = 300) -> Bool {
        var timestamp: Int?
        var signatures: [String] = []
        for part in header.split(separator: ",") {
            let pair = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2 else { continue }
            if pair[0] == "t" { timestamp = Int(pair[1]) } else if pair[0] == "v1" { signatures.append(pair[1]) }
        }
        guard let timestamp, abs(now.timeIntervalSince1970 - Double(timestamp)) <= tolerance else { return false }
        let expected = Array(hmac(body: body, secret: secret, timestamp: timestamp).utf8)
        return signatures.contains { candidate in
            let given = Array(candidate.utf8)
            guard given.count == expected.count else { return false }
            return zip(given, expected).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
        }
    }
}
