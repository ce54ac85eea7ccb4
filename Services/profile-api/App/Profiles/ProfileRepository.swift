import Foundation
import Logging
import PostgresNIO
import ProfileModel
import ServiceKit

/// Reads profiles for the API (writes are `ProfileCommands` the engine carries out). Every read resolves merges: a merged profile's id
/// answers with the profile it was merged into.
struct ProfileRepository: Sendable {
    let client: PostgresClient
    let registry: FieldRegistry
    let logger: Logger

    struct Found: Sendable {
        let id: UUID
        let version: Int64
        let document: String
    }

    /// Named query `get_profile`, a prepared statement: the API's hottest read. Parsing and planning
    /// its subqueries cost PostgreSQL more than running them (0.37 ms planning, 0.25 ms execution);
    /// prepared once per connection, the plan is reused.
    struct GetProfile: PostgresPreparedStatement {
        static let sql = """
            SELECT p.id, p.version, \(ProfileDocument.select)
            FROM visitor_profiles p JOIN sites s ON s.id = p.site_id
            WHERE p.id = (SELECT coalesce(merged_into, id) FROM visitor_profiles WHERE id = $1)
            """
        typealias Row = (UUID, Int64, String)
        let id: UUID

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings()
            bindings.append(id)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
    }

    func get(_ id: UUID) async throws -> Found? {
        for try await (id, version, document) in try await client.execute(GetProfile(id: id), logger: logger) {
            return Found(id: id, version: version, document: document)
        }
        return nil
    }

