import Foundation
import PostgresNIO
@testable import ProfileAPIApp
import ProfileModel
import Testing

/// The two shapes of `GET /v1/profiles` (`SearchPlan`): whichever is chosen, the pages are the same.
@Suite("Profile search plans")
struct ProfileSearchPlanTests {
    /// 240 profiles of site acme (and 20 of site other) with fields, full text, interests and
    /// segments; created_at repeats every 40 profiles so that the id breaks ties.
    static func seed(_ db: TestDatabase) async throws {
        for statement: PostgresQuery in [
            "INSERT INTO sites (slug, name, write_key) VALUES ('acme', 'Acme', 'wk1'), ('other', 'Other', 'wk2')",
            "INSERT INTO catalog_categories (site_id, slug, name) VALUES (1, 'tools', 'Tools'), (2, 'tools', 'Tools')",
            """
            INSERT INTO catalog_items (site_id, slug, name, category_id)
            VALUES (1, 'drill', 'Drill', 1), (1, 'saw', 'Saw', 1), (2, 'drill', 'Drill', 2)
            """,
            """
            INSERT INTO visitor_profiles (id, site_id, fields, lead_score, engagement_score, stage, created_at, last_seen_at)
            SELECT md5('p' || g)::uuid, CASE WHEN g <= 240 THEN 1 ELSE 2 END,
                   jsonb_build_object('name', (ARRAY['Ann Weber', 'Bob Stone', 'Cat Weber'])[1 + g % 3],
                                      'industry', (ARRAY['software', 'finance', 'media'])[1 + g % 3],
                                      'country', (ARRAY['DE', 'DK', 'FR', 'US'])[1 + (g / 3) % 4]),
                   g % 101, g % 37, (ARRAY['known', 'mql', 'engaged'])[1 + g % 3],
                   timestamptz '2026-01-01' + (g % 40) * interval '1 hour',
                   CASE WHEN g % 5 = 0 THEN NULL ELSE timestamptz '2026-02-01' + (g % 17) * interval '1 day' END
            FROM generate_series(1, 260) g
            """,
            """
            INSERT INTO interests (site_id, profile_id, catalog_item_id, confidence, evidence_count, first_evidence_at, last_evidence_at)
            SELECT p.site_id, p.id, ci.id, (p.lead_score % 10) / 10.0, 1, now(), now()
            FROM visitor_profiles p JOIN catalog_items ci ON ci.site_id = p.site_id AND ci.slug = 'drill' WHERE p.engagement_score % 2 = 0
            """,
            """
            INSERT INTO interests (site_id, profile_id, category_id, confidence, evidence_count, first_evidence_at, last_evidence_at)
            SELECT p.site_id, p.id, 1, 0.9, 1, now(), now() FROM visitor_profiles p WHERE p.site_id = 1 AND p.lead_score % 3 = 0
            """,
            "INSERT INTO segments (site_id, slug, name) VALUES (1, 'hot', 'Hot'), (2, 'hot', 'Hot')",
            """
            INSERT INTO segment_memberships (segment_id, site_id, profile_id, entered_at)
            SELECT p.site_id, p.site_id, p.id, now() FROM visitor_profiles p WHERE p.lead_score % 4 = 1
            """,
            "ANALYZE",
        ] {
            try await db.client.query(statement, logger: TestDatabase.logger)
        }
    }

    static let searches: [[String: String]] = [
        ["site": "acme", "fields.industry": "media", "fields.country": "DK"],
        ["fields.country": "FR"],
        ["site": "acme", "q": "weber"],
        ["q": "stone", "sort": "-last_seen_at"],
        ["site": "acme", "interest": "drill", "min_confidence": "0.4"],
        ["interest": "drill", "sort": "lead_score"],
        ["site": "acme", "category": "tools", "sort": "-engagement_score"],
        ["segment": "hot", "stage": "mql"],
        ["site": "acme", "segment": "hot", "q": "ann", "sort": "last_seen_at"],
        ["interest": "no-such-item"],
    ]

    /// Pages through `query` in every shape at once, inserting a new matching-looking profile
    /// after every page; returns the ids seen (the same in every shape, or the test fails).
    static func pageThrough(_ query: [String: String], _ repository: ProfileRepository, _ db: TestDatabase) async throws -> [String] {
        var filter = try ProfileFilter(query: query.merging(["limit": "7"]) { $1 }, registry: repository.registry)
        let (names, _) = try await repository.plan(filter)
        var seen: [String] = []
        var pages = 0
        while true {
            let walk = try await repository.search(filter, names: names, shape: .walk)
            let topN = try await repository.search(filter, names: names, shape: .topN)
            #expect(walk.documents == topN.documents, "\(query) page \(pages)")
            // The same cursor (its token is JSON whose key order may vary).
            let (walkNext, topNNext) = (walk.next.flatMap(ProfileFilter.Cursor.init(token:)), topN.next.flatMap(ProfileFilter.Cursor.init(token:)))
            #expect(walkNext?.value == topNNext?.value && walkNext?.id == topNNext?.id, "\(query) page \(pages)")
            // A cap of 10 is reached by the longer searches (then walked) and not by the last pages.
            let capped = try await repository.search(filter, names: names, shape: .collectUpTo(10))
            let cappedNext = capped.next.flatMap(ProfileFilter.Cursor.init(token:))
            #expect(walk.documents == capped.documents, "\(query) page \(pages), capped")
            #expect(walkNext?.value == cappedNext?.value && walkNext?.id == cappedNext?.id, "\(query) page \(pages), capped")
            seen += walk.documents.map { document in
                (try? JSONDecoder().decode(JSONValue.self, from: Data(document.utf8)))?.objectValue?["id"]?.stringValue ?? "?"
            }
            pages += 1
            // A new profile arrives between pages (created now, so after every cursor of the default sort).
            try await db.client.query(
                """
                INSERT INTO visitor_profiles (site_id, fields, lead_score, stage, last_seen_at)
                VALUES (1, '{"name": "Ann Weber", "industry": "media", "country": "DK"}', 50, 'mql', now())
                """, logger: TestDatabase.logger)
            guard let next = walk.next, pages < 100 else { break }
            filter.cursor = ProfileFilter.Cursor(token: next)
        }
        return seen
    }

