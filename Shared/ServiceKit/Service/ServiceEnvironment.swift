import Foundation
import Hummingbird
import Logging
import PostgresNIO
import ProfileModel

/// Everything a service needs at start, read and validated once: configuration, the field registry,
/// the migrations it expects, a logger and its metrics registry.
public struct ServiceEnvironment: Sendable {
    public let serviceName: String
    public let reader: EnvironmentReader
    public let common: CommonConfig
    public let fields: FieldRegistry
    public let migrations: [Migration]
    public let logger: Logger
    public let metrics: ServiceMetrics

    public init(serviceName: String, reader: EnvironmentReader, logger: Logger? = nil) throws {
        self.serviceName = serviceName
        self.reader = reader
        self.common = try CommonConfig(environment: reader)
        self.fields = try FieldRegistry.load(path: common.profileFieldsFile)
        self.migrations = try Migration.load(directory: common.sqlDirectory)
        var logger = logger ?? Logger(label: serviceName)
        logger.logLevel = common.logLevel
        self.logger = logger
        self.metrics = ServiceMetrics(service: serviceName)
    }

    public var expectedSchemaVersion: Int { migrations.last?.version ?? 0 }

    public func makeClient(maximumConnections: Int? = nil) -> PostgresClient {
        PostgresClient(
            configuration: common.database.clientConfiguration(maximumConnections: maximumConnections ?? common.databasePoolSize, jit: common.databaseJIT),
            backgroundLogger: logger)
    }

    public var migrationRunner: MigrationRunner { MigrationRunner(migrations: migrations, logger: logger) }

    public var schemaGate: SchemaGate {
        SchemaGate(runner: migrationRunner, migrateOnStart: common.migrateOnStart,
                   timeoutSeconds: common.startupTimeoutSeconds, serviceName: serviceName)
    }

    /// A router with the shared middleware (JSON errors, request metrics) and the operational routes.
    public func makeRouter(client: PostgresClient) -> Router<ServiceRequestContext> {
        let router = Router(context: ServiceRequestContext.self)
        router.add(middleware: RequestMetricsMiddleware(metrics: metrics))
        router.add(middleware: ErrorMiddleware())
        OperationalController(service: serviceName, client: client, expectedSchemaVersion: expectedSchemaVersion, metrics: metrics)
            .addRoutes(to: router)
        return router
    }

    public func httpConfiguration(port: Int) -> ApplicationConfiguration {
        ApplicationConfiguration(address: .hostname(common.bindHost, port: port), serverName: serviceName)
    }
}
