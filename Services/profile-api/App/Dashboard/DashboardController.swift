import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOPosix
import ProfileModel
import ServiceKit

/// `/dashboard`: the analytics dashboard as server-rendered HTML behind a sign-in with an API key
/// (scope `reports`, or `admin`; the profile pages also need `profiles:read`) or with the
/// operator-configured administrator account (everything). The session lives in a signed
/// HttpOnly, SameSite=Strict cookie; sign-in checks the Origin and is throttled after failures,
/// sign-out checks a CSRF token; sign-ins and failed attempts are in `audit_log`.
struct DashboardController: Sendable {
    let auth: Authenticator
    let reports: Reports
    let data: DashboardData
    let session: DashboardSession
    let admin: AdminCredential?
    let throttle: SignInThrottle
    /// dashboard.css and dashboard.js, read once at start.
    let assets: [String: (type: String, body: ByteBuffer)]

    init(auth: Authenticator, reports: Reports, session: DashboardSession, admin: AdminCredential?, throttle: SignInThrottle,
         assetsDirectory: String) {
        self.auth = auth
        self.reports = reports
        self.data = DashboardData(client: reports.client, logger: reports.logger)
        self.session = session
        self.admin = admin
        self.throttle = throttle
        var assets: [String: (type: String, body: ByteBuffer)] = [:]
        for (name, type) in [("dashboard.css", "text/css; charset=utf-8"), ("dashboard.js", "text/javascript; charset=utf-8")] {
            if let bytes = FileManager.default.contents(atPath: assetsDirectory + "/" + name) { assets[name] = (type, ByteBuffer(bytes: bytes)) }
        }
        self.assets = assets
    }

    /// Who is signed in: the cookie value, and the key's current scopes.
    struct SignedIn {
        let cookie: String
        let scopes: Set<APIScope>
        func allows(_ scope: APIScope) -> Bool { scopes.contains(scope) || scopes.contains(.admin) }
    }

    func addRoutes(to router: Router<ServiceRequestContext>) {
        router.get("/dashboard") { request, _ in
            guard let user = try await signedIn(request) else { return Self.page(DashboardPages.login(error: nil, adminEnabled: admin != nil)) }
            return try await overview(request, user)
        }
        router.post("/dashboard/login") { request, context in try await login(request, context) }
        router.post("/dashboard/logout") { request, _ in
            guard let user = try await signedIn(request) else { return Self.redirect("/dashboard", cookie: session.clearCookie) }
            let form = try await Self.form(request)
            guard form["csrf"] == session.csrfToken(for: user.cookie) else {
                return Self.page(DashboardPages.error("The sign-out form has expired; reload the page.", chrome: chrome(user, site: nil)), status: .forbidden)
            }
            return Self.redirect("/dashboard", cookie: session.clearCookie)
        }
        router.get("/dashboard/profiles") { request, _ in
            guard let user = try await signedIn(request) else { return Self.redirect("/dashboard") }
            guard user.allows(.profilesRead) else { return forbidden(user) }
            let query = ProfilesController.query(request)
            let sites = try await data.sites()
            let site = query["site"].flatMap { sites.contains($0) ? $0 : nil } ?? sites.first ?? ""
            let text = String((query["q"] ?? "").replacingOccurrences(of: "+", with: " ").prefix(200)).filter { !$0.isControl }
            let rows = try await data.searchProfiles(site: site, text: text)
            return Self.page(DashboardPages.profiles(site: site, sites: sites, query: text, rows: rows, chrome: chrome(user, site: site)))
        }
        router.get("/dashboard/profiles/:id") { request, context in
            guard let user = try await signedIn(request) else { return Self.redirect("/dashboard") }
            guard user.allows(.profilesRead) else { return forbidden(user) }
            guard let id = context.parameters.get("id").flatMap(UUID.init(uuidString:)), let profile = try await data.profile(id) else {
                return Self.page(DashboardPages.error("No profile with that id.", chrome: chrome(user, site: nil)), status: .notFound)
            }
            return Self.page(DashboardPages.profile(profile, chrome: chrome(user, site: profile["site"]?.stringValue)))
        }
        router.get("/dashboard/assets/:file") { _, context in
            guard let asset = assets[context.parameters.get("file") ?? ""] else {
                throw APIError(.notFound, code: "not_found", detail: "no such dashboard file")
            }
            return Response(status: .ok, headers: [.contentType: asset.type, .cacheControl: "no-cache", .xContentTypeOptions: "nosniff"],
                            body: .init(byteBuffer: asset.body))
        }
    }

    private func overview(_ request: Request, _ user: SignedIn) async throws -> Response {
        let sites = try await data.sites()
        guard let first = sites.first else { return Self.page(DashboardPages.error("There is no site yet.", chrome: chrome(user, site: nil))) }
        do {
            let report = try ReportRequest(query: ProfilesController.query(request), accept: nil, defaultSite: first)
            let scope = try await reports.resolve(report)
            let traffic = try await reports.traffic(scope)
            let pipeline = try await reports.pipeline(scope)
            let overview = DashboardPages.Overview(
                summary: Reports.summary(traffic: traffic, pipeline: pipeline), traffic: traffic,
                pages: try await reports.pages(scope), interests: try await reports.interests(scope), pipeline: pipeline,
                segments: try await reports.segmentSizes(scope), roi: try await reports.personalizationROI(scope))
            return Self.page(DashboardPages.overview(report, sites: sites, data: overview, chrome: chrome(user, site: report.site)))
        } catch let error as APIError where error.status != .serviceUnavailable {
            return Self.page(DashboardPages.error(error.detail, chrome: chrome(user, site: first)), status: error.status)
        }
    }