    @Test func both_shapes_return_the_same_pages_under_concurrent_inserts() async throws {
        try await TestDatabase.with { db in
            try await Self.seed(db)
            let repository = ProfileRepository(client: db.client, registry: try FieldRegistry.load(path: RepositoryPaths.profileFields),
                                               logger: TestDatabase.logger)
            for query in Self.searches {
                // What matched before any insert, in order: one page holding everything.
                let all = try ProfileFilter(query: query.merging(["limit": "200"]) { $1 }, registry: repository.registry)
                let expected = try await repository.search(all, names: try await repository.plan(all).0, shape: .walk).documents
                    .compactMap { (try? JSONDecoder().decode(JSONValue.self, from: Data($0.utf8)))?.objectValue?["id"]?.stringValue }
                let seen = try await Self.pageThrough(query, repository, db)
                #expect(Set(seen).count == seen.count, "\(query): a profile came twice")
                if query["sort"] == nil {
                    // Newest first: profiles inserted meanwhile are before the cursor, never on a later page.
                    #expect(seen == expected, "\(query)")
                } else {
                    #expect(Set(expected).isSubset(of: Set(seen)), "\(query): a profile was skipped")
                }
                if query["interest"] == "no-such-item" { #expect(seen.isEmpty) } else { #expect(expected.count >= 3, "\(query) matches too little to test") }
            }
        }
    }

    @Test func the_shape_follows_the_estimated_matches() async throws {
        // Pages of 51 among 1,000,000 profiles: the benchmark's cases (docs/BENCHMARKS.md).
        #expect(SearchPlan.shape(estimatedMatches: 3_200, profiles: 1_000_000, pageSize: 51) == .topN)
        #expect(SearchPlan.shape(estimatedMatches: 1_700, profiles: 1_000_000, pageSize: 51) == .topN)
        #expect(SearchPlan.shape(estimatedMatches: 10_800, profiles: 1_000_000, pageSize: 51) == .walk)
        #expect(SearchPlan.shape(estimatedMatches: 50_000, profiles: 1_000_000, pageSize: 51) == .walk)
        #expect(SearchPlan.shape(estimatedMatches: 0, profiles: 0, pageSize: 51) == .topN)
        #expect(SearchPlan.estimatedRows(explain: #"[{"Plan": {"Node Type": "Limit", "Plan Rows": 1234}}]"#) == 1234)
        #expect(SearchPlan.estimatedRows(explain: "not json") == nil)
        // At the collection cap the shape is a walk, just under it still a collection.
        let cap = SearchPlan.collectionCap(profiles: 1_000_000, pageSize: 51)
        #expect(SearchPlan.shape(estimatedMatches: Double(cap), profiles: 1_000_000, pageSize: 51) == .walk)
        #expect(SearchPlan.shape(estimatedMatches: Double(cap - 100), profiles: 1_000_000, pageSize: 51) == .topN)
        #expect(SearchPlan.collectionCap(profiles: 0, pageSize: 51) == 1_000)

        try await TestDatabase.with { db in
            try await Self.seed(db)
            let repository = ProfileRepository(client: db.client, registry: try FieldRegistry.load(path: RepositoryPaths.profileFields),
                                               logger: TestDatabase.logger)
            func shape(_ query: [String: String]) async throws -> SearchPlan.Shape {
                try await repository.plan(try ProfileFilter(query: query, registry: repository.registry)).1
            }
            // No match or a few in 260: collect them. Two profiles in three: walk. No indexed condition: walk.
            #expect(try await shape(["q": "nobody-is-called-this", "limit": "7"]) == .topN)
            #expect(try await shape(["interest": "saw", "limit": "7"]) == .topN)
            #expect(try await shape(["q": "weber", "limit": "7"]) == .walk)
            #expect(try await shape(["stage": "mql", "limit": "7"]) == .walk)
            // A fields condition is not estimated (the planner's figure is the same for every
            // value): its matches are collected up to the cap, then walked.
            #expect(try await shape(["fields.country": "FR", "limit": "7"]) == .collectUpTo(1_000))
            let names = try await repository.plan(try ProfileFilter(query: ["interest": "drill", "segment": "hot"], registry: repository.registry)).0
            #expect(names.itemIDs == [1, 3] && names.segmentIDs == [1, 2] && names.profiles == 260)
        }
    }
}
