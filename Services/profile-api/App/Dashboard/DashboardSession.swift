import Crypto
import Foundation

/// The dashboard's login state: a cookie `pb_dashboard=<key id>.<expiry>.<HMAC-SHA256>` that the
/// browser sends back (HttpOnly, SameSite=Strict, scoped to /dashboard). It names the API key the
/// user signed in with, so revoking that key ends the session at the next request.
struct DashboardSession: Sendable {
    static let cookieName = "pb_dashboard"

    private let secret: Data
    let lifetime: TimeInterval
    let secure: Bool

    init(secret: String?, minutes: Int, secure: Bool) {
        self.secret = secret.map { Data($0.utf8) } ?? SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }
        self.lifetime = TimeInterval(minutes * 60)
        self.secure = secure
    }

    func issue(keyID: Int64, now: Date = Date()) -> String {
        let payload = "\(keyID).\(Int64(now.addingTimeInterval(lifetime).timeIntervalSince1970))"
        return payload + "." + mac(payload)
    }

    /// The key id of a valid, unexpired cookie value, else nil.
    func verify(_ value: String, now: Date = Date()) -> Int64? {
        let parts = value.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let id = Int64(parts[0]), let expiry = Int64(parts[1]) else { return nil }
        let payload = "\(parts[0]).\(parts[1])"
        guard constantTimeEqual(mac(payload), String(parts[2])), Double(expiry) > now.timeIntervalSince1970 else { return nil }
        return id
    }

    /// A token bound to the session for the logout form (SameSite=Strict already keeps other
    /// sites' forms from carrying the cookie; this also covers older browsers).
    func csrfToken(for cookie: String) -> String { mac("csrf." + cookie) }

    func setCookie(_ value: String) -> String {
        "\(Self.cookieName)=\(value); Path=/dashboard; Max-Age=\(Int(lifetime)); HttpOnly; SameSite=Strict" + (secure ? "; Secure" : "")
    }

    var clearCookie: String {
        "\(Self.cookieName)=; Path=/dashboard; Max-Age=0; HttpOnly; SameSite=Strict" + (secure ? "; Secure" : "")
    }

    private func mac(_ text: String) -> String {
        HMAC<SHA256>.authenticationCode(for: Data(text.utf8), using: SymmetricKey(data: secret)).map { String(format: "%02x", $0) }.joined()
    }

    private func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
