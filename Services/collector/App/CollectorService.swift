import Hummingbird
import Shared

/// The collector: receives events over HTTP and commits them to Postgres before answering.
public enum CollectorService: ServiceEntry {
    public static let name = "collector"
    public static let abstract = "Receives tracking events and chat messages and commits them to Postgres."

    public static func buildApplication(_ environment: ServiceEnvironment) throws -> some ApplicationProtocol {
        let port = try environment.reader.port("COLLECTOR_PORT", default: 8080)
        let client = environment.makeClient()
        let router = environment.makeRouter(client: client)
        return environment.makeApplication(router: router, port: port, client: client)
    }

    public static func serve(_ environment: ServiceEnvironment) async throws {
        try await buildApplication(environment).runService()
    }
}
