import Foundation
import Yams

/// The configuration-driven set of profile fields loaded from `profile_fields.yaml`.
public struct FieldRegistry: Sendable {
    public let fields: [FieldDefinition]
    private let byName: [String: FieldDefinition]

    public init(fields: [FieldDefinition]) {
        self.fields = fields
        self.byName = Dictionary(fields.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    public subscript(name: String) -> FieldDefinition? { byName[name] }

    /// A problem in the file, with the line it is on and the field it concerns.
    public struct LoadError: Error, CustomStringConvertible, Equatable {
        public let file: String
        public let line: Int?
        public let field: String?
        public let message: String

        public var description: String {
            var location = file
            if let line { location += ":\(line)" }
            if let field { return "\(location): field '\(field)': \(message)" }
            return "\(location): \(message)"
        }
    }

    public static func load(path: String) throws -> FieldRegistry {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw LoadError(file: path, line: nil, field: nil, message: "cannot read the file (set PROFILE_FIELDS_FILE): \(error.localizedDescription)")
        }
        return try parse(yaml: text, file: path)
    }

    public static func parse(yaml text: String, file: String = "profile_fields.yaml") throws -> FieldRegistry {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw LoadError(file: file, line: nil, field: nil, message: "is not valid YAML: \(error)")
        }
        guard let root, let top = root.mapping else {
            throw LoadError(file: file, line: root?.mark.map { $0.line }, field: nil, message: "must be a mapping with a 'fields' list")
        }
        guard let list = top["fields"] else {
            throw LoadError(file: file, line: root.mark?.line, field: nil, message: "has no 'fields' list")
        }
        guard let entries = list.sequence else {
            throw LoadError(file: file, line: list.mark?.line, field: nil, message: "'fields' must be a list")
        }
        var fields: [FieldDefinition] = []
        var seen = Set<String>()
        for entry in entries {
            let field = try parseField(entry, file: file)
            guard seen.insert(field.name).inserted else {
                throw LoadError(file: file, line: entry.mark?.line, field: field.name, message: "is declared twice")
            }
            fields.append(field)
        }
        return FieldRegistry(fields: fields)
    }

    private static let fieldKeys: Set<String> = ["name", "type", "required", "description", "default", "conflict", "rules"]
    private static let ruleKeys: Set<String> = [
        "regex", "format", "min", "max", "min_length", "max_length", "options", "default_country",
        "allowed_domains", "blocked_domains", "networks", "min_date", "max_date",
    ]

    private static func parseField(_ node: Node, file: String) throws -> FieldDefinition {
        let line = node.mark?.line
        guard let mapping = node.mapping else {
            throw LoadError(file: file, line: line, field: nil, message: "each entry of 'fields' must be a mapping")
        }
        guard let name = mapping["name"]?.string, name.range(of: "^[a-z][a-z0-9_]{0,62}$", options: .regularExpression) != nil else {
            throw LoadError(file: file, line: line, field: mapping["name"]?.string, message: "needs a 'name' of lower-case letters, digits and underscores")
        }
        func fail(_ message: String, at node: Node? = nil) -> LoadError {
            LoadError(file: file, line: node?.mark?.line ?? line, field: name, message: message)
        }
        for (key, _) in mapping {
            guard let key = key.string, fieldKeys.contains(key) else {
                throw fail("unknown key '\(key.string ?? "?")' (allowed: \(fieldKeys.sorted().joined(separator: ", ")))", at: key)
            }
        }
        guard let typeNode = mapping["type"], let typeName = typeNode.string else { throw fail("has no 'type'") }
        guard let type = FieldType(rawValue: typeName) else {
            throw fail("unknown type '\(typeName)' (one of: \(FieldType.allCases.map(\.rawValue).joined(separator: ", ")))", at: typeNode)
        }
        var required = false
        if let node = mapping["required"] {
            guard let value = node.bool else { throw fail("'required' must be true or false", at: node) }
            required = value
        }
        guard let description = mapping["description"]?.string, !description.isEmpty else {
            throw fail("needs a 'description' (the chat agent reads it)")
        }
        var conflict = ConflictRule.lastWriteWins
        if let node = mapping["conflict"] {
            guard let text = node.string, let rule = ConflictRule(rawValue: text) else {
                throw fail("'conflict' must be one of: \(ConflictRule.allCases.map(\.rawValue).joined(separator: ", "))", at: node)
            }
            conflict = rule
        }
        let rules = try mapping["rules"].map { try parseRules($0, fail: fail) } ?? FieldRules()
        if type == .select && (rules.options ?? []).isEmpty {
            throw fail("a select field needs rules.options")
        }
        if let regex = rules.regex, (try? NSRegularExpression(pattern: regex)) == nil {
            throw fail("rules.regex '\(regex)' is not a valid regular expression", at: mapping["rules"])
        }
        var defaultValue: JSONValue?
        if let node = mapping["default"], node.null == nil {
            let raw = jsonValue(node)
            switch FieldValidator.normalize(raw, as: type, rules: rules) {
            case .success(let normalized): defaultValue = normalized
            case .failure(let error): throw fail("the default is not a valid \(type.rawValue): \(error.message)", at: node)
            }
        }
        return FieldDefinition(name: name, type: type, required: required, description: description,
                               defaultValue: defaultValue, conflict: conflict, rules: rules)
    }

