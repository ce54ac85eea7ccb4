import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import OutboundHTTP
import ProfileModel
import ServiceKit

/// `/v1/exports`: streaming exports of a filtered set of profiles, and export jobs (one-off or
/// cron-scheduled, written to EXPORT_DIRECTORY or POSTed to a URL) with progress and history.
struct ExportsController: Sendable {
    let auth: Authenticator
    let exporter: ProfileExporter
    let jobs: ExportJobStore
    let catalog: CRMMappingCatalog
    /// Where a job's `destination` may point (SSRF protection).
    let outbound: OutboundPolicy

    func addRoutes(to router: Router<ServiceRequestContext>) {
        router.get("/v1/exports/profiles") { request, context in
            let key = try await auth.require(.profilesExport, request, logger: context.logger)
            let export = try ExportRequest(parameters: ProfilesController.query(request), catalog: catalog, registry: exporter.profiles.registry)
            try await jobs.client.withConnection { connection in
                try await AuditLog.record("export.stream", target: export.format.rawValue, key: key, requestID: context.requestID,
                                          details: ["query": .string(request.uri.query ?? "")], on: connection, logger: context.logger)
            }
            let logger = context.logger
            let body = ResponseBody { writer in
                do {
                    try await exporter.export(export, write: { try await writer.write($0) })
                    try await writer.finish(nil)
                } catch {
                    // The status is already sent: end the stream early; the client sees a truncated body.
                    logger.databaseFailure(.warning, "export stream failed", error: error)
                    throw error
                }
            }
            let stamp = Date().formatted(Date.ISO8601FormatStyle().year().month().day())
            return Response(status: .ok, headers: [
                .contentType: export.format.contentType,
                .contentDisposition: "attachment; filename=\"profiles-\(stamp).\(export.format.fileExtension)\"",
                .cacheControl: "no-store",
            ], body: body)
        }
        router.post("/v1/exports/jobs") { request, context in
            let key = try await auth.require(.profilesExport, request, logger: context.logger)
            let job = try newJob(try await ProfilesController.body(request, context: context))
            if let destination = job.destination { try await outbound.validate(destination, field: "destination") }
            let document = try await jobs.create(job, key: key, requestID: context.requestID)
            var response = Self.json(document, status: .created)
            if let id = JSONValue(databaseText: document)["id"]?.intValue {
                response.headers[.location] = "/v1/exports/jobs/\(id)"
            }
            return response
        }
        router.get("/v1/exports/jobs") { request, context in
            _ = try await auth.require(.profilesExport, request, logger: context.logger)
            return Self.json("{\"data\":" + (try await jobs.list()) + "}")
        }
        router.get("/v1/exports/jobs/:id") { request, context in
            _ = try await auth.require(.profilesExport, request, logger: context.logger)
            guard let document = try await jobs.get(try Self.jobID(context)) else { throw Self.notFound }
            return Self.json(document)
        }
        router.delete("/v1/exports/jobs/:id") { request, context in
            let key = try await auth.require(.profilesExport, request, logger: context.logger)
            guard try await jobs.delete(try Self.jobID(context), key: key, requestID: context.requestID) else { throw Self.notFound }
            return Response(status: .noContent)
        }
    }

    /// Validates a job body completely (by building the export it describes) before storing it.
    func newJob(_ body: [String: JSONValue]) throws -> ExportJobStore.NewJob {
        func strings(_ name: String) throws -> [String: String] {
            guard let value = body[name], !value.isNull else { return [:] }
            guard let object = value.objectValue, object.count <= 100 else {
                throw APIError(.unprocessableContent, code: "wrong_type", detail: "'\(name)' must be an object of at most 100 members", field: name)
            }
            var result: [String: String] = [:]
            for (member, item) in object {
                switch item {
                case .string, .number, .bool: result[member] = CRMMapping.ValueFormat.plain(item)
                default: throw APIError(.unprocessableContent, code: "wrong_type", detail: "'\(name).\(member.prefix(60))' must be a string, number or boolean", field: "\(name).\(member.prefix(60))")
                }
            }
            return result
        }
        func text(_ name: String) throws -> String? {
            guard let value = body[name], !value.isNull else { return nil }
            guard let string = value.stringValue, (1...2000).contains(string.count) else {
                throw APIError(.unprocessableContent, code: "wrong_type", detail: "'\(name)' must be a non-empty string", field: name)
            }
            return string
        }
        let filter = try strings("filter")
        let fieldMapping = try strings("field_mapping")
        var parameters = filter
        parameters["format"] = try text("format") ?? "csv"
        parameters["mapping"] = try text("mapping")
        let export: ExportRequest
        do {
            export = try ExportRequest(parameters: parameters, overrides: fieldMapping, catalog: catalog, registry: exporter.profiles.registry)
        } catch let error as APIError {
            // Name the field as it is in the body (filter members are nested there).
            let field = error.field.map { ["format", "mapping"].contains($0) ? $0 : "filter.\($0)" }
            throw APIError(.unprocessableContent, code: error.code, detail: error.detail, field: field)
        }
        var schedule: CronSchedule?
        if let expression = try text("schedule") {
            do { schedule = try CronSchedule(expression) } catch {
                throw APIError(.unprocessableContent, code: "invalid_schedule", detail: "\(error)", field: "schedule")
            }
            guard schedule?.next(after: Date()) != nil else {
                throw APIError(.unprocessableContent, code: "invalid_schedule", detail: "the schedule never runs", field: "schedule")
            }
        }
        let destination = try text("destination")
        if let destination {
            guard let url = URL(string: destination), ["http", "https"].contains(url.scheme?.lowercased() ?? ""), url.host != nil else {
                throw APIError(.unprocessableContent, code: "invalid_destination",
                               detail: "'destination' must be an http(s) URL; leave it out to write a file to the export directory", field: "destination")
            }
        }
        let name = try text("name")
        if let name, name.count > 200 { throw APIError(.unprocessableContent, code: "wrong_type", detail: "'name' is at most 200 characters", field: "name") }
        return ExportJobStore.NewJob(name: name, format: export.format.rawValue, mapping: export.mapping?.name ?? ExportJobStore.documentMapping,
                                     fieldMapping: fieldMapping, filter: filter, schedule: schedule, destination: destination)
    }

    static let notFound = APIError(.notFound, code: "export_job_not_found", detail: "no export job with that id")

    static func jobID(_ context: ServiceRequestContext) throws -> Int64 {
        guard let text = context.parameters.get("id"), let id = Int64(text), id > 0 else {
            throw APIError.badRequest("invalid_parameter", "the export job id must be a positive integer", field: "id")
        }
        return id
    }

    static func json(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
