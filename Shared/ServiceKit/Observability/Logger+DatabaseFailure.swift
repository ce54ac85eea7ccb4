import Logging

extension Logger {
    /// Logs `error` at `level` as `describeDatabaseError` says it (message and SQLSTATE), and
    /// PostgreSQL's DETAIL, which quotes row values (a duplicate key, the failing row), only in a
    /// separate debug-level line: personal data stays out of the logs an operator keeps.
    public func databaseFailure(
        _ level: Logger.Level, _ message: @autoclosure () -> Logger.Message, error: any Error, metadata: Logger.Metadata = [:],
        file: String = #fileID, function: String = #function, line: UInt = #line
    ) {
        var metadata = metadata
        metadata["error"] = "\(describeDatabaseError(error))"
        log(level: level, message(), metadata: metadata, file: file, function: function, line: line)
        if let detail = databaseErrorDetail(error) {
            log(level: .debug, "database error detail", metadata: ["detail": "\(detail)"], file: file, function: function, line: line)
        }
    }
}
