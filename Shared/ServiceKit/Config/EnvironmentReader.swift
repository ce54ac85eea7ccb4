import Foundation

/// Typed access to environment variables. Every getter names the variable in its error so that an
/// operator knows exactly what to fix; tests pass a dictionary instead of the process environment.
public struct EnvironmentReader: Sendable {
    public let values: [String: String]

    public init(_ values: [String: String] = ProcessInfo.processInfo.environment) {
        self.values = values
    }

    /// The raw value, with empty strings treated as unset.
    public func raw(_ name: String) -> String? {
        guard let value = values[name]?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        return value
    }

    public func string(_ name: String, default defaultValue: String) -> String {
        raw(name) ?? defaultValue
    }

    public func int(_ name: String, default defaultValue: Int, range: ClosedRange<Int>) throws -> Int {
        guard let text = raw(name) else { return defaultValue }
        guard let value = Int(text) else {
            throw ConfigError(variable: name, message: "'\(text)' is not an integer")
        }
        guard range.contains(value) else {
            throw ConfigError(variable: name, message: "\(value) is outside \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    public func port(_ name: String, default defaultValue: Int) throws -> Int {
        try int(name, default: defaultValue, range: 0...65535)
    }

    public func double(_ name: String, default defaultValue: Double, range: ClosedRange<Double>) throws -> Double {
        guard let text = raw(name) else { return defaultValue }
        guard let value = Double(text), value.isFinite else {
            throw ConfigError(variable: name, message: "'\(text)' is not a number")
        }
        guard range.contains(value) else {
            throw ConfigError(variable: name, message: "\(value) is outside \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    public func bool(_ name: String, default defaultValue: Bool) throws -> Bool {
        guard let text = raw(name)?.lowercased() else { return defaultValue }
        switch text {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default: throw ConfigError(variable: name, message: "'\(text)' is not a boolean (use true or false)")
        }
    }

    public func oneOf<T: RawRepresentable>(_ name: String, default defaultValue: T) throws -> T
    where T.RawValue == String, T: CaseIterable {
        guard let text = raw(name) else { return defaultValue }
        guard let value = T(rawValue: text.lowercased()) else {
            let allowed = T.allCases.map(\.rawValue).joined(separator: ", ")
            throw ConfigError(variable: name, message: "'\(text)' is not one of: \(allowed)")
        }
        return value
    }

    public func list(_ name: String) -> [String] {
        guard let text = raw(name) else { return [] }
        return text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
}
