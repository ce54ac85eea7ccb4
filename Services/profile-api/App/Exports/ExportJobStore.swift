import Foundation
import Logging
import PostgresNIO
import ProfileModel
import ServiceKit

/// The SQL of export jobs and their runs: create, list, read, delete, claim and progress.
struct ExportJobStore: Sendable {
    let client: PostgresClient
    let logger: Logger

    /// A job as the scheduler runs it.
    struct Claimed: Sendable {
        let jobID: Int64
        let runID: Int64
        let format: String
        let mapping: String
        let fieldMapping: [String: String]
        let filter: [String: String]
        let schedule: String?
        let destination: String?
    }

    /// `mapping_preset` of a JSON/NDJSON job that writes whole profile documents.
    static let documentMapping = "document"

    struct NewJob: Sendable {
        var name: String?
        var format: String
        var mapping: String
        var fieldMapping: [String: String]
        var filter: [String: String]
        var schedule: CronSchedule?
        var destination: String?
    }

    /// Named fragment `export_job_document` over alias `j`.
    static let document = """
        jsonb_build_object('id', j.id, 'name', j.name, 'format', j.format, 'mapping', j.mapping_preset,
            'field_mapping', j.field_mapping, 'filter', j.filter, 'schedule', j.schedule_cron, 'next_run_at', j.next_run_at,
            'destination', j.destination, 'status', j.status, 'rows_total', j.rows_total, 'rows_done', j.rows_done,
            'result_location', j.result_location, 'started_at', j.started_at, 'finished_at', j.finished_at, 'error', j.error,
            'created_at', j.created_at, 'updated_at', j.updated_at)
        """

    /// Named query `insert_export_job`; audited in the same transaction.
    func create(_ job: NewJob, key: APIKey, requestID: String) async throws -> String {
        let nextRun = job.schedule?.next(after: Date())
        let fieldMapping = JSONValue.object(job.fieldMapping.mapValues(JSONValue.string)).jsonText
        let filter = JSONValue.object(job.filter.mapValues(JSONValue.string)).jsonText
        return try await client.transaction(logger: logger) { tx in
            let rows = try await tx.query(
                """
                INSERT INTO export_jobs AS j (name, format, mapping_preset, field_mapping, filter, schedule_cron, next_run_at, destination, created_by)
                VALUES (\(job.name), \(job.format), \(job.mapping), \(fieldMapping)::jsonb, \(filter)::jsonb, \(job.schedule?.expression),
                        \(nextRun), \(job.destination), \(key.id))
                RETURNING j.id, \(unescaped: Self.document)::text
                """, logger: logger)
            var created: (Int64, String)?
            for try await row in rows.decode((Int64, String).self) { created = row }
            guard let (id, document) = created else { throw APIError.unavailable("the export job was not stored; retry") }
            try await AuditLog.record("export_job.create", target: String(id), key: key, requestID: requestID,
                                      details: ["format": .string(job.format), "mapping": .string(job.mapping),
                                                "destination": job.destination.map(JSONValue.string) ?? .null], on: tx, logger: logger)
            return document
        }
    }

    /// Named query `list_export_jobs`.
    func list() async throws -> String {
        let rows = try await client.query(
            "SELECT coalesce(jsonb_agg(\(unescaped: Self.document) ORDER BY j.id DESC), '[]')::text FROM (SELECT * FROM export_jobs ORDER BY id DESC LIMIT 1000) j",
            logger: logger)
        for try await text in rows.decode(String.self) { return text }
        return "[]"
    }

    /// Named query `get_export_job`: the job with its run history (newest first).
    func get(_ id: Int64) async throws -> String? {
        let rows = try await client.query(
            """
            SELECT (\(unescaped: Self.document) || jsonb_build_object('runs', coalesce((
                SELECT jsonb_agg(jsonb_build_object('id', r.id, 'status', r.status, 'rows_done', r.rows_done,
                                 'result_location', r.result_location, 'error', r.error,
                                 'started_at', r.started_at, 'finished_at', r.finished_at) ORDER BY r.id DESC)
                FROM (SELECT * FROM export_runs WHERE job_id = j.id ORDER BY id DESC LIMIT 100) r), '[]'::jsonb)))::text
            FROM export_jobs j WHERE j.id = \(id)
            """, logger: logger)
        for try await text in rows.decode(String.self) { return text }
        return nil
    }

