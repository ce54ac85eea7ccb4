import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing
@testable import ProfileAPIApp

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
        let value = session.issue(keyID: 42, now: now)
        #expect(session.verify(value, now: now) == 42)
        #expect(session.verify(value, now: now.addingTimeInterval(3601)) == nil)
        #expect(session.verify(value.replacingOccurrences(of: "42.", with: "43."), now: now) == nil)
        #expect(DashboardSession(secret: String(repeating: "t", count: 32), minutes: 60, secure: true).verify(value, now: now) == nil)
        #expect(session.setCookie(value).hasSuffix("; Secure"))
    }
}