    private static func parseRules(_ node: Node, fail: (String, Node?) -> LoadError) throws -> FieldRules {
        guard let mapping = node.mapping else { throw fail("'rules' must be a mapping", node) }
        var rules = FieldRules()
        for (keyNode, value) in mapping {
            guard let key = keyNode.string, ruleKeys.contains(key) else {
                throw fail("unknown rule '\(keyNode.string ?? "?")' (allowed: \(ruleKeys.sorted().joined(separator: ", ")))", keyNode)
            }
            func string() throws -> String {
                guard let s = value.string, value.scalar != nil else { throw fail("rules.\(key) must be a string", value) }
                return s
            }
            func number() throws -> Double {
                guard let d = value.float ?? value.int.map(Double.init) else { throw fail("rules.\(key) must be a number", value) }
                return d
            }
            func integer() throws -> Int {
                guard let i = value.int, i >= 0 else { throw fail("rules.\(key) must be a non-negative integer", value) }
                return i
            }
            func strings() throws -> [String] {
                guard let items = value.sequence else { throw fail("rules.\(key) must be a list of strings", value) }
                return try items.map { item in
                    guard let s = item.string else { throw fail("rules.\(key) must be a list of strings", item) }
                    return s
                }
            }
            switch key {
            case "regex": rules.regex = try string()
            case "format": rules.format = try string()
            case "min": rules.min = try number()
            case "max": rules.max = try number()
            case "min_length": rules.minLength = try integer()
            case "max_length": rules.maxLength = try integer()
            case "options": rules.options = try strings()
            case "default_country": rules.defaultCountry = try string().uppercased()
            case "allowed_domains": rules.allowedDomains = try strings()
            case "blocked_domains": rules.blockedDomains = try strings()
            case "networks": rules.networks = try strings()
            case "min_date": rules.minDate = try string()
            case "max_date": rules.maxDate = try string()
            default: break
            }
        }
        return rules
    }

    /// Converts a YAML node to JSON, keeping YAML's typing of scalars (numbers, booleans, null).
    public static func jsonValue(_ node: Node) -> JSONValue {
        switch node {
        case .scalar(let scalar):
            if scalar.style == .plain {
                if node.null != nil { return .null }
                if let b = node.bool { return .bool(b) }
                if let i = node.int { return .number(Double(i)) }
                if let d = node.float { return .number(d) }
            }
            return .string(scalar.string)
        case .sequence(let sequence):
            return .array(sequence.map(jsonValue))
        case .mapping(let mapping):
            var object: [String: JSONValue] = [:]
            for (key, value) in mapping { object[key.string ?? ""] = jsonValue(value) }
            return .object(object)
        case .alias:
            return .null
        }
    }
}
