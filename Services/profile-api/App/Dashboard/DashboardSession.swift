import Crypto
import Foundation

/// The dashboard's login state: a cookie `pb_dashboard=<subject>.<expiry>.<HMAC-SHA256>` that the
/// browser sends back (HttpOnly, SameSite=Strict, scoped to /dashboard). The subject is the id of
/// the API key the user signed in with, so revoking that key ends the session at the next
/// request; or `admin` for the configured administrator, whose signature also covers the
/// configured user and password hash, so changing either ends every administrator session.
struct DashboardSession: Sendable {
    static let cookieName = "pb_dashboard"

    /// Who a session belongs to.
    enum Subject: Equatable, Sendable {
        case key(Int64)
        case admin
    }

    private let secret: Data
    /// What administrator cookies are bound to (user and hash); nil when no administrator is configured.
    private let adminBinding: String?
    let lifetime: TimeInterval
    let secure: Bool

    init(secret: String?, minutes: Int, secure: Bool, admin: AdminCredential? = nil) {
        self.secret = secret.map { Data($0.utf8) } ?? SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }
        self.adminBinding = admin.map { "\($0.user)\n\($0.encodedHash)" }
        self.lifetime = TimeInterval(minutes * 60)
        self.secure = secure
    }

    func issue(_ subject: Subject, now: Date = Date()) -> String {
        let name: String
        switch subject {
        case .key(let id): name = String(id)
        case .admin: name = "admin"
        }
        let payload = "\(name).\(Int64(now.addingTimeInterval(lifetime).timeIntervalSince1970))"
        return payload + "." + mac(signed(payload, subject) ?? payload)
    }

    /// The subject of a valid, unexpired cookie value, else nil.
    func verify(_ value: String, now: Date = Date()) -> Subject? {
        let parts = value.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let expiry = Int64(parts[1]) else { return nil }
        let subject: Subject
        if parts[0] == "admin" {
            subject = .admin
        } else if let id = Int64(parts[0]) {
            subject = .key(id)
        } else {
            return nil
        }
        guard let text = signed("\(parts[0]).\(parts[1])", subject) else { return nil }
        guard constantTimeEqual(mac(text), String(parts[2])), Double(expiry) > now.timeIntervalSince1970 else { return nil }
        return subject
    }

    /// The text a cookie's signature covers; nil for an administrator when none is configured.
    private func signed(_ payload: String, _ subject: Subject) -> String? {
        switch subject {
        case .key: return payload
        case .admin: return adminBinding.map { payload + "\n" + $0 }
        }
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
