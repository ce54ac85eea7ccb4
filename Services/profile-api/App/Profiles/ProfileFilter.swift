import Foundation
import Hummingbird
import PostgresNIO
import ProfileModel
import ServiceKit

/// The filters, sort and page of `GET /v1/profiles`, parsed from the query string and turned
/// into a WHERE clause whose every value is a bound parameter.
struct ProfileFilter: Sendable {
    enum Sort: String, CaseIterable, Sendable {
        case createdAt = "created_at", lastSeenAt = "last_seen_at", leadScore = "lead_score", engagementScore = "engagement_score"
    }

    var site: String?
    var stage: String?
    var minLeadScore: Int?
    var maxLeadScore: Int?
    var minEngagementScore: Int?
    var fieldEquals: [String: JSONValue] = [:]
    var interest: String?
    var category: String?
    var minConfidence: Double = 0
    var segment: String?
    var seenAfter: Date?
    var seenBefore: Date?
    var text: String?
    var sort: Sort = .createdAt
    var descending = true
    var limit = 50
    var cursor: Cursor?

    /// Keyset position: the sort value and id of the last row of the previous page, opaque to clients.
    struct Cursor: Codable, Sendable {
        let value: String
        let id: UUID

        var token: String { (try? JSONEncoder().encode(self).base64EncodedString()) ?? "" }

        init(value: String, id: UUID) {
            self.value = value
            self.id = id
        }

        init?(token: String) {
            guard let data = Data(base64Encoded: token), let cursor = try? JSONDecoder().decode(Cursor.self, from: data) else { return nil }
            self = cursor
        }
    }

    static let stages = Set(LeadStage.names)