    /// Named query `lookup_profile_by_identity`, prepared (see `GetProfile`).
    struct LookupProfile: PostgresPreparedStatement {
        static let sql = """
            SELECT i.profile_id FROM profile_identities i JOIN sites s ON s.id = i.site_id
            WHERE s.slug = $1 AND i.kind = $2 AND i.value = $3
            """
        typealias Row = UUID
        let site: String
        let kind: String
        let value: String

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings()
            bindings.append(site)
            bindings.append(kind)
            bindings.append(value)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(UUID.self) }
    }

    func lookup(site: String, kind: String, value: String) async throws -> UUID? {
        for try await id in try await client.execute(LookupProfile(site: site, kind: kind, value: value), logger: logger) { return id }
        return nil
    }

    func search(_ filter: ProfileFilter) async throws -> (documents: [String], next: String?) {
        let (names, shape) = try await plan(filter)
        return try await search(filter, names: names, shape: shape)
    }

    /// The resolved slugs and the shape of the search (see `SearchPlan`): two short statements
    /// before it, only for searches with an indexed condition.
    func plan(_ filter: ProfileFilter) async throws -> (SearchPlan.Names, SearchPlan.Shape) {
        guard filter.hasIndexedConditions else { return (SearchPlan.Names(), .walk) }
        var names = SearchPlan.Names()
        for try await (items, categories, segments, profiles) in try await client.query(filter.namesQuery(), logger: logger)
            .decode(([Int64], [Int64], [Int64], Double?).self) {
            names = SearchPlan.Names(itemIDs: items, categoryIDs: categories, segmentIDs: segments, profiles: profiles ?? 0)
        }
        if !filter.fieldEquals.isEmpty {
            // PostgreSQL keeps no statistics inside JSONB documents: its estimate for `fields @>`
            // is the same fraction of the table whatever the values, so the search collects the
            // matches up to the count from which walking is cheaper, and walks if there are more.
            return (names, .collectUpTo(SearchPlan.collectionCap(profiles: names.profiles, pageSize: filter.limit + 1)))
        }
        var estimate: Double?
        for try await json in try await client.query(try filter.estimateQuery(names), logger: logger).decode(String.self) {
            estimate = SearchPlan.estimatedRows(explain: json)
        }
        guard let estimate else { return (names, .walk) }
        return (names, SearchPlan.shape(estimatedMatches: estimate, profiles: names.profiles, pageSize: filter.limit + 1))
    }

    /// Named query `search_profiles` in the given shape (tests run both on the same data).
    func search(_ filter: ProfileFilter, names: SearchPlan.Names, shape: SearchPlan.Shape) async throws -> (documents: [String], next: String?) {
        let rows = try await client.query(try filter.query(names, shape: shape), logger: logger)
        var page: [(UUID, String, String)] = []
        var collected = 0
        for try await (id, sortKey, document, count) in rows.decode((UUID, String, String, Int).self) {
            page.append((id, sortKey, document))
            collected = count
        }
        if case .collectUpTo(let cap) = shape, collected >= cap {
            return try await search(filter, names: names, shape: .walk)
        }
        var next: String?
        if page.count > filter.limit {
            page.removeLast()
            if let last = page.last { next = ProfileFilter.Cursor(value: last.1, id: last.0).token }
        }
        return (page.map(\.2), next)
    }

    /// Validates every field first, so a request with one bad value changes nothing.
    func validate(_ fields: [String: JSONValue]) throws -> [String: JSONValue?] {
        var normalized: [String: JSONValue?] = [:]
        for (name, value) in fields {
            guard let definition = registry[name] else {
                throw APIError(.unprocessableContent, code: "unknown_field", detail: "'\(name.prefix(60))' is not a profile field (see profile_fields.yaml)", field: "fields.\(name)")
            }
            if value.isNull { normalized[name] = .some(nil); continue }
            switch definition.normalize(value) {
            case .success(let clean): normalized[name] = clean
            case .failure(let error):
                let detail = error.message.hasPrefix("\(name):") ? error.message : "\(name): \(error.message)"
                throw APIError(.unprocessableContent, code: "invalid_field_value", detail: detail, field: "fields.\(name)")
            }
        }
        return normalized
    }

    /// Named query `profile_write_target`: the profile a write to `id` applies to (a merged
    /// profile's survivor), with its site and version.
    func writeTarget(_ id: UUID) async throws -> (profile: UUID, site: Int64, version: Int64)? {
        let rows = try await client.query(
            "SELECT id, site_id, version FROM visitor_profiles WHERE id = (SELECT coalesce(merged_into, id) FROM visitor_profiles WHERE id = \(id))",
            logger: logger)
        for try await (profile, site, version) in rows.decode((UUID, Int64, Int64).self) { return (profile, site, version) }
        return nil
    }

    /// Named query `site_by_slug`.
    func siteID(slug: String) async throws -> Int64? {
        for try await id in try await client.query("SELECT id FROM sites WHERE slug = \(slug)", logger: logger).decode(Int64.self) { return id }
        return nil
    }

    /// Named query `profile_timeline`: the profile's events (by any of its identities), sessions and changes.
    func timeline(_ id: UUID, limit: Int) async throws -> String? {
        let rows = try await client.query(
            """
            WITH target AS (SELECT coalesce(merged_into, id) AS id FROM visitor_profiles WHERE id = \(id)),
            tree AS (SELECT p.id, p.site_id FROM visitor_profiles p, target t WHERE p.id = t.id OR p.merged_into = t.id),
            ids AS (SELECT i.kind, i.value, i.site_id FROM profile_identities i JOIN tree ON tree.id = i.profile_id)
            SELECT jsonb_build_object(
                'profile_id', (SELECT id FROM target),
                'events', coalesce((SELECT jsonb_agg(e ORDER BY e.occurred_at DESC) FROM (
                    SELECT ev.id, ev.type, ev.event, ev.name, ev.properties, ev.occurred_at, ev.received_at
                    FROM events ev
                    WHERE ev.site_id = (SELECT site_id FROM tree LIMIT 1)
                      AND (ev.anonymous_id IN (SELECT value FROM ids WHERE kind = 'anonymous_id')
                           OR ev.user_id IN (SELECT value FROM ids WHERE kind = 'user_id'))
                    ORDER BY ev.occurred_at DESC LIMIT \(limit)) e), '[]'::jsonb),
                'sessions', coalesce((SELECT jsonb_agg(x ORDER BY x.started_at DESC) FROM (
                    SELECT s.id, s.started_at, s.last_activity_at, s.entry_url, s.exit_url, s.page_count, s.utm_campaign
                    FROM sessions s WHERE s.profile_id = (SELECT id FROM target) ORDER BY s.started_at DESC LIMIT \(limit)) x), '[]'::jsonb),
                'changes', coalesce((SELECT jsonb_agg(c ORDER BY c.id DESC) FROM (
                    SELECT id, kind, changes, created_at FROM profile_changes WHERE profile_id = (SELECT id FROM target)
                    ORDER BY id DESC LIMIT \(limit)) c), '[]'::jsonb)
            )::text
            FROM target
            """, logger: logger)
        for try await document in rows.decode(String.self) { return document }
        return nil
    }
}
