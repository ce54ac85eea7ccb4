import ServiceKit

/// Export settings, read once from the environment at start (documented in README.md).
struct ExportConfig: Sendable {
    /// Directory of CRM mapping presets (`*.yaml`).
    var mappingsDirectory: String
    /// Where scheduled and one-off export jobs write their files.
    var directory: String
    /// Profiles read per database round trip while streaming.
    var pageSize: Int
    /// Whether this process runs export jobs (any number of API instances may; each job runs once).
    var schedulerEnabled: Bool
    /// How often the scheduler looks for due jobs.
    var pollSeconds: Double
    /// Jobs run at once by this process.
    var concurrency: Int
    /// Time allowed to POST a finished file to a URL destination.
    var uploadTimeoutSeconds: Double
    /// A running job whose runner has not reported progress for this long is run again.
    var leaseSeconds: Double

    init(environment env: EnvironmentReader) throws {
        mappingsDirectory = env.string("EXPORT_MAPPINGS_DIR", default: "config/crm-mappings")
        directory = env.string("EXPORT_DIRECTORY", default: "exports")
        pageSize = try env.int("EXPORT_PAGE_SIZE", default: 500, range: 10...10_000)
        schedulerEnabled = try env.bool("EXPORT_SCHEDULER", default: true)
        pollSeconds = try env.double("EXPORT_POLL_SECONDS", default: 5, range: 0.05...3600)
        concurrency = try env.int("EXPORT_CONCURRENCY", default: 2, range: 1...32)
        uploadTimeoutSeconds = try env.double("EXPORT_UPLOAD_TIMEOUT_SECONDS", default: 300, range: 1...86_400)
        leaseSeconds = try env.double("EXPORT_LEASE_SECONDS", default: 300, range: 5...86_400)
    }
}
