import Foundation
import Shared

/// Journeys and funnel drop-offs over the report's local days, computed by the `/v1/journeys`
/// queries (JourneyQueries). Rows are the funnel steps when `steps` lists pages, otherwise each
/// page's drop-off (exit rate); paths, entry and exit pages are in the details.
extension Reports {
    static let funnelColumns = ["step", "sessions", "conversion_from_previous", "conversion_from_start", "median_seconds_from_previous"]
    static let dropOffColumns = ["path", "views", "exits", "exit_rate"]

    func journeys(_ scope: Scope) async throws -> ReportTable {
        let request = scope.request
        let range = JourneyQueries.Scope(site: request.site, from: request.instant(startOf: request.from),
                                         to: request.instant(startOf: request.end), segment: request.segment)
        let limit = try option(scope, "limit", default: 20, 1...200)
        if let list = request.query["steps"] {
            let steps = list.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            guard (2...10).contains(steps.count), steps.allSatisfy({ $0.count <= 2000 && !$0.contains(where: \.isControl) }) else {
                throw APIError.badRequest("invalid_parameter", "'steps' must list 2 to 10 page paths, comma-separated", field: "steps")
            }
            var table = ReportTable("journeys", columns: Self.funnelColumns, rows: try await journeys.funnel(range, steps: steps))
            table.details = ["steps": .array(steps.map(JSONValue.string))]
            return table
        }
        let pages = try await journeys.entriesAndExits(range, limit: limit).objectValue ?? [:]
        var table = ReportTable("journeys", columns: Self.dropOffColumns, rows: pages["drop_offs"] ?? [])
        table.details = [
            "entry_pages": pages["entry_pages"] ?? [], "exit_pages": pages["exit_pages"] ?? [],
            "paths": try await journeys.paths(range, length: try option(scope, "length", default: 3, 1...10), limit: limit),
        ]
        return table
    }
}
