import Logging
import PostgresNIO
import ProfileModel

/// Records who did what: every write and every GDPR action, with the key that made it.
enum AuditLog {
    /// Named query `insert_audit_entry`; runs inside the caller's transaction so the entry commits
    /// with the change it describes.
    static func record(_ action: String, target: String, key: APIKey?, requestID: String, details: JSONValue = [:],
                       on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            INSERT INTO audit_log (api_key_id, action, target, details, request_id)
            VALUES (\(key?.id), \(action), \(target), \(details.jsonText)::jsonb, \(requestID))
            """, logger: logger)
    }
}
