import Foundation
import ProfileModel

/// Journeys and funnel drop-offs over the report's local days, computed by the `/v1/journeys`
/// queries (JourneyQueries, from the journey rollups when the days are those of a rollup zone).
/// Rows are the funnel steps when `steps` lists pages, otherwise each page's drop-off (exit
/// rate); paths, entry and exit pages are in the details.
extension Reports {
    static let funnelColumns = ["step", "sessions", "conversion_from_previous", "conversion_from_start", "median_seconds_from_previous"]
    static let dropOffColumns = ["path", "views", "exits", "exit_rate"]

    func journeys(_ scope: Scope) async throws -> ReportTable {
        let request = scope.request
        let range = JourneyQueries.Scope(siteID: scope.siteID, segmentID: scope.segmentID,
                                         from: request.instant(startOf: request.from), to: request.instant(startOf: request.end))
        let limit = try option(scope, "limit", default: 20, 1...200)
        var table: ReportTable
        let result: [String: JSONValue]
        if let list = request.query["steps"] {
            let steps = try JourneysController.steps(list)
            result = try await journeys.funnel(range, steps: steps)
            table = ReportTable("journeys", columns: Self.funnelColumns, rows: result["steps"] ?? [])
            table.details = ["steps": .array(steps.map(JSONValue.string))]
        } else {
            result = try await journeys.journeys(range, length: try option(scope, "length", default: 3, 1...10), limit: limit)
            table = ReportTable("journeys", columns: Self.dropOffColumns, rows: result["drop_offs"] ?? [])
            table.details = [
                "entry_pages": result["entry_pages"] ?? [], "exit_pages": result["exit_pages"] ?? [], "paths": result["paths"] ?? [],
                "paths_estimated": result["paths_estimated"] ?? false, "paths_max_undercount": result["paths_max_undercount"] ?? 0,
            ]
        }
        table.source = result["source"]?.stringValue ?? "live"
        return table
    }
}
