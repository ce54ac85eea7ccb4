import Foundation

/// Paths inside the repository, found from this file's location so tests run from any folder.
enum RepositoryPaths {
    static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static var sql: String { root.appendingPathComponent("sql").path }
    static var profileFields: String { root.appendingPathComponent("config/profile_fields.yaml").path }
}
