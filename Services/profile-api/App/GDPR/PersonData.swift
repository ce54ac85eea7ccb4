import Foundation
import Logging
import PostgresNIO

/// Everything that belongs to one person: their profile, the profiles merged into it, and every
/// identity of those profiles. Erasure, anonymisation and access all start from this.
struct PersonData: Sendable {
    let siteID: Int64
    let profileID: UUID
    let profileTree: [UUID]
    let anonymousIDs: [String]
    let userIDs: [String]
    let emails: [String]

    /// Named query `person_of_profile`; nil when the profile does not exist.
    static func load(profile id: UUID, on connection: PostgresConnection, logger: Logger) async throws -> PersonData? {
        let rows = try await connection.query(
            """
            WITH target AS (SELECT coalesce(merged_into, id) AS id FROM visitor_profiles WHERE id = \(id)),
            tree AS (SELECT p.id, p.site_id FROM visitor_profiles p, target t WHERE p.id = t.id OR p.merged_into = t.id)
            SELECT (SELECT id FROM target), (SELECT site_id FROM tree LIMIT 1), (SELECT array_agg(id) FROM tree),
                   coalesce((SELECT array_agg(value) FROM profile_identities WHERE profile_id IN (SELECT id FROM tree) AND kind = 'anonymous_id'), '{}'),
                   coalesce((SELECT array_agg(value) FROM profile_identities WHERE profile_id IN (SELECT id FROM tree) AND kind = 'user_id'), '{}'),
                   coalesce((SELECT array_agg(value) FROM profile_identities WHERE profile_id IN (SELECT id FROM tree) AND kind = 'email'), '{}')
            FROM target
            """, logger: logger)
        for try await (profile, site, tree, anonymous, users, emails) in rows.decode((UUID, Int64, [UUID], [String], [String], [String]).self) {
            return PersonData(siteID: site, profileID: profile, profileTree: tree, anonymousIDs: anonymous, userIDs: users, emails: emails)
        }
        return nil
    }
}