    init(query: [String: String], registry: FieldRegistry) throws {
        func int(_ name: String, _ range: ClosedRange<Int>) throws -> Int? {
            guard let text = query[name] else { return nil }
            guard let value = Int(text), range.contains(value) else {
                throw APIError.badRequest("invalid_parameter", "'\(name)' must be an integer in \(range.lowerBound)...\(range.upperBound)", field: name)
            }
            return value
        }
        func date(_ name: String) throws -> Date? {
            guard let text = query[name] else { return nil }
            guard let value = try? Date(text, strategy: .iso8601) else {
                throw APIError.badRequest("invalid_parameter", "'\(name)' must be an ISO-8601 timestamp", field: name)
            }
            return value
        }
        for name in query.keys {
            guard Self.knownParameters.contains(name) || name.hasPrefix("fields.") else {
                throw APIError.badRequest("unknown_parameter", "unknown query parameter '\(name.prefix(60))'", field: name)
            }
        }
        site = query["site"]
        if let stage = query["stage"] {
            guard Self.stages.contains(stage) else {
                throw APIError.badRequest("invalid_parameter", "'stage' must be one of \(Self.stages.sorted().joined(separator: ", "))", field: "stage")
            }
            self.stage = stage
        }
        minLeadScore = try int("min_lead_score", 0...100)
        maxLeadScore = try int("max_lead_score", 0...100)
        minEngagementScore = try int("min_engagement_score", 0...100)
        for (name, raw) in query where name.hasPrefix("fields.") {
            let field = String(name.dropFirst("fields.".count))
            guard let definition = registry[field] else {
                throw APIError.badRequest("unknown_field", "'\(field.prefix(60))' is not a profile field (see profile_fields.yaml)", field: name)
            }
            // Compare with the stored, normalised form: "ANN@x.com" finds "ann@x.com".
            switch definition.normalize(.string(raw)) {
            case .success(let value): fieldEquals[field] = value
            case .failure: fieldEquals[field] = Double(raw).map(JSONValue.number) ?? .string(raw)
            }
        }
        interest = query["interest"]
        category = query["category"]
        if let text = query["min_confidence"] {
            guard let value = Double(text), (0...1).contains(value) else {
                throw APIError.badRequest("invalid_parameter", "'min_confidence' must be a number in 0...1", field: "min_confidence")
            }
            minConfidence = value
        }
        segment = query["segment"]
        seenAfter = try date("seen_after")
        seenBefore = try date("seen_before")
        text = query["q"].flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : String($0.prefix(200)) }
        if let sortText = query["sort"] {
            let name = sortText.hasPrefix("-") ? String(sortText.dropFirst()) : sortText
            guard let sort = Sort(rawValue: name) else {
                throw APIError.badRequest("invalid_parameter", "'sort' must be one of \(Sort.allCases.map(\.rawValue).joined(separator: ", ")) (prefix - for descending)", field: "sort")
            }
            self.sort = sort
            descending = sortText.hasPrefix("-")
        }
        limit = try int("limit", 1...200) ?? 50
        if let token = query["cursor"] {
            guard let cursor = Cursor(token: token) else { throw APIError.badRequest("invalid_parameter", "'cursor' is not a cursor from a previous page", field: "cursor") }
            self.cursor = cursor
        }
    }

    static let knownParameters: Set<String> = [
        "site", "stage", "min_lead_score", "max_lead_score", "min_engagement_score", "interest", "category", "min_confidence",
        "segment", "seen_after", "seen_before", "q", "sort", "limit", "cursor",
    ]

    /// The sort column as text for the cursor, in a form that sorts like the column itself.
    var sortExpression: String {
        switch sort {
        case .createdAt: return "p.created_at"
        case .lastSeenAt: return "coalesce(p.last_seen_at, 'epoch'::timestamptz)"
        case .leadScore: return "p.lead_score"
        case .engagementScore: return "p.engagement_score"
        }
    }

    var cursorCast: String { sort == .createdAt || sort == .lastSeenAt ? "timestamptz" : "int" }

    /// Whether a condition narrows the matches through its own index (GIN on fields or on the
    /// search vector, the interest and segment indexes) rather than along the sort order: only
    /// then is there a plan shape to choose (`SearchPlan`).
    var hasIndexedConditions: Bool { !fieldEquals.isEmpty || text != nil || interest != nil || category != nil || segment != nil }

    /// Named query `resolve_search_names`: the ids of the interest, category and segment slugs
    /// (every site's, as the joins on slugs matched before), and the planner's count of profiles.
    /// Bound as values, the ids let the planner use their statistics (how many profiles hold
    /// that item) instead of an average over all items.
    func namesQuery() -> PostgresQuery {
        """
        SELECT ARRAY(SELECT id FROM catalog_items WHERE slug = \(interest) ORDER BY id),
               ARRAY(SELECT id FROM catalog_categories WHERE slug = \(category) ORDER BY id),
               ARRAY(SELECT id FROM segments WHERE slug = \(segment) ORDER BY id),
               (SELECT greatest(reltuples, 0)::float8 FROM pg_class WHERE oid = 'visitor_profiles'::regclass)
        """
    }

    /// Named query `estimate_profile_matches`: the planner's estimate of how many live profiles
    /// match every condition (EXPLAIN only plans; nothing is read).
    func estimateQuery(_ names: SearchPlan.Names) throws -> PostgresQuery {
        var sql = SQLBuilder()
        let conditions = try conditions(names, &sql, cursor: false)
        return sql.query("""
            EXPLAIN (FORMAT JSON) SELECT 1 FROM visitor_profiles p JOIN sites s ON s.id = p.site_id
            WHERE \(conditions.joined(separator: " AND "))
            """)
    }

    /// Named query `search_profiles`, in one of three shapes (see `SearchPlan`): `.walk` reads the
    /// sort index from the cursor on and tests each profile until a page is full; `.topN` first
    /// collects every match through the conditions' own indexes (the `OFFSET 0` subquery is
    /// planned on its own, for all its rows), then sorts them for the page; `.collectUpTo(n)`
    /// collects at most n. Every row also carries how many matches were collected (0 for a walk):
    /// a capped collection that reached its cap may have left matches out, and must be walked.
    func query(_ names: SearchPlan.Names = .init(), shape: SearchPlan.Shape = .walk) throws -> PostgresQuery {
        var sql = SQLBuilder()
        let conditions = try conditions(names, &sql, cursor: true).joined(separator: " AND ")
        let direction = descending ? "DESC" : "ASC"
        let limit = try sql.bind(limit + 1)
        switch shape {
        case .walk:
            return sql.query("""
                SELECT p.id, (\(sortExpression))::text, \(ProfileDocument.select), 0::bigint
                FROM visitor_profiles p JOIN sites s ON s.id = p.site_id
                WHERE \(conditions)
                ORDER BY \(sortExpression) \(direction), p.id \(direction)
                LIMIT \(limit)
                """)
        case .topN, .collectUpTo:
            var cap = "OFFSET 0"
            if case .collectUpTo(let n) = shape { cap = "LIMIT \(try sql.bind(n))" }
            return sql.query("""
                SELECT p.id, page.sort_key::text, \(ProfileDocument.select), page.collected
                FROM (SELECT m.id, m.sort_key, count(*) OVER () AS collected FROM (
                          SELECT p.id, \(sortExpression) AS sort_key
                          FROM visitor_profiles p JOIN sites s ON s.id = p.site_id
                          WHERE \(conditions)
                          \(cap)) m
                      ORDER BY m.sort_key \(direction), m.id \(direction)
                      LIMIT \(limit)) page
                JOIN visitor_profiles p ON p.id = page.id JOIN sites s ON s.id = p.site_id
                ORDER BY page.sort_key \(direction), page.id \(direction)
                """)
        }
    }

    /// The WHERE conditions over alias `p` (visitor_profiles) and `s` (sites), every value bound.
    private func conditions(_ names: SearchPlan.Names, _ sql: inout SQLBuilder, cursor withCursor: Bool) throws -> [String] {
        var conditions = ["p.merged_into IS NULL"]
        if let site { conditions.append("s.slug = \(try sql.bind(site))") }
        if let stage { conditions.append("p.stage = \(try sql.bind(stage))") }
        if let minLeadScore { conditions.append("p.lead_score >= \(try sql.bind(minLeadScore))") }
        if let maxLeadScore { conditions.append("p.lead_score <= \(try sql.bind(maxLeadScore))") }
        if let minEngagementScore { conditions.append("p.engagement_score >= \(try sql.bind(minEngagementScore))") }
        if !fieldEquals.isEmpty {
            // Containment uses the GIN index on fields.
            conditions.append("p.fields @> \(try sql.bind(JSONValue.object(fieldEquals).jsonText))::jsonb")
        }
        if interest != nil {
            conditions.append("""
                EXISTS (SELECT 1 FROM interests i
                        WHERE i.profile_id = p.id AND NOT i.negated AND i.catalog_item_id = ANY(\(try sql.bind(names.itemIDs)))
                          AND i.confidence >= \(try sql.bind(minConfidence)))
                """)
        }
        if category != nil {
            conditions.append("""
                EXISTS (SELECT 1 FROM interests i
                        WHERE i.profile_id = p.id AND NOT i.negated AND i.category_id = ANY(\(try sql.bind(names.categoryIDs)))
                          AND i.confidence >= \(try sql.bind(minConfidence)))
                """)
        }
        if segment != nil {
            conditions.append("""
                EXISTS (SELECT 1 FROM segment_memberships m
                        WHERE m.profile_id = p.id AND m.left_at IS NULL AND m.segment_id = ANY(\(try sql.bind(names.segmentIDs))))
                """)
        }
        if let seenAfter { conditions.append("p.last_seen_at >= \(try sql.bind(seenAfter))") }
        if let seenBefore { conditions.append("p.last_seen_at < \(try sql.bind(seenBefore))") }
        // The stored search_vector (0008) holds profile_search_vector(fields): the same matches,
        // without recomputing the vector for every profile a walk tests.
        if let text { conditions.append("p.search_vector @@ plainto_tsquery('simple', \(try sql.bind(text)))") }
        if withCursor, let cursor {
            let op = descending ? "<" : ">"
            conditions.append("(\(sortExpression), p.id) \(op) (\(try sql.bind(cursor.value))::\(cursorCast), \(try sql.bind(cursor.id)))")
        }
        return conditions
    }

    /// Collects bound parameters while SQL text is assembled; the text only ever holds `$n`.
    private struct SQLBuilder {
        var binds = PostgresBindings()

        mutating func bind(_ value: some PostgresEncodable & Sendable) throws -> String {
            try binds.append(value, context: .default)
            return "$\(binds.count)"
        }

        func query(_ sql: String) -> PostgresQuery { PostgresQuery(unsafeSQL: sql, binds: binds) }
    }
}
