import Shared

/// The profile API's settings, read once from the environment at start (documented in README.md).
public struct APIConfig: Sendable {
    public var port: Int
    /// The OpenAPI document served at `/openapi.json`.
    public var openAPIFile: String
    /// How long a verified API key is trusted before its row is read again (revocation delay).
    public var keyCacheSeconds: Double
    /// Share of visitors (0-100) kept out of personalization to measure its effect.
    public var holdoutPercent: Int

    public init(environment env: EnvironmentReader) throws {
        port = try env.port("API_PORT", default: 8081)
        openAPIFile = env.string("OPENAPI_FILE", default: "docs/openapi.json")
        keyCacheSeconds = try env.double("API_KEY_CACHE_SECONDS", default: 5, range: 0...3600)
        holdoutPercent = try env.int("PERSONALIZATION_HOLDOUT_PERCENT", default: 10, range: 0...100)
    }
}
