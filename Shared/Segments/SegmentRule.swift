import Foundation
import PostgresNIO

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
    }

    /// Parses and checks a definition; `path` names the place of an error, e.g. `definition.all[2].op`.
    public init(json: JSONValue, path: String = "definition") throws {
        guard let object = json.objectValue, !object.isEmpty else { throw Invalid(path: path, message: "must be a non-empty JSON object") }
        func list(_ key: String) throws -> [SegmentRule] {
            guard let items = object[key]?.arrayValue, !items.isEmpty else { throw Invalid(path: "\(path).\(key)", message: "must be a non-empty array") }
            return try items.enumerated().map { try SegmentRule(json: $1, path: "\(path).\(key)[\($0)]") }
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
        else if let inner = object["not"] { self = .not(try SegmentRule(json: inner, path: "\(path).not")) }
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
            let known: Set<String> = ["anonymous", "known", "engaged", "mql", "sql", "customer"]
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

    /// The SQL predicate over `p` (visitor_profiles); values go into `binds`.
    public func sql(_ binds: inout PostgresBindings) throws -> String {
        func bind(_ value: some PostgresEncodable & Sendable) throws -> String {
            try binds.append(value, context: .default)
            return "$\(binds.count)"
        }
        func compare(_ column: String, _ op: Comparison, _ placeholder: String) -> String {
            switch op {
            case .eq: return "\(column) = \(placeholder)"
            case .neq: return "\(column) IS DISTINCT FROM \(placeholder)"
            case .gt: return "\(column) > \(placeholder)"
            case .gte: return "\(column) >= \(placeholder)"
            case .lt: return "\(column) < \(placeholder)"
            case .lte: return "\(column) <= \(placeholder)"
            default: return "false"
            }
        }
        switch self {
        case .all(let rules): return "(" + (try rules.map { try $0.sql(&binds) }).joined(separator: " AND ") + ")"
        case .any(let rules): return "(" + (try rules.map { try $0.sql(&binds) }).joined(separator: " OR ") + ")"
        case .not(let rule): return "NOT coalesce(\(try rule.sql(&binds)), false)"
        case .field(let name, let op, let value):
            let key = try bind(name)
            switch op {
            case .exists: return "p.fields ? \(key)"
            case .missing: return "NOT (p.fields ? \(key))"
            case .contains: return "strpos(lower(p.fields->>\(key)), lower(\(try bind(value?.stringValue ?? value.map(\.description) ?? "")))) > 0"
            case .in: return "p.fields->\(key) = ANY(SELECT jsonb_array_elements(\(try bind((value ?? .array([])).jsonText))::jsonb))"
            case .eq, .neq:
                return compare("p.fields->\(key)", op, "\(try bind((value ?? .null).jsonText))::jsonb")
            default:
                // Ordered comparisons are numeric; a non-numeric value simply does not match.
                guard let number = value?.doubleValue else { return "false" }
                return compare("(CASE WHEN jsonb_typeof(p.fields->\(key)) = 'number' THEN (p.fields->>\(key))::float8 END)", op, try bind(number))
            }
        case .score(let name, let op, let value):
            return compare("p.\(name == "lead_score" ? "lead_score" : "engagement_score")", op, "\(try bind(value))::float8")
        case .stage(let stages):
            return "p.stage = ANY(\(try bind(stages))::text[])"
        case .interest(let item, let category, let minConfidence):
            var conditions = ["i.profile_id = p.id", "NOT i.negated", "i.confidence >= \(try bind(minConfidence))"]
            if let item { conditions.append("i.catalog_item_id IN (SELECT id FROM catalog_items WHERE site_id = p.site_id AND slug = \(try bind(item)))") }
            if let category { conditions.append("i.category_id IN (SELECT id FROM catalog_categories WHERE site_id = p.site_id AND slug = \(try bind(category)))") }
            return "EXISTS (SELECT 1 FROM interests i WHERE \(conditions.joined(separator: " AND ")))"
        case .intent(let name, let withinDays):
            let window = try withinDays.map { " AND ci.detected_at > now() - \(try bind(Int32($0))) * interval '1 day'" } ?? ""
            return "EXISTS (SELECT 1 FROM chat_intents ci WHERE ci.profile_id = p.id AND ci.intent = \(try bind(name))\(window))"
        case .metric(let name, let op, let value):
            // `name` was checked against a fixed list of column names when the rule was parsed.
            return compare("(SELECT m.\(name)::float8 FROM engagement_metrics m WHERE m.profile_id = p.id)", op, "\(try bind(value))::float8")
        case .pageViews(let pattern, let minViews, let withinDays):
            let window = try withinDays.map { " AND v.viewed_at > now() - \(try bind(Int32($0))) * interval '1 day'" } ?? ""
            // Counting stops at min_views: a visitor with hundreds of page views is not read to the end.
            let needed = try bind(max(minViews, 0))  // a negative minimum means "any", as 0 does
            return "(SELECT count(*) FROM (SELECT FROM page_views v WHERE v.profile_id = p.id AND v.path ~ \(try bind(pattern))\(window) LIMIT \(needed)) v) >= \(needed)"
        case .lastSeenWithinDays(let days):
            return "p.last_seen_at > now() - \(try bind(Int32(days))) * interval '1 day'"
        case .inactiveForDays(let days):
            return "p.last_seen_at <= now() - \(try bind(Int32(days))) * interval '1 day'"
        }
    }
}
