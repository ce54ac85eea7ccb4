import Foundation
import PostgresNIO
import ProfileModel
import Testing

/// Each domain enum says the same as the schema's CHECK constraint on the columns that store it,
/// so a value added on one side only fails here rather than in production.
@Suite struct DomainValueTests {
    /// The quoted values of the CHECK constraint on `table.column`, as PostgreSQL prints it
    /// (`CHECK ((stage = ANY (ARRAY['anonymous'::text, …])))`), in the schema's order.
    static func allowedValues(_ db: TestDatabase, table: String, column: String) async throws -> [String] {
        let definition = try #require(try await db.scalar(
            """
            SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c
            JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey)
            WHERE c.contype = 'c' AND c.conrelid = \(table)::regclass AND a.attname = \(column)
              AND pg_get_constraintdef(c.oid) LIKE '%ARRAY[%'
            """, as: String.self), "no CHECK constraint listing the values of \(table).\(column)")
        let regex = try NSRegularExpression(pattern: "'([^']*)'::text")
        let range = NSRange(definition.startIndex..., in: definition)
        return regex.matches(in: definition, range: range).map { String(definition[Range($0.range(at: 1), in: definition)!]) }
    }

    @Test func domain_enums_match_the_check_constraints_of_the_schema() async throws {
        try await TestDatabase.with { db in
            let stages = LeadStage.allCases.map(\.rawValue)
            let profileStages = try await Self.allowedValues(db, table: "visitor_profiles", column: "stage")
            let toStages = try await Self.allowedValues(db, table: "stage_transitions", column: "to_stage")
            let fromStages = try await Self.allowedValues(db, table: "stage_transitions", column: "from_stage")
            let identityKinds = try await Self.allowedValues(db, table: "profile_identities", column: "kind")
            let eventTypes = try await Self.allowedValues(db, table: "events", column: "type")
            let changeKinds = try await Self.allowedValues(db, table: "profile_changes", column: "kind")
            let itemKinds = try await Self.allowedValues(db, table: "catalog_items", column: "kind")
            #expect(profileStages == stages)
            #expect(toStages == stages)
            #expect(fromStages == stages)
            #expect(Set(identityKinds) == Set(IdentityKind.allCases.map(\.rawValue)))
            #expect(Set(eventTypes) == Set(EventType.allCases.map(\.rawValue)))
            #expect(Set(changeKinds) == Set(ChangeKind.allCases.map(\.rawValue)))
            #expect(Set(itemKinds) == Set(CatalogItem.Kind.allCases.map(\.rawValue)))
        }
    }

    /// Hand-written: the funnel order the lead-scoring rules and reports rely on.
    @Test func lead_stages_are_ordered_along_the_funnel() {
        #expect(LeadStage.anonymous < .known && LeadStage.known < .engaged && LeadStage.engaged < .mql)
        #expect(LeadStage.mql < .sql && LeadStage.sql < .customer)
        #expect(!(LeadStage.customer < .mql))
    }
}
