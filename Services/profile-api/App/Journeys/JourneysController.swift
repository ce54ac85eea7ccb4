import Foundation
import Hummingbird
import ServiceKit

/// `/v1/journeys` and `/v1/funnels`: navigation analysis for the `reports` scope.
struct JourneysController: Sendable {
    let auth: Authenticator
    let queries: JourneyQueries

    func addRoutes(to router: Router<ServiceRequestContext>) {
        router.get("/v1/journeys") { request, context in
            _ = try await auth.require(.reports, request, logger: context.logger)
            let query = ProfilesController.query(request)
            let length = try Self.int(query, "length", default: 3, 1...10)
            let limit = try Self.int(query, "limit", default: 20, 1...200)
            let scope = try await scope(query)
            return JSONResponse.make(.object(try await queries.journeys(scope, length: length, limit: limit)))
        }
        router.get("/v1/funnels") { request, context in
            _ = try await auth.require(.reports, request, logger: context.logger)
            let query = ProfilesController.query(request)
            let steps = try Self.steps(query["steps"] ?? "")
            let scope = try await scope(query)
            return JSONResponse.make(.object(try await queries.funnel(scope, steps: steps)))
        }
    }

    /// The funnel steps of a comma-separated list: 2 to 10 page paths without control characters.
    static func steps(_ list: String) throws -> [String] {
        let steps = list.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard (2...10).contains(steps.count), steps.allSatisfy({ $0.count <= 2000 && !$0.contains(where: \.isControl) }) else {
            throw APIError.badRequest("invalid_parameter", "'steps' must list 2 to 10 page paths, comma-separated", field: "steps")
        }
        return steps
    }

    func scope(_ query: [String: String]) async throws -> JourneyQueries.Scope {
        guard let site = query["site"] else { throw APIError.badRequest("missing_parameter", "'site' is required", field: "site") }
        func date(_ name: String, _ fallback: Date) throws -> Date {
            guard let text = query[name] else { return fallback }
            if let value = try? Date(text, strategy: .iso8601) { return value }
            if let value = try? Date(text + "T00:00:00Z", strategy: .iso8601) { return value }
            throw APIError.badRequest("invalid_parameter", "'\(name)' must be an ISO-8601 date or timestamp", field: name)
        }
        let to = try date("to", Date())
        let from = try date("from", to.addingTimeInterval(-30 * 86_400))
        guard from < to else { throw APIError.badRequest("invalid_parameter", "'from' must be before 'to'", field: "from") }
        return try await queries.resolve(site: site, segment: query["segment"], from: from, to: to)
    }

    static func int(_ query: [String: String], _ name: String, default value: Int, _ range: ClosedRange<Int>) throws -> Int {
        guard let text = query[name] else { return value }
        guard let number = Int(text), range.contains(number) else {
            throw APIError.badRequest("invalid_parameter", "'\(name)' must be an integer in \(range.lowerBound)...\(range.upperBound)", field: name)
        }
        return number
    }
}
