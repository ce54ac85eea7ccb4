import Foundation
import PostgresNIO
import Testing

/// docs/TABLE_OWNERS.md is the one list of who writes which table; these tests hold the schema
/// and the code to it, so a new table or a new cross-service write cannot go unlisted.
@Suite struct OwnershipTests {
    struct Owners {
        /// table → owning service.
        var owner: [String: String] = [:]
        /// table → services that may only insert (command and inbox tables).
        var inserters: [String: Set<String>] = [:]
        var listedTwice: [String] = []
    }

    /// The rows of the page's table `| table | owner | inserted by |`.
    static func owners() throws -> Owners {
        let text = try String(contentsOf: RepositoryPaths.root.appendingPathComponent("docs/TABLE_OWNERS.md"), encoding: .utf8)
        var owners = Owners()
        var section = ""
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("## ") { section = String(line.dropFirst(3)); continue }
            guard section == "Owners", line.hasPrefix("| `") else { continue }
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).dropFirst().dropLast()
                .map { $0.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "`")) }
            let table = cells[0]
            if owners.owner[table] != nil { owners.listedTwice.append(table) }
            owners.owner[table] = cells[1]
            owners.inserters[table] = Set(cells[2].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
        }
        return owners
    }

    /// Each write statement in `text`: (table, verb).
    static func writes(in text: String) throws -> [(table: String, verb: String)] {
        let patterns = [("INSERT", #"\bINSERT\s+INTO\s+([a-z_]+)"#), ("DELETE", #"\bDELETE\s+FROM\s+([a-z_]+)"#),
                        ("UPDATE", #"\bUPDATE\s+([a-z_]+)\s+(?:[a-z]+\s+)?SET\b"#)]
        var found: [(String, String)] = []
        for (verb, pattern) in patterns {
            let regex = try NSRegularExpression(pattern: pattern)
            for match in regex.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
                found.append((String(text[Range(match.range(at: 1), in: text)!]), verb))
            }
        }
        return found
    }

    /// Each write statement in a folder's Swift sources: (table, verb, file).
    static func writes(under folder: String) throws -> [(table: String, verb: String, file: String)] {
        let base = RepositoryPaths.root.appendingPathComponent(folder)
        let files = FileManager.default.enumerator(at: base, includingPropertiesForKeys: nil)?.compactMap { $0 as? URL } ?? []
        return try files.filter { $0.pathExtension == "swift" }.flatMap { file in
            try writes(in: String(contentsOf: file, encoding: .utf8)).map { ($0.table, $0.verb, file.lastPathComponent) }
        }
    }

    @Test func every_table_has_one_owner() async throws {
        let owners = try Self.owners()
        #expect(owners.listedTwice.isEmpty, "listed more than once: \(owners.listedTwice)")
        #expect(Set(owners.owner.values).isSubset(of: ["collector", "engine", "api", "migrations"]))
        try await TestDatabase.with { db in
            let rows = try await db.client.query(
                """
                SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
                """, logger: TestDatabase.logger)
            var tables = Set<String>()
            for try await name in rows.decode(String.self) { tables.insert(name) }
            #expect(tables.subtracting(owners.owner.keys).sorted() == [], "tables without an owner in docs/TABLE_OWNERS.md")
            #expect(Set(owners.owner.keys).subtracting(tables).sorted() == [], "listed tables that the schema does not have")
        }
    }

    @Test func services_write_only_their_own_tables() throws {
        let owners = try Self.owners()
        let folders = ["collector": "Services/collector", "engine": "Services/profile-engine", "api": "Services/profile-api"]
        var violations: [String] = []
        for (service, folder) in folders.sorted(by: { $0.key < $1.key }) {
            let writes = try Self.writes(under: folder)
            #expect(!writes.isEmpty, "no writes found under \(folder): the scan is broken")
            for write in writes {
                guard let owner = owners.owner[write.table] else { continue }  // a CTE or an alias, not a table
                let allowed = owner == service
                    || (write.verb == "INSERT" && owners.inserters[write.table, default: []].contains(service))
                if !allowed { violations.append("\(service) \(write.verb) \(write.table) in \(write.file) (owner: \(owner))") }
            }
        }
        // Shared libraries hold no writes at all, except the migration runner's bookkeeping.
        for write in try Self.writes(under: "Shared") where write.table != "schema_migrations" {
            violations.append("Shared \(write.verb) \(write.table) in \(write.file)")
        }
        #expect(violations == [], "writes outside the owner (docs/TABLE_OWNERS.md)")
    }

    /// The scan itself, on hand-written text: it sees each kind of statement, with and without an
    /// alias, and skips `FOR UPDATE` and `ON CONFLICT … DO UPDATE SET`.
    @Test func the_write_scan_finds_each_kind_of_statement() throws {
        let text = """
            INSERT INTO visitor_profiles (id) VALUES ($1) ON CONFLICT (id) DO UPDATE SET version = 2
            SELECT id FROM sessions FOR UPDATE SKIP LOCKED
            UPDATE sessions SET ended_at = now()
            UPDATE visitor_profiles p SET stage = 'known' FROM batch b WHERE b.id = p.id
            DELETE FROM events WHERE id = 1
            """
        #expect(try Self.writes(in: text).map { "\($0.verb) \($0.table)" }.sorted()
                == ["DELETE events", "INSERT visitor_profiles", "UPDATE sessions", "UPDATE visitor_profiles"])
    }
}
