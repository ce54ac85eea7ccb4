import Hummingbird
import Shared

/// The profile engine: consumes the event queue and builds profiles. Its HTTP port serves only
/// health, readiness and metrics.
public enum EngineService: ServiceEntry {
    public static let name = "profile-engine"
    public static let abstract = "Builds visitor profiles from the event queue (HTTP only for health and metrics)."

    public static func buildApplication(_ environment: ServiceEnvironment) throws -> some ApplicationProtocol {
        let port = try environment.reader.port("ENGINE_PORT", default: 8082)
        let client = environment.makeClient()
        let router = environment.makeRouter(client: client)
        return environment.makeApplication(router: router, port: port, client: client)
    }

    public static func serve(_ environment: ServiceEnvironment) async throws {
        try await buildApplication(environment).runService()
    }
}
