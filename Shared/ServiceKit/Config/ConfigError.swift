/// A configuration problem found at start-up; the service refuses to start and prints `description`.
public struct ConfigError: Error, CustomStringConvertible, Sendable, Equatable {
    public let variable: String
    public let message: String

    public init(variable: String, message: String) {
        self.variable = variable
        self.message = message
    }

    public var description: String { "configuration error: \(variable): \(message)" }
}
