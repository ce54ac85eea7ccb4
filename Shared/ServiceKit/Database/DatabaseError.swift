import PostgresNIO

/// What a database failure means to a caller; SQLSTATEs are interpreted here and nowhere else.
public enum DatabaseFailure: Sendable, Equatable {
    /// The server cannot be reached, the connection broke, or the server is out of a resource
    /// (class 53: disk full, out of memory, too many connections): retry later, answer 503.
    case unavailable
    /// 23505: a unique constraint rejected the row.
    case duplicate
    /// 40001/40P01: serialization failure or deadlock; the transaction may simply be retried.
    case retryable
    /// 23xxx other than 23505: the data broke a constraint.
    case constraintViolation
    /// Class 22 (data exception), e.g. U+0000 in text or a number out of range: the input, not the server, is at fault.
    case invalidData
    /// 57014: statement timeout or cancel.
    case timedOut
    case other

    public init(_ error: any Error) {
        // withTransaction wraps the failure of BEGIN, the body or COMMIT.
        if let transaction = error as? PostgresTransactionError,
           let inner = transaction.closureError ?? transaction.commitError ?? transaction.beginError {
            self.init(inner)
            return
        }
        if error is ConcurrentUpdateConflict {
            self = .retryable
            return
        }
        guard let psql = error as? PSQLError else {
            self = error is CancellationError ? .timedOut : .other
            return
        }
        if let state = psql.serverInfo?[.sqlState] {
            switch state {
            case "23505": self = .duplicate
            case "40001", "40P01": self = .retryable
            case "57014": self = .timedOut
            case "57P01", "57P02", "57P03", "08000", "08003", "08006", "08001", "08004": self = .unavailable
            // Not the data's fault: the same write succeeds once space or memory is freed.
            case _ where state.hasPrefix("53"): self = .unavailable
            case _ where state.hasPrefix("23"): self = .constraintViolation
            case _ where state.hasPrefix("22"): self = .invalidData
            default: self = .other
            }
            return
        }
        switch psql.code {
        case .connectionError, .serverClosedConnection, .clientClosedConnection, .poolClosed:
            self = .unavailable
        default:
            self = .other
        }
    }
}

extension DatabaseFailure {
    /// The session itself is gone (closed, or terminated by the server): nothing more can be sent on it.
    public static func isConnectionLoss(_ error: any Error) -> Bool {
        guard let psql = error as? PSQLError else { return false }
        if let state = psql.serverInfo?[.sqlState] {
            return state.hasPrefix("57P") || state.hasPrefix("08")
        }
        switch psql.code {
        case .connectionError, .serverClosedConnection, .clientClosedConnection: return true
        default: return false
        }
    }
}

/// The server's message and SQLSTATE of a database failure, for logs, stored errors (`last_error`)
/// and answers. `String(reflecting:)` of a PSQLError would include the server's message, which its
/// description hides on purpose, and also its DETAIL, which quotes row values ("Key (email)=(ann@…)",
/// "Failing row contains (…)"): personal data that must not reach a client, a table or a log above
/// debug level. The message alone names the constraint, table or column an operator needs.
public func describeDatabaseError(_ error: any Error) -> String {
    let error = unwrappingTransaction(error)
    if let psql = error as? PSQLError, let message = psql.serverInfo?[.message] {
        return "\(message) [SQLSTATE \(psql.serverInfo?[.sqlState] ?? "?")]"
    }
    return String(reflecting: error)
}

/// PostgreSQL's DETAIL of a failure, which may quote row values: only for debug-level logs
/// (`Logger.databaseFailure`).
public func databaseErrorDetail(_ error: any Error) -> String? {
    (unwrappingTransaction(error) as? PSQLError)?.serverInfo?[.detail]
}

/// withTransaction wraps the failure of BEGIN, the body or COMMIT; the inner one says what went wrong.
private func unwrappingTransaction(_ error: any Error) -> any Error {
    if let transaction = error as? PostgresTransactionError,
       let inner = transaction.closureError ?? transaction.commitError ?? transaction.beginError {
        return unwrappingTransaction(inner)
    }
    return error
}

/// Raised when rows read before taking a lock turned out to have been changed by another
/// transaction (e.g. a profile merged away meanwhile): the work is simply run again.
public struct ConcurrentUpdateConflict: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
