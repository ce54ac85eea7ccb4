import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
@testable import ProfileAPIApp
import ServiceKit
import Synchronization
import Testing

@Suite("Dashboard")
struct DashboardTests {
    static func post(_ client: any TestClientProtocol, _ path: String, form: String, cookie: String? = nil,
                     origin: String? = nil) async throws -> APIAnswer {
        var headers: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
        if let cookie { headers[.cookie] = cookie }
        if let origin { headers[.origin] = origin }
        return try await client.execute(uri: path, method: .post, headers: headers, body: ByteBuffer(string: form)) { response in
            APIAnswer(status: response.status, headers: response.headers, body: Data(buffer: response.body))
        }
    }

    static func html(_ answer: APIAnswer) -> String { String(decoding: answer.body, as: UTF8.self) }

    @Test func test_dashboard_sign_in_panels_and_escaping() async throws {
        try await TestDatabase.with { db in
            try await AnalyticsFixture.load(db)
            try await AnalyticsFixture.refresh(db)
            let api = APIHarness(db: db)
            let analyst = try await api.key([.reports, .profilesRead])
            let reader = try await api.key([.profilesRead])
            try await api.run { client in
                let login = try await client.call(.get, "/dashboard", token: nil)
                #expect(login.status == .ok)
                #expect(Self.html(login).contains("id=\"login-form\""))

                // Wrong key, or a key without the reports scope: refused, no cookie.
                for token in ["pb_nothere1_xxxxxxxx", reader] {
                    let refused = try await Self.post(client, "/dashboard/login", form: "api_key=\(token)")
                    #expect(refused.status == .unauthorized)
                    #expect(refused.headers[.setCookie] == nil)
                }
                // A sign-in posted from another origin is refused.
                let foreign = try await Self.post(client, "/dashboard/login", form: "api_key=\(analyst)", origin: "https://evil.example")
                #expect(foreign.status == .forbidden)

                let signed = try await Self.post(client, "/dashboard/login", form: "api_key=\(analyst)")
                #expect(signed.status == .seeOther)
                let setCookie = try #require(signed.headers[.setCookie])
                #expect(setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Strict") && setCookie.contains("Path=/dashboard"))
                let cookie = String(setCookie.split(separator: ";")[0])

                let page = try await client.call(.get, "/dashboard?site=acme&from=2026-03-01&to=2026-03-10", token: nil, headers: [.cookie: cookie])
                #expect(page.status == .ok)
                let html = Self.html(page)
                for panel in ["panel-metrics", "panel-trends", "panel-pageviews", "panel-funnel", "panel-interests", "panel-pipeline",
                              "panel-segments", "panel-pages", "panel-roi"] {
                    #expect(html.contains("id=\"\(panel)\""), "\(panel)")
                }
                #expect(html.contains("<polyline"))
                #expect(html.contains("Pro Plan"))
                #expect(html.contains("data-metric=\"visitors\"><span class=\"value\">3</span>"))
                #expect(page.headers[.contentSecurityPolicy]?.contains("script-src 'self'") == true)

                // Visitor-written text is escaped everywhere it appears.
                let list = try await client.call(.get, "/dashboard/profiles?site=acme", token: nil, headers: [.cookie: cookie])
                #expect(Self.html(list).contains("&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;"))
                #expect(!Self.html(list).contains("<script>alert"))
                let found = try await client.call(.get, "/dashboard/profiles?site=acme&q=grace", token: nil, headers: [.cookie: cookie])
                #expect(Self.html(found).contains("Grace Hopper") && !Self.html(found).contains("Ada Lovelace"))
                // LIKE wildcards are literal.
                let wildcard = try await client.call(.get, "/dashboard/profiles?site=acme&q=%25", token: nil, headers: [.cookie: cookie])
                #expect(Self.html(wildcard).contains("No profile matches"))
                let xss = try await client.call(.get, "/dashboard/profiles/00000000-0000-4000-8000-000000000006", token: nil, headers: [.cookie: cookie])
                #expect(!Self.html(xss).contains("<script>alert"))
                let ada = try await client.call(.get, "/dashboard/profiles/00000000-0000-4000-8000-000000000001", token: nil, headers: [.cookie: cookie])
                for part in ["Ada Lovelace", "pricing_page", "/pricing", "known → mql", "ada@example.com"] {
                    #expect(Self.html(ada).contains(HTML.escape(part)), "\(part)")
                }
                let missing = try await client.call(.get, "/dashboard/profiles/not-a-uuid", token: nil, headers: [.cookie: cookie])
                #expect(missing.status == .notFound)

                // Bad range: an error page, not a server error.
                let bad = try await client.call(.get, "/dashboard?from=2026-03-10&to=2026-03-01", token: nil, headers: [.cookie: cookie])
                #expect(bad.status == .badRequest)

                // A tampered cookie is not a session.
                let tampered = cookie.replacingOccurrences(of: "pb_dashboard=", with: "pb_dashboard=9")
                #expect(Self.html(try await client.call(.get, "/dashboard", token: nil, headers: [.cookie: tampered])).contains("login-form"))

                // Sign-out needs the page's CSRF token.
                #expect(try await Self.post(client, "/dashboard/logout", form: "csrf=wrong", cookie: cookie).status == .forbidden)
                let token = try #require(html.firstMatch(of: /name="csrf" value="([0-9a-f]+)"/)?.1)
                let out = try await Self.post(client, "/dashboard/logout", form: "csrf=\(token)", cookie: cookie)
                #expect(out.status == .seeOther)
                #expect(out.headers[.setCookie]?.contains("Max-Age=0") == true)

                // Revoking the key ends its sessions.
                let prefix = String(analyst.split(separator: "_")[1])
                try await db.client.query("UPDATE api_keys SET revoked_at = now() WHERE prefix = \(prefix)", logger: TestDatabase.logger)
                #expect(Self.html(try await client.call(.get, "/dashboard", token: nil, headers: [.cookie: cookie])).contains("login-form"))
            }
        }
    }

