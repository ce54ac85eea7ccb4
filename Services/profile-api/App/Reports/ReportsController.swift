import Foundation
import Hummingbird
import ServiceKit

/// `/v1/reports/{name}`: the analytics reports for the `reports` scope, as JSON or CSV
/// (`format=csv` or `Accept: text/csv`).
struct ReportsController: Sendable {
    let auth: Authenticator
    let reports: Reports

    /// Report names in the order the OpenAPI document and README list them.
    static let names = ["summary", "traffic", "pages", "journeys", "interests", "pipeline", "segments", "personalization"]

    func addRoutes(to router: Router<ServiceRequestContext>) {
        router.get("/v1/reports/:name") { request, context in
            _ = try await auth.require(.reports, request, logger: context.logger)
            let name = context.parameters.get("name") ?? ""
            guard Self.names.contains(name) else {
                throw APIError(.notFound, code: "report_not_found", detail: "no report '\(name)'; reports: \(Self.names.joined(separator: ", "))")
            }
            let report = try ReportRequest(query: ProfilesController.query(request), accept: request.headers[.accept])
            return try await reports.run(name, report).response(report)
        }
    }
}

extension Reports {
    /// Runs the report called `name` (one of ReportsController.names).
    func run(_ name: String, _ request: ReportRequest) async throws -> ReportTable {
        let scope = try await resolve(request)
        switch name {
        case "summary": return try await summary(scope)
        case "traffic": return try await traffic(scope)
        case "pages": return try await pages(scope)
        case "journeys": return try await journeys(scope)
        case "interests": return try await interests(scope)
        case "pipeline": return try await pipeline(scope)
        case "segments": return try await segmentSizes(scope)
        default: return try await personalizationROI(scope)
        }
    }
}
