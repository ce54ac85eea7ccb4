import Foundation
import ProfileModel
import ServiceKit
import Yams

/// How profiles become export rows for a CRM: ordered columns, each taken from a path in the
/// profile document and formatted (dates, phone, names, picklist values) as the CRM imports it.
/// Presets live in `config/crm-mappings/*.yaml` (documented in README.md).
struct CRMMapping: Sendable, Equatable {
    struct Column: Sendable, Equatable {
        var column: String
        var source: String
        var format: ValueFormat = .text
        var values: [String: String] = [:]
        var defaultValue: String?

        /// The column's value for one profile document, as text ("" when empty).
        func value(in document: JSONValue) -> String {
            if format == .constant { return defaultValue ?? "" }
            let raw = CRMMapping.lookup(source, in: document)
            var text = format.apply(raw)
            if !values.isEmpty, !text.isEmpty {
                text = values[text] ?? defaultValue ?? text
            }
            return text.isEmpty ? (defaultValue ?? "") : text
        }
    }

    enum ValueFormat: String, Sendable, CaseIterable {
        case text, integer, date, datetime, epochMs = "epoch_ms", phoneE164 = "phone_e164"
        case firstName = "first_name", lastName = "last_name", lowercase, uppercase, constant

        func apply(_ value: JSONValue?) -> String {
            guard let value, !value.isNull else { return "" }
            switch self {
            case .text, .constant: return Self.plain(value)
            case .integer:
                if let number = value.doubleValue ?? Double(Self.plain(value)) { return String(Int64(number.rounded())) }
                return ""
            case .date, .datetime, .epochMs:
                guard let date = Self.parseDate(Self.plain(value)) else { return "" }
                switch self {
                case .date: return date.formatted(Date.ISO8601FormatStyle(timeZone: .gmt).year().month().day())
                case .datetime: return date.formatted(Date.ISO8601FormatStyle(timeZone: .gmt))
                default: return String(Int64((date.timeIntervalSince1970 * 1000).rounded()))
                }
            case .phoneE164:
                let text = Self.plain(value)
                let digits = text.filter(\.isASCII).filter(\.isNumber)
                guard !digits.isEmpty else { return "" }
                // Stored phones are already E.164 (profile_fields.yaml normalises them); this
                // only strips the spaces and punctuation a CRM import would refuse.
                return "+" + (text.hasPrefix("00") ? String(digits.dropFirst(2)) : digits)
            case .firstName, .lastName:
                let parts = Self.plain(value).split(whereSeparator: \.isWhitespace)
                guard let first = parts.first else { return "" }
                return self == .firstName ? String(first) : parts.dropFirst().joined(separator: " ")
            case .lowercase: return Self.plain(value).lowercased()
            case .uppercase: return Self.plain(value).uppercased()
            }
        }

        /// Strings as they are, numbers without a trailing ".0", lists joined by ";" (the
        /// multi-value separator HubSpot and Salesforce imports use), objects as JSON.
        static func plain(_ value: JSONValue) -> String {
            switch value {
            case .null: return ""
            case .string(let text): return text
            case .bool(let flag): return flag ? "true" : "false"
            case .number, .object: return value.description
            case .array(let items): return items.map(plain).joined(separator: ";")
            }
        }

        static func parseDate(_ text: String) -> Date? {
            if let date = try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)) { return date }
            if let date = try? Date(text, strategy: .iso8601) { return date }
            return try? Date(text, strategy: Date.ISO8601FormatStyle().year().month().day())
        }
    }

    var name: String
    var columns: [Column]

    /// Follows `a.b.c` through objects; `identity.<kind>` is the profile's first identity of that
    /// kind (documents list identities as `[{kind, value}]`).
    static func lookup(_ path: String, in document: JSONValue) -> JSONValue? {
        if path.hasPrefix("identity.") {
            let kind = path.dropFirst("identity.".count)
            return document["identities"]?.arrayValue?.first { $0["kind"]?.stringValue == String(kind) }?["value"]
        }
        var current: JSONValue? = document
        for part in path.split(separator: ".") {
            guard let value = current else { return nil }
            if let index = Int(part), let items = value.arrayValue {
                current = items.indices.contains(index) ? items[index] : nil
            } else {
                current = value[String(part)]
            }
        }
        return current
    }

    /// This mapping with `overrides` (`{"column": "source path"}`) replacing or appending columns.
    func overriding(_ overrides: [String: String]) -> CRMMapping {
        var copy = self
        for (column, source) in overrides.sorted(by: { $0.key < $1.key }) {
            if let index = copy.columns.firstIndex(where: { $0.column == column }) {
                copy.columns[index] = Column(column: column, source: source)
            } else {
                copy.columns.append(Column(column: column, source: source))
            }
        }
        return copy
    }
}

/// The mapping presets read from a directory of YAML files at start; a malformed file stops the
/// service with the file and the problem.
struct CRMMappingCatalog: Sendable {
    let presets: [String: CRMMapping]

    init(presets: [String: CRMMapping]) { self.presets = presets }

    static func load(directory: String) throws -> CRMMappingCatalog {
        var presets: [String: CRMMapping] = [:]
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        for file in files.sorted() where file.hasSuffix(".yaml") || file.hasSuffix(".yml") {
            let path = (directory as NSString).appendingPathComponent(file)
            let mapping = try parse(try String(contentsOfFile: path, encoding: .utf8), file: path)
            presets[mapping.name] = mapping
        }
        guard presets["default"] != nil else {
            throw ConfigError(variable: "EXPORT_MAPPINGS_DIR", message: "\(directory) has no default.yaml mapping preset")
        }
        return CRMMappingCatalog(presets: presets)
    }

    static func parse(_ text: String, file: String) throws -> CRMMapping {
        func fail(_ message: String) -> ConfigError { ConfigError(variable: "EXPORT_MAPPINGS_DIR", message: "\(file): \(message)") }
        guard let root = try Yams.load(yaml: text) as? [String: Any] else { throw fail("expected a mapping with name and columns") }
        guard let name = root["name"] as? String, !name.isEmpty else { throw fail("'name' is required") }
        guard let entries = root["columns"] as? [[String: Any]], !entries.isEmpty else { throw fail("'columns' must list at least one column") }
        var columns: [CRMMapping.Column] = []
        for (index, entry) in entries.enumerated() {
            guard let column = entry["column"].map({ "\($0)" }), !column.isEmpty, let source = entry["source"].map({ "\($0)" }) else {
                throw fail("columns[\(index)] needs 'column' and 'source'")
            }
            var spec = CRMMapping.Column(column: column, source: source)
            if let format = entry["format"] {
                guard let parsed = CRMMapping.ValueFormat(rawValue: "\(format)") else {
                    throw fail("columns[\(index)].format '\(format)' is not one of \(CRMMapping.ValueFormat.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                spec.format = parsed
            }
            if let values = entry["values"] {
                guard let map = values as? [AnyHashable: Any] else { throw fail("columns[\(index)].values must be a mapping") }
                spec.values = Dictionary(uniqueKeysWithValues: map.map { ("\($0.key)", "\($0.value)") })
            }
            spec.defaultValue = entry["default"].map { "\($0)" }
            columns.append(spec)
        }
        return CRMMapping(name: name, columns: columns)
    }
}