    @Test func test_session_cookie_signature_and_expiry() {
        let session = DashboardSession(secret: String(repeating: "s", count: 32), minutes: 60, secure: true)
        let now = Date()
        let value = session.issue(.key(42), now: now)
        #expect(session.verify(value, now: now) == .key(42))
        #expect(session.verify(value, now: now.addingTimeInterval(3601)) == nil)
        #expect(session.verify(value.replacingOccurrences(of: "42.", with: "43."), now: now) == nil)
        #expect(DashboardSession(secret: String(repeating: "t", count: 32), minutes: 60, secure: true).verify(value, now: now) == nil)
        #expect(session.setCookie(value).hasSuffix("; Secure"))
    }

    // MARK: - The configured administrator (issue 9)

    static let adminPassword = "correct horse battery staple"
    static let secret = String(repeating: "k", count: 32)

    /// The settings of an API with an administrator `admin` whose password hash is `hash`.
    static func adminEnvironment(_ hash: String, failures: Int = 5) -> [String: String] {
        ["DASHBOARD_ADMIN_USER": "admin", "DASHBOARD_ADMIN_PASSWORD_HASH": hash, "DASHBOARD_SESSION_SECRET": secret,
         "DASHBOARD_SIGNIN_FAILURES": String(failures)]
    }

