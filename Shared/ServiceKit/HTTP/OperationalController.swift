import Hummingbird
import Logging
import PostgresNIO

/// `/health` (the process is alive), `/ready` (Postgres answers and the schema is current) and
/// `/metrics` (Prometheus text), served by every service.
public struct OperationalController: Sendable {
    let service: String
    let client: PostgresClient
    let expectedSchemaVersion: Int
    let metrics: ServiceMetrics

    public init(service: String, client: PostgresClient, expectedSchemaVersion: Int, metrics: ServiceMetrics) {
        self.service = service
        self.client = client
        self.expectedSchemaVersion = expectedSchemaVersion
        self.metrics = metrics
    }

    public func addRoutes(to router: Router<ServiceRequestContext>) {
        router.get("/health") { _, _ in
            JSONResponse.make(["status": "ok", "service": .string(service)])
        }
        router.get("/ready") { _, context in
            await ready(logger: context.logger)
        }
        router.get("/metrics") { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: metrics.exposition())))
        }
    }

    func ready(logger: Logger) async -> Response {
        let client = self.client
        do {
            let version = try await withDeadline(seconds: 2) {
                try await MigrationRunner.currentVersion(client, logger: logger)
            }
            guard version >= expectedSchemaVersion else {
                return JSONResponse.make([
                    "status": "unavailable", "service": .string(service),
                    "reason": .string("schema version \(version) is older than \(expectedSchemaVersion)"),
                ], status: .serviceUnavailable)
            }
            return JSONResponse.make(["status": "ready", "service": .string(service), "schema_version": .number(Double(version))])
        } catch {
            return JSONResponse.make([
                "status": "unavailable", "service": .string(service),
                "reason": .string("postgres: \(describeDatabaseError(error))"),
            ], status: .serviceUnavailable)
        }
    }
}
