import Foundation
import NIOCore
import ProfileModel
import ServiceKit

/// What to export: which profiles (the search filter language), in which format, with which
/// column mapping. Parsed from a query string or from a stored export job.
struct ExportRequest: Sendable {
    var format: ExportFormat
    /// nil = the profile document itself (JSON/NDJSON without `mapping`).
    var mapping: CRMMapping?
    var filter: ProfileFilter

    /// `parameters` is a query string (or a job's stored filter plus format/mapping).
    init(parameters: [String: String], overrides: [String: String] = [:], catalog: CRMMappingCatalog, registry: FieldRegistry) throws {
        var rest = parameters
        let formatName = rest.removeValue(forKey: "format") ?? "csv"
        guard let format = ExportFormat(rawValue: formatName) else {
            throw APIError.badRequest("invalid_parameter", "'format' must be one of csv, json, ndjson", field: "format")
        }
        self.format = format
        let mappingName = rest.removeValue(forKey: "mapping") ?? (format == .csv || !overrides.isEmpty ? "default" : nil)
        if let mappingName {
            guard let preset = catalog.presets[mappingName] else {
                throw APIError.badRequest("invalid_parameter", "'mapping' must be one of \(catalog.presets.keys.sorted().joined(separator: ", "))", field: "mapping")
            }
            mapping = preset.overriding(overrides)
        }
        for name in ["limit", "cursor"] where rest[name] != nil {
            throw APIError.badRequest("unknown_parameter", "'\(name)' does not apply to exports: they stream every matching profile", field: name)
        }
        filter = try ProfileFilter(query: rest, registry: registry)
    }
}

/// Streams a filtered set of profiles page by page (keyset pagination over the search query), so
/// memory stays constant whatever the number of profiles.
struct ProfileExporter: Sendable {
    let profiles: ProfileRepository
    let pageSize: Int

    /// Writes the whole export through `write`, calling `progress` with the rows written after
    /// each page; returns the number of rows.
    @discardableResult
    func export(_ request: ExportRequest, write: (ByteBuffer) async throws -> Void,
                progress: (Int) async throws -> Void = { _ in }) async throws -> Int {
        var filter = request.filter
        filter.limit = pageSize
        filter.cursor = nil
        try await write(ByteBuffer(string: request.format.header(request.mapping)))
        var rows = 0
        while true {
            let (documents, next) = try await profiles.search(filter)
            var buffer = ByteBuffer()
            buffer.reserveCapacity(documents.count * 512)
            for document in documents {
                buffer.writeString(request.format.row(document: document, mapping: request.mapping, index: rows))
                rows += 1
            }
            if buffer.readableBytes > 0 { try await write(buffer) }
            try await progress(rows)
            guard let next, let cursor = ProfileFilter.Cursor(token: next) else { break }
            filter.cursor = cursor
        }
        try await write(ByteBuffer(string: request.format.footer))
        return rows
    }
}
