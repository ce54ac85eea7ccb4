import Hummingbird
import Logging
import PostgresNIO
import ServiceLifecycle

extension ServiceEnvironment {
    /// The service's HTTP application: the Postgres client and `services` run beside the server,
    /// and the schema gate runs before the server accepts requests, so a service never serves
    /// against an older schema.
    public func makeApplication(
        router: Router<ServiceRequestContext>, port: Int, client: PostgresClient, services: [any Service] = []
    ) -> some ApplicationProtocol {
        var app = Application(router: router, configuration: httpConfiguration(port: port),
                              services: [client] + services, logger: logger)
        let gate = schemaGate
        let logger = self.logger
        app.beforeServerStarts {
            try await gate.check(client, logger: logger)
        }
        return app
    }
}
