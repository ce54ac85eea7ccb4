import Foundation
import Logging
import PostgresNIO
import ProfileModel
import ServiceKit

/// The analytics reports (issue #9). Each report is one file extending this type with a named
/// query; heavy figures come from the rollup tables of sql/0005 when the request allows it.
struct Reports: Sendable {
    let client: PostgresClient
    let logger: Logger
    let journeys: JourneyQueries

    init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
        self.journeys = JourneyQueries(client: client, logger: logger)
    }

    /// A request resolved against the database.
    struct Scope: Sendable {
        let request: ReportRequest
        let siteID: Int64
        let segmentID: Int64?
        /// Rollups hold every site's days in their zones, per segment too (sql/0012) for traffic,
        /// pages and interests.
        let rollups: Bool

        /// The source query of a report's figures: the site's rollup, the segment's, or the live
        /// function (zones without rollups).
        func source(rollup: String, segmentRollup: String, live: String) -> String {
            !rollups ? live : segmentID == nil ? rollup : segmentRollup
        }
    }

    /// Named query `report_scope`: the site and segment ids, whether PostgreSQL knows the zone and
    /// whether rollups are kept in it (pg_timezone_names is read only for zones without rollups).
    func resolve(_ request: ReportRequest) async throws -> Scope {
        var binds = PostgresBindings()
        binds.append(request.site, context: .default)
        binds.append(request.timeZone, context: .default)
        binds.append(request.segment, context: .default)
        let rows = try await client.query(PostgresQuery(unsafeSQL: """
            WITH site AS (SELECT id FROM sites WHERE slug = $1),
                 rolled AS (SELECT EXISTS (SELECT 1 FROM analytics_time_zones WHERE time_zone = $2) AS yes)
            SELECT (SELECT id FROM site), \(JourneyQueries.segmentID(site: "(SELECT id FROM site)", slug: "$3::text")),
                   (SELECT yes FROM rolled),
                   CASE WHEN (SELECT yes FROM rolled) THEN true
                        ELSE EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = $2) END
            """, binds: binds), logger: logger)
        for try await (site, segment, rolled, known) in rows.decode((Int64?, Int64?, Bool, Bool).self) {
            guard let site else { throw APIError(.notFound, code: "site_not_found", detail: "no site with slug '\(request.site)'", field: "site") }
            guard known else { throw APIError.badRequest("invalid_parameter", "'tz' is not a time zone PostgreSQL knows", field: "tz") }
            if request.segment != nil, segment == nil {
                throw APIError.badRequest("invalid_parameter", "no segment '\(request.segment ?? "")' for this site", field: "segment")
            }
            return Scope(request: request, siteID: site, segmentID: segment, rollups: rolled)
        }
        throw APIError.unavailable("the database gave no answer; retry later")
    }

    /// The binds every report query starts with: $1 site id, $2 zone, $3 first day, $4 last day
    /// (both local dates, included), $5 interval, $6 segment id.
    func binds(_ scope: Scope) -> PostgresBindings {
        var binds = PostgresBindings()
        binds.append(scope.siteID, context: .default)
        binds.append(scope.request.timeZone, context: .default)
        binds.append(scope.request.from, context: .default)
        binds.append(scope.request.to, context: .default)
        binds.append(scope.request.interval.rawValue, context: .default)
        binds.append(scope.segmentID, context: .default)
        return binds
    }

    /// The first CTE of every report query: it fixes the types of $1...$6 for queries that leave
    /// some of them unused (PostgreSQL must know every parameter's type).
    static let parameters = "report_parameters AS (SELECT $1::bigint, $2::text, $3::date, $4::date, $5::text, $6::bigint)"

    /// Runs a query whose one row and column is JSON text.
    func json(_ sql: String, _ binds: PostgresBindings) async throws -> JSONValue {
        let rows = try await client.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger)
        for try await text in rows.decode(String?.self) {
            return JSONValue(databaseText: text)
        }
        return .null
    }

    /// Report-specific integer options, validated like the journeys endpoints do.
    func option(_ scope: Scope, _ name: String, default value: Int, _ range: ClosedRange<Int>) throws -> Int {
        try JourneysController.int(scope.request.query, name, default: value, range)
    }

    /// SQL fragment: the profile (column `column`) is a current member of segment $6, or no segment is asked.
    static func inSegment(_ column: String) -> String {
        """
        ($6::bigint IS NULL OR EXISTS (SELECT 1 FROM segment_memberships m
                                       WHERE m.segment_id = $6::bigint AND m.profile_id = \(column) AND m.left_at IS NULL))
        """
    }

    /// SQL fragment: the instant `column` lies in the local days $3..$4 of zone $2.
    static func inRange(_ column: String) -> String {
        "\(column) >= ($3::date::timestamp AT TIME ZONE $2::text) AND \(column) < (($4::date + 1)::timestamp AT TIME ZONE $2::text)"
    }
}
