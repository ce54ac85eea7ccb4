import Logging
import PostgresNIO

/// The PostgreSQL role each service connects as (sql/0016): its privileges are those of the
/// tables its service owns (`table_owners`), so a compromised collector cannot read profiles and
/// no service can change another's tables. The migration owner runs `migrate`.
public enum ServiceRoles {
    /// Service name → role. pb_analyst, the read-only role for DBAs, belongs to no service.
    public static let roleOfService = ["collector": "pb_collector", "profile-engine": "pb_engine", "profile-api": "pb_api"]
    public static let all = ["pb_collector", "pb_engine", "pb_api", "pb_analyst"]

    /// After migrating: sets each role's password given as `PB_<ROLE>_PASSWORD` (e.g.
    /// PB_COLLECTOR_PASSWORD), so a deployment that needs passwords sets them in one place. A
    /// role without one keeps what it has (none, for a local Postgres that trusts loopback).
    public static func setPasswords(from env: EnvironmentReader, _ client: PostgresClient, logger: Logger) async throws {
        for role in all {
            let variable = "PB_\(role.dropFirst(3).uppercased())_PASSWORD"
            guard let password = env.raw(variable), !password.isEmpty else { continue }
            for try await _ in try await client.query("SELECT set_service_role_password(\(role), \(password))::text", logger: logger).decode(String?.self) {}
            logger.info("service role password set", metadata: ["role": "\(role)", "from": "\(variable)"])
        }
    }
}
