import Foundation

extension JSONValue {
    /// Compact JSON text, for binding a whole value as one `jsonb` parameter.
    public var jsonText: String {
        (try? String(decoding: JSONEncoder().encode(self), as: UTF8.self)) ?? "null"
    }
}