    static func form(user: String, password: String) -> String {
        "username=\(user.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")"
            + "&password=\(password.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")"
    }

    static func audit(_ db: TestDatabase) async throws -> [String] {
        var entries: [String] = []
        for try await (action, details) in try await db.client.query(
            "SELECT action, details::text FROM audit_log WHERE target = 'dashboard' ORDER BY id", logger: TestDatabase.logger
        ).decode((String, String).self) { entries.append("\(action) \(details)") }
        return entries
    }

    @Test func test_admin_sign_in_with_the_configured_credential() async throws {
        let hash = try AdminCredential.hash(password: Self.adminPassword, rounds: AdminCredential.minimumRounds)
        try await TestDatabase.with { db in
            try await AnalyticsFixture.load(db)
            try await AnalyticsFixture.refresh(db)
            try await APIHarness(db: db).run(environment: Self.adminEnvironment(hash)) { client in
                let login = Self.html(try await client.call(.get, "/dashboard", token: nil))
                #expect(login.contains("id=\"login-form\"") && login.contains("id=\"admin-login-form\""))

                // Wrong user (with the right password), wrong password, empty password: refused, no cookie.
                for form in [Self.form(user: "root", password: Self.adminPassword), Self.form(user: "admin", password: "correct horse battery stapl"),
                             "username=admin&password="] {
                    let refused = try await Self.post(client, "/dashboard/login", form: form)
                    #expect(refused.status == .unauthorized, "\(form)")
                    #expect(refused.headers[.setCookie] == nil)
                    #expect(Self.html(refused).contains("That user or password is wrong."))
                }
                // The administrator's sign-in checks the Origin like the key's.
                let foreign = try await Self.post(client, "/dashboard/login", form: Self.form(user: "admin", password: Self.adminPassword),
                                                  origin: "https://evil.example")
                #expect(foreign.status == .forbidden)

                let signed = try await Self.post(client, "/dashboard/login", form: Self.form(user: "admin", password: Self.adminPassword))
                #expect(signed.status == .seeOther)
                let setCookie = try #require(signed.headers[.setCookie])
                #expect(setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Strict") && setCookie.contains("Path=/dashboard"))
                let cookie = String(setCookie.split(separator: ";")[0])
                #expect(!cookie.contains(hash) && !cookie.contains("horse"))

                // The administrator sees everything a reports + profiles:read key sees.
                let page = try await client.call(.get, "/dashboard?site=acme&from=2026-03-01&to=2026-03-10", token: nil, headers: [.cookie: cookie])
                #expect(page.status == .ok && Self.html(page).contains("id=\"panel-metrics\""))
                let ada = try await client.call(.get, "/dashboard/profiles/00000000-0000-4000-8000-000000000001", token: nil, headers: [.cookie: cookie])
                #expect(ada.status == .ok && Self.html(ada).contains("Ada Lovelace"))

                // A tampered cookie is not a session: another subject, or another expiry, under the same signature.
                let parts = cookie.split(separator: ".")
                for tampered in [cookie.replacingOccurrences(of: "=admin.", with: "=1."), "\(parts[0]).\(Int(parts[1])! + 3600).\(parts[2])"] {
                    #expect(tampered != cookie)
                    #expect(Self.html(try await client.call(.get, "/dashboard", token: nil, headers: [.cookie: tampered])).contains("id=\"login-form\""))
                }
            }
            // Every sign-in and failed attempt is audited, without what was typed.
            let entries = try await Self.audit(db)
            #expect(entries.count == 4)
            #expect(entries.filter { $0.hasPrefix("dashboard.sign_in_failed") && $0.contains("\"admin\"") }.count == 3)
            #expect(entries.last?.hasPrefix("dashboard.sign_in ") == true && entries.last?.contains("\"user\": \"admin\"") == true)
            #expect(!entries.joined().contains("horse") && !entries.joined().contains("root"))
        }
    }

    /// Carries a cookie out of one running API into the next.
    final class CookieBox: Sendable {
        let value = Mutex<String?>(nil)
    }

    @Test func test_changing_the_admin_hash_ends_admin_sessions() async throws {
        let first = try AdminCredential.hash(password: Self.adminPassword, rounds: AdminCredential.minimumRounds)
        // The same password hashed again: another salt, so another configured value.
        let second = try AdminCredential.hash(password: Self.adminPassword, rounds: AdminCredential.minimumRounds)
        try await TestDatabase.with { db in
            try await AnalyticsFixture.load(db)
            let api = APIHarness(db: db)
            let box = CookieBox()
            try await api.run(environment: Self.adminEnvironment(first)) { client in
                let signed = try await Self.post(client, "/dashboard/login", form: Self.form(user: "admin", password: Self.adminPassword))
                box.value.withLock { $0 = signed.headers[.setCookie].map { String($0.split(separator: ";")[0]) } }
            }
            let cookie = try #require(box.value.withLock { $0 })
            // Another process with the same secret and hash (a restart, a second instance) keeps the session.
            try await api.run(environment: Self.adminEnvironment(first)) { client in
                let page = try await client.call(.get, "/dashboard", token: nil, headers: [.cookie: cookie])
                #expect(Self.html(page).contains("id=\"logout\""))
            }
            // With the hash changed the same cookie is refused, though its password still signs in.
            try await api.run(environment: Self.adminEnvironment(second)) { client in
                let page = try await client.call(.get, "/dashboard", token: nil, headers: [.cookie: cookie])
                #expect(Self.html(page).contains("id=\"login-form\"") && !Self.html(page).contains("id=\"logout\""))
                let again = try await Self.post(client, "/dashboard/login", form: Self.form(user: "admin", password: Self.adminPassword))
                #expect(again.status == .seeOther)
            }
            // With no administrator configured at all, an administrator cookie is refused too.
            try await api.run(environment: ["DASHBOARD_SESSION_SECRET": Self.secret]) { client in
                let page = try await client.call(.get, "/dashboard", token: nil, headers: [.cookie: cookie])
                #expect(Self.html(page).contains("id=\"login-form\""))
            }
        }
    }

    @Test func test_admin_sign_in_is_off_without_configuration() async throws {
        try await TestDatabase.with { db in
            try await APIHarness(db: db).run { client in
                let login = Self.html(try await client.call(.get, "/dashboard", token: nil))
                #expect(login.contains("id=\"login-form\"") && !login.contains("id=\"admin-login-form\"") && login.contains("id=\"admin-login-off\""))
                let refused = try await Self.post(client, "/dashboard/login", form: Self.form(user: "admin", password: Self.adminPassword))
                #expect(refused.status == .unauthorized)
                #expect(refused.headers[.setCookie] == nil)
                #expect(Self.html(refused).contains("not configured"))
            }
        }
    }

    @Test func test_failed_sign_ins_are_throttled() async throws {
        let hash = try AdminCredential.hash(password: Self.adminPassword, rounds: AdminCredential.minimumRounds)
        try await TestDatabase.with { db in
            let api = APIHarness(db: db)
            let analyst = try await api.key([.reports])
            try await api.run(environment: Self.adminEnvironment(hash, failures: 3)) { client in
                // A successful sign-in is not a failure: it never counts toward the limit.
                #expect(try await Self.post(client, "/dashboard/login", form: "api_key=\(analyst)").status == .seeOther)
                // Failures of either way count together.
                for form in [Self.form(user: "admin", password: "guess one"), "api_key=pb_nothere1_xxxxxxxx", Self.form(user: "admin", password: "guess two")] {
                    #expect(try await Self.post(client, "/dashboard/login", form: form).status == .unauthorized)
                }
                // The next attempt is refused before any check, even with the right password or key.
                for form in [Self.form(user: "admin", password: Self.adminPassword), "api_key=\(analyst)"] {
                    let throttled = try await Self.post(client, "/dashboard/login", form: form)
                    #expect(throttled.status == .tooManyRequests)
                    #expect(throttled.headers[.setCookie] == nil)
                    #expect(Int(throttled.headers[.retryAfter] ?? "") ?? 0 >= 1)
                    #expect(Self.html(throttled).contains("Too many failed sign-ins"))
                }
            }
            // Throttled attempts were not checked, so not audited as failures.
            #expect(try await Self.audit(db).filter { $0.hasPrefix("dashboard.sign_in_failed") }.count == 3)
        }
    }

    @Test func test_admin_configuration_is_validated() throws {
        let hash = try AdminCredential.hash(password: Self.adminPassword, rounds: AdminCredential.minimumRounds)
        #expect(try APIConfig(environment: EnvironmentReader([:])).dashboardAdmin == nil)
        #expect(try APIConfig(environment: EnvironmentReader(["DASHBOARD_ADMIN_USER": "admin", "DASHBOARD_ADMIN_PASSWORD_HASH": hash]))
            .dashboardAdmin?.user == "admin")
        let bad: [([String: String], String)] = [
            (["DASHBOARD_ADMIN_USER": "admin"], "DASHBOARD_ADMIN_PASSWORD_HASH"),
            (["DASHBOARD_ADMIN_PASSWORD_HASH": hash], "DASHBOARD_ADMIN_USER"),
            // A plaintext password where the hash belongs is refused, not taken as a password.
            (["DASHBOARD_ADMIN_USER": "admin", "DASHBOARD_ADMIN_PASSWORD_HASH": Self.adminPassword], "DASHBOARD_ADMIN_PASSWORD_HASH"),
            (["DASHBOARD_ADMIN_USER": "admin", "DASHBOARD_ADMIN_PASSWORD_HASH": hash.replacingOccurrences(of: "$210000$", with: "$1000$")],
             "DASHBOARD_ADMIN_PASSWORD_HASH"),
            (["DASHBOARD_ADMIN_USER": "ad min", "DASHBOARD_ADMIN_PASSWORD_HASH": hash], "DASHBOARD_ADMIN_USER"),
        ]
        for (environment, variable) in bad {
            #expect(throws: ConfigError.self, "\(environment)") { try APIConfig(environment: EnvironmentReader(environment)) }
            do { _ = try APIConfig(environment: EnvironmentReader(environment)) } catch let error as ConfigError { #expect(error.variable == variable) }
        }
    }

    @Test func test_admin_password_hash_round_trip() throws {
        let hash = try AdminCredential.hash(password: Self.adminPassword, rounds: AdminCredential.minimumRounds)
        #expect(hash.hasPrefix("pbkdf2-sha256$210000$") && !hash.contains(Self.adminPassword))
        #expect(try AdminCredential.hash(password: Self.adminPassword, rounds: AdminCredential.minimumRounds) != hash)
        let credential = try AdminCredential(user: "admin", encodedHash: hash)
        #expect(credential.verify(user: "admin", password: Self.adminPassword))
        #expect(!credential.verify(user: "admin", password: Self.adminPassword + " "))
        #expect(!credential.verify(user: "Admin", password: Self.adminPassword))
    }
}
