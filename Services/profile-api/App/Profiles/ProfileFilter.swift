import Foundation
import Hummingbird
import PostgresNIO
import Shared

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

    static let stages: Set<String> = ["anonymous", "known", "engaged", "mql", "sql", "customer"]

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

    /// Named query `search_profiles`.
    func query() throws -> PostgresQuery {
        var binds = PostgresBindings()
        var conditions = ["p.merged_into IS NULL"]
        func bind(_ value: some PostgresEncodable & Sendable) throws -> String {
            try binds.append(value, context: .default)
            return "$\(binds.count)"
        }
        if let site { conditions.append("s.slug = \(try bind(site))") }
        if let stage { conditions.append("p.stage = \(try bind(stage))") }
        if let minLeadScore { conditions.append("p.lead_score >= \(try bind(minLeadScore))") }
        if let maxLeadScore { conditions.append("p.lead_score <= \(try bind(maxLeadScore))") }
        if let minEngagementScore { conditions.append("p.engagement_score >= \(try bind(minEngagementScore))") }
        if !fieldEquals.isEmpty {
            // Containment uses the GIN index on fields.
            conditions.append("p.fields @> \(try bind(JSONValue.object(fieldEquals).jsonText))::jsonb")
        }
        if let interest {
            conditions.append("""
                EXISTS (SELECT 1 FROM interests i JOIN catalog_items ci ON ci.id = i.catalog_item_id
                        WHERE i.profile_id = p.id AND NOT i.negated AND ci.slug = \(try bind(interest)) AND i.confidence >= \(try bind(minConfidence)))
                """)
        }
        if let category {
            conditions.append("""
                EXISTS (SELECT 1 FROM interests i JOIN catalog_categories cc ON cc.id = i.category_id
                        WHERE i.profile_id = p.id AND NOT i.negated AND cc.slug = \(try bind(category)) AND i.confidence >= \(try bind(minConfidence)))
                """)
        }
        if let segment {
            conditions.append("""
                EXISTS (SELECT 1 FROM segment_memberships m JOIN segments sg ON sg.id = m.segment_id
                        WHERE m.profile_id = p.id AND m.left_at IS NULL AND sg.slug = \(try bind(segment)))
                """)
        }
        if let seenAfter { conditions.append("p.last_seen_at >= \(try bind(seenAfter))") }
        if let seenBefore { conditions.append("p.last_seen_at < \(try bind(seenBefore))") }
        if let text { conditions.append("profile_search_vector(p.fields) @@ plainto_tsquery('simple', \(try bind(text)))") }
        if let cursor {
            let op = descending ? "<" : ">"
            conditions.append("(\(sortExpression), p.id) \(op) (\(try bind(cursor.value))::\(cursorCast), \(try bind(cursor.id)))")
        }
        let direction = descending ? "DESC" : "ASC"
        let sql = """
            SELECT p.id, (\(sortExpression))::text, \(ProfileDocument.select)
            FROM visitor_profiles p JOIN sites s ON s.id = p.site_id
            WHERE \(conditions.joined(separator: " AND "))
            ORDER BY \(sortExpression) \(direction), p.id \(direction)
            LIMIT \(try bind(limit + 1))
            """
        return PostgresQuery(unsafeSQL: sql, binds: binds)
    }
}
