import Logging
import PostgresNIO
import ProfileModel

/// Asks PostgreSQL whether it accepts each `page_path` pattern of a segment rule. The engine runs
/// the patterns with PostgreSQL's regular expressions, which refuse some that ICU (the first
/// check, in SegmentRule) accepts — `(?<x>a)`, `\p{L}` — and one such segment failed every batch
/// that evaluated it.
enum SegmentPatternCheck {
    /// Named query `check_segment_pattern`. Throws `SegmentRule.Invalid` naming the condition.
    static func check(_ rule: SegmentRule, path: String = "definition", client: PostgresClient, logger: Logger) async throws {
        for (conditionPath, pattern) in rule.pagePathPatterns(path: path) {
            do {
                let rows = try await client.query("SELECT '' ~ \(pattern)", logger: logger)
                for try await _ in rows.decode(Bool.self) {}
            } catch let error as PSQLError where error.serverInfo?[.sqlState] == "2201B" {
                throw SegmentRule.Invalid(path: conditionPath,
                                          message: "is not a regular expression PostgreSQL accepts (\(error.serverInfo?[.message] ?? "invalid regular expression"))")
            }
        }
    }
}
