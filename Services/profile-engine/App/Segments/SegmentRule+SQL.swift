import PostgresNIO
import ProfileModel

/// The engine evaluates segment rules in PostgreSQL: each rule becomes one predicate.
extension SegmentRule {
    /// The SQL predicate over `p` (visitor_profiles); values go into `binds`.
    func sql(_ binds: inout PostgresBindings) throws -> String {
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