    private func login(_ request: Request, _ context: ServiceRequestContext) async throws -> Response {
        // A sign-in posted from another site's page is refused (login CSRF).
        if let origin = request.headers[.origin], origin.components(separatedBy: "://").last != request.head.authority {
            return Self.page(DashboardPages.error("Sign-in must come from this dashboard's own page.", chrome: DashboardPages.Chrome(csrf: nil, site: nil)),
                             status: .forbidden)
        }
        // Checked before the credential, so a throttled guesser learns nothing and costs no hashing.
        if let wait = throttle.retryAfter(context.remoteAddress) {
            context.logger.warning("dashboard sign-in throttled after repeated failures")
            var response = Self.page(DashboardPages.login(error: "Too many failed sign-ins; try again in \(wait) s.", adminEnabled: admin != nil),
                                     status: .tooManyRequests)
            response.headers[.retryAfter] = String(wait)
            return response
        }
        let form = try await Self.form(request)
        if form["username"] != nil || form["password"] != nil {
            return try await adminLogin(user: form["username"] ?? "", password: form["password"] ?? "", context)
        }
        let token = (form["api_key"] ?? "").trimmingCharacters(in: .whitespaces)
        let key = try? await auth.keys.verify(token, logger: context.logger)
        guard let key, !key.revoked, key.allows(.reports) else {
            return try await refuse("api_key", key: key, message: "That API key is unknown, revoked, or lacks the reports scope.", context)
        }
        try await audit("dashboard.sign_in", key: key, details: ["method": "api_key"], context)
        return Self.redirect("/dashboard", cookie: session.setCookie(session.issue(.key(key.id))))
    }

    private func adminLogin(user: String, password: String, _ context: ServiceRequestContext) async throws -> Response {
        guard let admin else {
            return try await refuse("admin", key: nil, message: "Administrator sign-in is not configured on this server.", context)
        }
        // PBKDF2 takes a good fraction of a second of CPU: off the event loops and the Swift
        // concurrency pool, which serve every other request.
        let (candidateUser, candidatePassword) = (String(user.prefix(200)), String(password.prefix(1024)))
        let valid = try await NIOThreadPool.singleton.runIfActive { admin.verify(user: candidateUser, password: candidatePassword) }
        guard valid else {
            return try await refuse("admin", key: nil, message: "That user or password is wrong.", context)
        }
        try await audit("dashboard.sign_in", key: nil, details: ["method": "admin", "user": .string(admin.user)], context)
        return Self.redirect("/dashboard", cookie: session.setCookie(session.issue(.admin)))
    }

    /// A failed sign-in: counted by the throttle, audited (never with what was typed, nor the
    /// client's address: no raw IP is stored) and answered with the sign-in page.
    private func refuse(_ method: String, key: APIKey?, message: String, _ context: ServiceRequestContext) async throws -> Response {
        throttle.recordFailure(context.remoteAddress)
        try await audit("dashboard.sign_in_failed", key: key, details: ["method": .string(method)], context)
        return Self.page(DashboardPages.login(error: message, adminEnabled: admin != nil), status: .unauthorized)
    }

    /// Named query `insert_audit_entry` (AuditLog).
    private func audit(_ action: String, key: APIKey?, details: JSONValue, _ context: ServiceRequestContext) async throws {
        try await reports.client.withConnection { connection in
            try await AuditLog.record(action, target: "dashboard", key: key, requestID: context.requestID, details: details,
                                      on: connection, logger: context.logger)
        }
    }

    private func signedIn(_ request: Request) async throws -> SignedIn? {
        guard let cookie = Self.cookie(DashboardSession.cookieName, in: request), let subject = session.verify(cookie) else { return nil }
        let scopes: Set<APIScope>
        switch subject {
        case .admin:
            scopes = [.admin]
        case .key(let keyID):
            guard let keyScopes = try await data.scopes(keyID: keyID) else { return nil }
            scopes = keyScopes
        }
        let user = SignedIn(cookie: cookie, scopes: scopes)
        return user.allows(.reports) ? user : nil
    }

    private func chrome(_ user: SignedIn, site: String?) -> DashboardPages.Chrome {
        DashboardPages.Chrome(csrf: session.csrfToken(for: user.cookie), site: site)
    }

    private func forbidden(_ user: SignedIn) -> Response {
        Self.page(DashboardPages.error("This key lacks the profiles:read scope needed for profile pages.", chrome: chrome(user, site: nil)),
                  status: .forbidden)
    }

    // MARK: - HTTP helpers

    /// Headers of every dashboard page: no caching of personal data, no framing, scripts and
    /// styles only from this origin (so an injected tag could not run even if escaping failed).
    static func page(_ html: String, status: HTTPResponse.Status = .ok) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        headers[.xContentTypeOptions] = "nosniff"
        headers[.contentSecurityPolicy] = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            + "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        headers[HTTPField.Name("Referrer-Policy")!] = "same-origin"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    static func redirect(_ location: String, cookie: String? = nil) -> Response {
        var headers: HTTPFields = [.location: location, .cacheControl: "no-store"]
        if let cookie { headers[.setCookie] = cookie }
        return Response(status: .seeOther, headers: headers)
    }

    static func cookie(_ name: String, in request: Request) -> String? {
        for header in request.headers[values: .cookie] {
            for pair in header.split(separator: ";") {
                let parts = pair.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
                if parts.count == 2, parts[0] == name { return String(parts[1]) }
            }
        }
        return nil
    }

    /// An application/x-www-form-urlencoded body (at most 8 KiB).
    static func form(_ request: Request) async throws -> [String: String] {
        let buffer = try await request.body.collect(upTo: 8 * 1024)
        var values: [String: String] = [:]
        for pair in String(buffer: buffer).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map {
                String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
            }
            if let name = parts.first { values[name] = parts.count > 1 ? parts[1] : "" }
        }
        return values
    }
}
