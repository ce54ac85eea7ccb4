import Foundation

/// Why a model folder could not be loaded, naming the file at fault.
public struct EmbeddingModelError: LocalizedError, Sendable, Equatable, CustomStringConvertible {
    /// The path of the file that is missing, unreadable or inconsistent.
    public let file: String
    public let problem: String

    public init(file: String, problem: String) {
        self.file = file
        self.problem = problem
    }

    public var description: String { "\(file): \(problem)" }
    public var errorDescription: String? { description }

    /// A short reason for a Foundation or decoding error, for the `problem` text.
    static func reason(_ error: any Error) -> String {
        if let error = error as? DecodingError {
            switch error {
            case .keyNotFound(let key, _): return "missing \(key.stringValue)"
            case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
                let path = context.codingPath.map(\.stringValue).joined(separator: ".")
                return path.isEmpty ? context.debugDescription : "\(path): \(context.debugDescription)"
            @unknown default: return "\(error)"
            }
        }
        return (error as NSError).localizedDescription
    }
}
