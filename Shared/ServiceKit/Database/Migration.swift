import Crypto
import Foundation
import ProfileModel

/// One numbered, forward-only SQL migration file, e.g. `sql/0001_schema.sql`.
public struct Migration: Sendable, Equatable {
    public let version: Int
    public let name: String
    public let sql: String
    /// SHA-256 of the file, recorded when applied so that an edited migration is detected.
    public let checksum: String

    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
        self.checksum = SHA256.hash(data: Data(sql.utf8)).hexString
    }

    /// Loads `NNNN_name.sql` files from a folder, sorted by number. Any other `.sql` file is an error,
    /// so a misnamed migration cannot be silently skipped.
    public static func load(directory: String) throws -> [Migration] {
        let url = URL(fileURLWithPath: directory)
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: url.path)
        } catch {
            throw ConfigError(variable: "SQL_DIR", message: "cannot read the migrations folder '\(directory)': \(error.localizedDescription)")
        }
        var migrations: [Migration] = []
        for file in names where file.hasSuffix(".sql") {
            let stem = file.dropLast(4)
            let parts = stem.split(separator: "_", maxSplits: 1)
            guard parts.count == 2, parts[0].count == 4, let version = Int(parts[0]), version > 0 else {
                throw ConfigError(variable: "SQL_DIR", message: "'\(file)' is not named NNNN_description.sql")
            }
            let sql = try String(contentsOf: url.appendingPathComponent(file), encoding: .utf8)
            migrations.append(Migration(version: version, name: String(parts[1]), sql: sql))
        }
        migrations.sort { $0.version < $1.version }
        for (a, b) in zip(migrations, migrations.dropFirst()) where a.version == b.version {
            throw ConfigError(variable: "SQL_DIR", message: "two migrations have number \(a.version)")
        }
        guard !migrations.isEmpty else {
            throw ConfigError(variable: "SQL_DIR", message: "no migrations found in '\(directory)'")
        }
        return migrations
    }
}