    /// Named query `delete_export_job` (its runs cascade).
    func delete(_ id: Int64, key: APIKey, requestID: String) async throws -> Bool {
        try await client.transaction(logger: logger) { tx in
            var deleted = false
            for try await _ in try await tx.query("DELETE FROM export_jobs WHERE id = \(id) RETURNING id", logger: logger).decode(Int64.self) { deleted = true }
            if deleted {
                try await AuditLog.record("export_job.delete", target: String(id), key: key, requestID: requestID, on: tx, logger: logger)
            }
            return deleted
        }
    }

    /// Named query `claim_export_job`: takes one due job (queued and due, or running with an
    /// expired lease) with SKIP LOCKED so only one runner gets it, opens its run row, and closes
    /// the run a crashed runner left open — all in one statement.
    func claim(leaseSeconds: Double) async throws -> Claimed? {
        let rows = try await client.query(
            """
            WITH due AS MATERIALIZED (
                SELECT id FROM export_jobs
                WHERE status IN ('queued', 'running') AND coalesce(next_run_at, created_at) <= now()
                  AND (status = 'queued' OR locked_until < now())
                ORDER BY coalesce(next_run_at, created_at)
                LIMIT 1 FOR UPDATE SKIP LOCKED
            ), claimed AS (
                UPDATE export_jobs j SET status = 'running', locked_until = now() + make_interval(secs => \(leaseSeconds)),
                       started_at = now(), finished_at = NULL, rows_done = 0, rows_total = NULL, error = NULL, updated_at = now()
                FROM due WHERE j.id = due.id
                RETURNING j.id, j.format, j.mapping_preset, j.field_mapping, j.filter, j.schedule_cron, j.destination
            ), interrupted AS (
                UPDATE export_runs SET status = 'failed', error = 'interrupted: the runner stopped before finishing', finished_at = now()
                WHERE job_id IN (SELECT id FROM claimed) AND status = 'running'
            ), run AS (
                INSERT INTO export_runs (job_id) SELECT id FROM claimed RETURNING id, job_id
            )
            SELECT c.id, run.id, c.format, c.mapping_preset, c.field_mapping::text, c.filter::text, c.schedule_cron, c.destination
            FROM claimed c JOIN run ON run.job_id = c.id
            """, logger: logger)
        for try await (jobID, runID, format, mapping, fieldMapping, filter, schedule, destination)
            in rows.decode((Int64, Int64, String, String, String, String, String?, String?).self) {
            return Claimed(jobID: jobID, runID: runID, format: format, mapping: mapping, fieldMapping: Self.strings(fieldMapping),
                           filter: Self.strings(filter), schedule: schedule, destination: destination)
        }
        return nil
    }

    /// Named query `export_job_progress`: records rows written and extends the lease.
    func progress(_ job: Claimed, rows: Int, leaseSeconds: Double) async throws {
        try await client.query(
            """
            WITH job AS (
                UPDATE export_jobs SET rows_done = \(rows), locked_until = now() + make_interval(secs => \(leaseSeconds)), updated_at = now()
                WHERE id = \(job.jobID)
            )
            UPDATE export_runs SET rows_done = \(rows) WHERE id = \(job.runID)
            """, logger: logger)
    }

    /// Named query `finish_export_job`: a scheduled job is queued for its next run, a one-off job
    /// ends done or failed; the run row records the outcome either way.
    func finish(_ job: Claimed, rows: Int, location: String?, error: String?, nextRun: Date?) async throws {
        let status = error == nil ? "done" : "failed"
        let jobStatus = nextRun != nil ? "queued" : status
        try await client.query(
            """
            WITH job AS (
                UPDATE export_jobs SET status = \(jobStatus), rows_done = \(rows), rows_total = \(error == nil ? Int?.some(rows) : nil),
                       result_location = coalesce(\(location), result_location), error = \(error), finished_at = now(),
                       next_run_at = \(nextRun), locked_until = NULL, updated_at = now()
                WHERE id = \(job.jobID)
            )
            UPDATE export_runs SET status = \(status), rows_done = \(rows), result_location = \(location), error = \(error), finished_at = now()
            WHERE id = \(job.runID)
            """, logger: logger)
    }

    private static func strings(_ text: String) -> [String: String] {
        (JSONValue(databaseText: text).objectValue ?? [:]).mapValues { CRMMapping.ValueFormat.plain($0) }
    }
}
