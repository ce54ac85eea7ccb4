import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import OutboundHTTP
import ProfileModel
import ServiceKit
import ServiceLifecycle

/// Runs export jobs: one-off jobs as soon as they are created and cron jobs when due. It lives in
/// the API process because the export code (filters, mappings, formats) is the API's, and so the
/// engine's CPU stays on ingest. Any number of instances may run it: a job is claimed with
/// FOR UPDATE SKIP LOCKED and held by a lease, so one runner executes a given run; a runner that
/// dies (or is stopped mid-run) leaves the lease to expire and the job runs again.
struct ExportScheduler: Service {
    let store: ExportJobStore
    let exporter: ProfileExporter
    let catalog: CRMMappingCatalog
    let registry: ProfileModel.FieldRegistry
    let config: ExportConfig
    let http: OutboundHTTPClient
    let logger: Logger

    func run() async throws {
        try? FileManager.default.createDirectory(atPath: config.directory, withIntermediateDirectories: true)
        // Several runners, so one long export (or a slow destination) does not hold back the others.
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<config.concurrency {
                    group.addTask { await runJobs() }
                }
            }
        }
    }

    private func runJobs() async {
        while !Task.isCancelled {
            do {
                while let job = try await store.claim(leaseSeconds: config.leaseSeconds) { await execute(job) }
            } catch is CancellationError {
                return
            } catch {
                logger.databaseFailure(.warning, "export scheduler could not claim a job", error: error)
            }
            try? await Task.sleep(for: .seconds(config.pollSeconds))
        }
    }

    /// Runs one claimed job to its end and records the outcome.
    func execute(_ job: ExportJobStore.Claimed) async {
        let nextRun = job.schedule.flatMap { try? CronSchedule($0) }?.next(after: Date())
        let path = (config.directory as NSString).appendingPathComponent("export-\(job.jobID)-\(job.runID).\(job.format)")
        var rows = 0
        do {
            var parameters = job.filter
            parameters["format"] = job.format
            parameters["mapping"] = job.mapping == ExportJobStore.documentMapping ? nil : job.mapping
            let request = try ExportRequest(parameters: parameters, overrides: job.fieldMapping, catalog: catalog, registry: registry)
            rows = try await writeFile(request, job: job, path: path)
            var location = path
            if let destination = job.destination {
                try await post(file: path, to: destination, contentType: request.format.contentType, job: job)
                try? FileManager.default.removeItem(atPath: path)
                location = destination
            }
            try await store.finish(job, rows: rows, location: location, error: nil, nextRun: nextRun)
            logger.info("export job finished", metadata: ["job": "\(job.jobID)", "run": "\(job.runID)", "rows": "\(rows)"])
        } catch is CancellationError {
            // Stopped by shutdown: the lease expires and another runner (or this one, restarted) runs it again.
            try? FileManager.default.removeItem(atPath: path + ".partial")
        } catch {
            let message = (error as? APIError)?.detail ?? String(describing: error)
            logger.databaseFailure(.warning, "export job failed", error: error, metadata: ["job": "\(job.jobID)"])
            try? FileManager.default.removeItem(atPath: path + ".partial")
            try? await store.finish(job, rows: rows, location: nil, error: String(message.prefix(1000)), nextRun: nextRun)
        }
    }

    /// Streams the export to `<path>.partial`, then renames it, so a reader never sees half a file.
    private func writeFile(_ request: ExportRequest, job: ExportJobStore.Claimed, path: String) async throws -> Int {
        let partial = path + ".partial"
        guard FileManager.default.createFile(atPath: partial, contents: nil), let handle = FileHandle(forWritingAtPath: partial) else {
            throw ExportRunError(description: "cannot write \(partial) (check EXPORT_DIRECTORY)")
        }
        defer { try? handle.close() }
        let rows = try await exporter.export(request, write: { buffer in
            try handle.write(contentsOf: Data(buffer.readableBytesView))
        }, progress: { rows in
            try await store.progress(job, rows: rows, leaseSeconds: config.leaseSeconds)
        })
        try handle.synchronize()
        try? FileManager.default.removeItem(atPath: path)
        try FileManager.default.moveItem(atPath: partial, toPath: path)
        return rows
    }

    /// POSTs the finished file to an http(s) URL, streamed from disk in 64 KiB chunks (the URL is
    /// checked again now: see `OutboundHTTPClient`).
    private func post(file path: String, to url: String, contentType: String, job: ExportJobStore.Claimed) async throws {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw ExportRunError(description: "cannot read \(path)") }
        defer { try? handle.close() }
        let size = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value ?? 0
        let chunks = AsyncThrowingStream<ByteBuffer, any Error> {
            guard let data = try handle.read(upToCount: 64 * 1024), !data.isEmpty else { return nil }
            return ByteBuffer(bytes: data)
        }
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: contentType)
        request.headers.add(name: "User-Agent", value: "ProfileBuilder-Export/1")
        request.headers.add(name: "X-Profile-Builder-Export-Job", value: String(job.jobID))
        request.headers.add(name: "X-Profile-Builder-Export-Run", value: String(job.runID))
        request.body = .stream(chunks, length: .known(size))
        let response = try await http.execute(request, timeout: .milliseconds(Int64(config.uploadTimeoutSeconds * 1000)))
        guard (200..<300).contains(Int(response.status.code)) else {
            throw ExportRunError(description: "the destination answered HTTP \(response.status.code)")
        }
    }
}

struct ExportRunError: Error, CustomStringConvertible {
    let description: String
}
