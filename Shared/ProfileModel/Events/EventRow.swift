/// The columns of an `events` row that the collector writes, in order, with their SQL types: the
/// one description of the row. The collector's insert (its `jsonb_to_recordset` record and its
/// column lists) is made from it, its JSON writer is tested against it, and the engine reads
/// the columns it needs by these names. `id` comes from `events_id_seq` and is not listed.
public enum EventRow {
    public struct Column: Sendable {
        public let name: String
        public let sqlType: String
    }

    public static let columns: [Column] = [
        Column(name: "site_id", sqlType: "bigint"),
        Column(name: "message_id", sqlType: "text"),
        Column(name: "type", sqlType: "text"),
        Column(name: "anonymous_id", sqlType: "text"),
        Column(name: "user_id", sqlType: "text"),
        Column(name: "event", sqlType: "text"),
        Column(name: "name", sqlType: "text"),
        Column(name: "previous_id", sqlType: "text"),
        Column(name: "group_id", sqlType: "text"),
        Column(name: "properties", sqlType: "jsonb"),
        Column(name: "traits", sqlType: "jsonb"),
        Column(name: "context", sqlType: "jsonb"),
        Column(name: "integrations", sqlType: "jsonb"),
        Column(name: "occurred_at", sqlType: "timestamptz"),
        Column(name: "sent_at", sqlType: "timestamptz"),
        Column(name: "received_at", sqlType: "timestamptz"),
        Column(name: "client_ip", sqlType: "inet"),
        Column(name: "is_bot", sqlType: "boolean"),
        Column(name: "consent", sqlType: "jsonb"),
        Column(name: "verified_identifiers", sqlType: "text[]"),
    ]

    public static let names = columns.map(\.name)

    /// `site_id bigint, message_id text, …`: a record definition for `jsonb_to_recordset`.
    public static let recordDefinition = columns.map { "\($0.name) \($0.sqlType)" }.joined(separator: ", ")

    /// `site_id, message_id, …`, each name after `prefix` (e.g. `s.`).
    public static func columnList(prefix: String = "") -> String {
        names.map { prefix + $0 }.joined(separator: ", ")
    }

    /// `e.name AS name` for each of `wanted`, jsonb columns as text; traps on a name that is not a
    /// column, so a reader cannot drift from the row.
    public static func selectList(_ wanted: [String], table alias: String) -> String {
        wanted.map { name in
            guard let column = columns.first(where: { $0.name == name }) else { preconditionFailure("events has no column \(name)") }
            return column.sqlType == "jsonb" ? "\(alias).\(name)::text AS \(name)" : "\(alias).\(name) AS \(name)"
        }.joined(separator: ", ")
    }
}
