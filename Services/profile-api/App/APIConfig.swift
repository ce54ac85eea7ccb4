import ServiceKit

/// The profile API's settings, read once from the environment at start (documented in README.md).
public struct APIConfig: Sendable {
    public var port: Int
    /// The OpenAPI document served at `/openapi.json`.
    public var openAPIFile: String
    /// How long a verified API key is trusted before its row is read again (revocation delay).
    public var keyCacheSeconds: Double
    /// Share of visitors (0-100) kept out of personalization to measure its effect.
    public var holdoutPercent: Int
    /// Signs dashboard session cookies; when unset a random per-process secret is used (sessions
    /// then end when the process restarts and do not carry across instances).
    public var dashboardSecret: String?
    public var dashboardSessionMinutes: Int
    /// Marks the session cookie `Secure` (set it when the dashboard is served over HTTPS).
    public var dashboardCookieSecure: Bool
    /// The dashboard's stylesheet and script.
    public var dashboardAssetsDirectory: String
    /// The administrator who may sign in to the dashboard with a password; nil (the default) when
    /// the operator has configured none.
    var dashboardAdmin: AdminCredential?
    /// Failed dashboard sign-ins allowed at once per client address, and the seconds after which
    /// one more is allowed.
    public var dashboardSignInFailures: Int
    public var dashboardSignInFailureSeconds: Int
    /// How long a GDPR erasure or anonymisation request waits for the engine to carry it out
    /// before it answers 202 with the request to poll.
    public var gdprWaitSeconds: Double
    /// How long a profile create or update waits for the engine to carry it out before it
    /// answers 202 with the command to poll.
    public var profileWriteWaitSeconds: Double
    /// The built-in behavioural segments, synced into `segments` at start.
    public var segmentsFile: String

    public init(environment env: EnvironmentReader) throws {
        port = try env.port("API_PORT", default: 8081)
        openAPIFile = env.string("OPENAPI_FILE", default: "docs/openapi.json")
        keyCacheSeconds = try env.double("API_KEY_CACHE_SECONDS", default: 5, range: 0...3600)
        holdoutPercent = try env.int("PERSONALIZATION_HOLDOUT_PERCENT", default: 10, range: 0...100)
        dashboardSecret = env.raw("DASHBOARD_SESSION_SECRET")
        if let secret = dashboardSecret, secret.utf8.count < 32 {
            throw ConfigError(variable: "DASHBOARD_SESSION_SECRET", message: "use at least 32 characters")
        }
        dashboardSessionMinutes = try env.int("DASHBOARD_SESSION_MINUTES", default: 480, range: 5...10_080)
        dashboardCookieSecure = try env.bool("DASHBOARD_COOKIE_SECURE", default: false)
        dashboardAssetsDirectory = env.string("DASHBOARD_ASSETS_DIR", default: "web/dashboard")
        switch (env.raw("DASHBOARD_ADMIN_USER"), env.raw("DASHBOARD_ADMIN_PASSWORD_HASH")) {
        case (nil, nil):
            dashboardAdmin = nil
        case (let user?, let hash?):
            guard !user.isEmpty, user.count <= 200, !user.contains(where: \.isWhitespace) else {
                throw ConfigError(variable: "DASHBOARD_ADMIN_USER", message: "use 1-200 characters without spaces")
            }
            do {
                dashboardAdmin = try AdminCredential(user: user, encodedHash: hash)
            } catch let error as AdminCredential.InvalidHash {
                throw ConfigError(variable: "DASHBOARD_ADMIN_PASSWORD_HASH", message: error.description)
            }
        case (nil, _?):
            throw ConfigError(variable: "DASHBOARD_ADMIN_USER", message: "set it together with DASHBOARD_ADMIN_PASSWORD_HASH")
        case (_?, nil):
            throw ConfigError(variable: "DASHBOARD_ADMIN_PASSWORD_HASH",
                              message: "set it together with DASHBOARD_ADMIN_USER (make one with 'profile-api dashboard hash-password')")
        }
        dashboardSignInFailures = try env.int("DASHBOARD_SIGNIN_FAILURES", default: 5, range: 1...1000)
        dashboardSignInFailureSeconds = try env.int("DASHBOARD_SIGNIN_FAILURE_SECONDS", default: 60, range: 1...86_400)
        gdprWaitSeconds = try env.double("GDPR_WAIT_SECONDS", default: 10, range: 0...120)
        profileWriteWaitSeconds = try env.double("PROFILE_WRITE_WAIT_SECONDS", default: 10, range: 0...120)
        segmentsFile = env.string("SEGMENTS_FILE", default: "config/segments.yaml")
    }
}
