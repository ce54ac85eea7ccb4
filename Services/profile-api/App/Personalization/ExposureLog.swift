import Foundation
import Logging
import PostgresNIO

/// Records that a profile was served personalization (sql/0005 `personalization_exposures`),
/// in or out of the holdout group, so the ROI report can compare the two groups' conversion.
struct ExposureLog: Sendable {
    let client: PostgresClient

    /// Named query `record_exposure`: the first serving fixes the group and the start of observation.
    func record(profile: UUID, holdout: Bool, itemsShown: Int, logger: Logger) async throws {
        try await client.query(
            """
            INSERT INTO personalization_exposures (profile_id, site_id, holdout, items_shown)
            SELECT id, site_id, \(holdout), \(itemsShown) FROM visitor_profiles WHERE id = \(profile)
            ON CONFLICT (profile_id) DO UPDATE
               SET last_served_at = greatest(personalization_exposures.last_served_at, now()),
                   served_count = personalization_exposures.served_count + 1,
                   items_shown = personalization_exposures.items_shown + excluded.items_shown
            """, logger: logger)
    }
}
