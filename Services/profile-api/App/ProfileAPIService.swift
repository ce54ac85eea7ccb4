import ArgumentParser
import Hummingbird
import Shared

/// The profile API: what internal services use to read, search and manage profiles.
public enum ProfileAPIService: ServiceEntry {
    public static let name = "profile-api"
    public static let abstract = "Serves visitor profiles to internal services over an authenticated HTTP API."
    public static var extraCommands: [any ParsableCommand.Type] { [CatalogCommand.self] }

    public static func buildApplication(_ environment: ServiceEnvironment) throws -> some ApplicationProtocol {
        let port = try environment.reader.port("API_PORT", default: 8081)
        let client = environment.makeClient()
        let router = environment.makeRouter(client: client)
        return environment.makeApplication(router: router, port: port, client: client)
    }

    public static func serve(_ environment: ServiceEnvironment) async throws {
        try await buildApplication(environment).runService()
    }
}
