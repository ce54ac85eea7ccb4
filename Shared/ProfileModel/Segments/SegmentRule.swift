import Foundation

/// A segment's membership rule: conditions on fields, scores, stage, interests, intents,
/// behaviour and recency, combined with all/any/not. Stored as JSON in `segments.definition`
/// and compiled to one SQL predicate over `visitor_profiles p` whose values are all bound.
public indirect enum SegmentRule: Sendable, Equatable {
    case all([SegmentRule])
    case any([SegmentRule])
    case not(SegmentRule)
    case field(name: String, op: Comparison, value: JSONValue?)
    case score(name: String, op: Comparison, value: Double)
    case stage([String])
    case interest(item: String?, category: String?, minConfidence: Double)
    case intent(name: String, withinDays: Int?)
    case metric(name: String, op: Comparison, value: Double)
    case pageViews(pathPattern: String, minViews: Int, withinDays: Int?)
    case lastSeenWithinDays(Int)
    case inactiveForDays(Int)

    public enum Comparison: String, Sendable, CaseIterable {
        case eq, neq, gt, gte, lt, lte, exists, missing, contains, `in`
    }

    public static let metrics: Set<String> = [
        "sessions_count", "page_views_count", "pages_per_session", "total_time_seconds", "avg_session_seconds", "bounce_count",
        "return_visits", "interactions_count", "conversations_count", "chat_messages_count", "avg_scroll_pct", "visits_last_7d", "visits_last_30d",
    ]

    public struct Invalid: Error, CustomStringConvertible, Equatable {
        public let path: String
        public let message: String
        public var description: String { "\(path): \(message)" }

        public init(path: String, message: String) {
            self.path = path
            self.message = message
        }
    }

    /// Bounds of a definition: every condition becomes SQL that runs for each profile evaluated.
    public static let maximumDepth = 8
    public static let maximumConditions = 100
    public static let maximumPatternLength = 200

    /// Parses and checks a definition; `path` names the place of an error, e.g. `definition.all[2].op`.
    public init(json: JSONValue, path: String = "definition") throws {
        try self.init(json: json, path: path, depth: 0)
        let count = conditionCount
        if count > Self.maximumConditions {
            throw Invalid(path: path, message: "has \(count) conditions; at most \(Self.maximumConditions) are allowed")
        }
    }

    private init(json: JSONValue, path: String, depth: Int) throws {
        guard depth <= Self.maximumDepth else { throw Invalid(path: path, message: "nests deeper than \(Self.maximumDepth) levels") }
        guard let object = json.objectValue, !object.isEmpty else { throw Invalid(path: path, message: "must be a non-empty JSON object") }
        func list(_ key: String) throws -> [SegmentRule] {
            guard let items = object[key]?.arrayValue, !items.isEmpty else { throw Invalid(path: "\(path).\(key)", message: "must be a non-empty array") }
            guard items.count <= Self.maximumConditions else {
                throw Invalid(path: "\(path).\(key)", message: "has \(items.count) conditions; at most \(Self.maximumConditions) are allowed")
            }
            return try items.enumerated().map { try SegmentRule(json: $1, path: "\(path).\(key)[\($0)]", depth: depth + 1) }
        }
        func number(_ key: String) throws -> Double {
            guard let value = object[key]?.doubleValue, value.isFinite else { throw Invalid(path: "\(path).\(key)", message: "must be a number") }
            return value
        }
        func days(_ key: String) throws -> Int? {
            guard let raw = object[key] else { return nil }
            guard let value = raw.intValue, (0...3650).contains(value) else { throw Invalid(path: "\(path).\(key)", message: "must be a whole number of days, 0...3650") }
            return value
        }
        func comparison() throws -> Comparison {
            guard let text = object["op"]?.stringValue else { return .eq }
            guard let op = Comparison(rawValue: text) else {
                throw Invalid(path: "\(path).op", message: "must be one of \(Comparison.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return op
        }
        if object["all"] != nil { self = .all(try list("all")) }
        else if object["any"] != nil { self = .any(try list("any")) }
        else if let inner = object["not"] { self = .not(try SegmentRule(json: inner, path: "\(path).not", depth: depth + 1)) }
        else if let name = object["field"]?.stringValue {
            let op = try comparison()
            if op != .exists && op != .missing && object["value"] == nil { throw Invalid(path: "\(path).value", message: "is required for op \(op.rawValue)") }
            if op == .in && object["value"]?.arrayValue == nil { throw Invalid(path: "\(path).value", message: "must be an array for op in") }
            self = .field(name: name, op: op, value: object["value"])
        } else if let name = object["score"]?.stringValue {
            guard ["lead_score", "engagement_score"].contains(name) else { throw Invalid(path: "\(path).score", message: "must be lead_score or engagement_score") }
            self = .score(name: name, op: try comparison(), value: try number("value"))
        } else if let stages = object["stage"] {
            let names = stages.arrayValue?.compactMap(\.stringValue) ?? stages.stringValue.map { [$0] } ?? []
            let known = Set(LeadStage.names)
            guard !names.isEmpty, names.allSatisfy(known.contains) else { throw Invalid(path: "\(path).stage", message: "must name stages among \(known.sorted().joined(separator: ", "))") }
            self = .stage(names)
        } else if object["interest"] != nil || object["category"] != nil {
            let confidence = object["min_confidence"]?.doubleValue ?? 0
            guard (0...1).contains(confidence) else { throw Invalid(path: "\(path).min_confidence", message: "must be in 0...1") }
            self = .interest(item: object["interest"]?.stringValue, category: object["category"]?.stringValue, minConfidence: confidence)
        } else if let name = object["intent"]?.stringValue {
            self = .intent(name: name, withinDays: try days("within_days"))
        } else if let name = object["metric"]?.stringValue {
            guard Self.metrics.contains(name) else { throw Invalid(path: "\(path).metric", message: "must be one of \(Self.metrics.sorted().joined(separator: ", "))") }
            self = .metric(name: name, op: try comparison(), value: try number("value"))
        } else if let pattern = object["page_path"]?.stringValue {
            guard pattern.count <= Self.maximumPatternLength else {
                throw Invalid(path: "\(path).page_path", message: "must be at most \(Self.maximumPatternLength) characters")
            }
            // A first check only: PostgreSQL runs the pattern, and the API asks it too (see pagePathPatterns).
            guard (try? NSRegularExpression(pattern: pattern)) != nil else { throw Invalid(path: "\(path).page_path", message: "is not a valid regular expression") }
            self = .pageViews(pathPattern: pattern, minViews: object["min_views"]?.intValue ?? 1, withinDays: try days("within_days"))
        } else if let value = try days("last_seen_within_days") {
            self = .lastSeenWithinDays(value)
        } else if let value = try days("inactive_for_days") {
            self = .inactiveForDays(value)
        } else {
            throw Invalid(path: path, message: "is not a condition (all, any, not, field, score, stage, interest, category, intent, metric, page_path, last_seen_within_days, inactive_for_days)")
        }
    }
}

extension SegmentRule {
    /// How many conditions the rule holds, combinators included.
    public var conditionCount: Int {
        switch self {
        case .all(let rules), .any(let rules): 1 + rules.map(\.conditionCount).reduce(0, +)
        case .not(let rule): 1 + rule.conditionCount
        default: 1
        }
    }

    /// Every `page_path` pattern with the path of its condition, as `init(json:path:)` names them:
    /// PostgreSQL's regular expressions are not ICU's, so the caller has PostgreSQL check each one.
    public func pagePathPatterns(path: String = "definition") -> [(path: String, pattern: String)] {
        switch self {
        case .all(let rules): rules.enumerated().flatMap { $1.pagePathPatterns(path: "\(path).all[\($0)]") }
        case .any(let rules): rules.enumerated().flatMap { $1.pagePathPatterns(path: "\(path).any[\($0)]") }
        case .not(let rule): rule.pagePathPatterns(path: "\(path).not")
        case .pageViews(let pattern, _, _): [("\(path).page_path", pattern)]
        default: []
        }
    }
}
