@testable import EngineApp
import Foundation
import Logging
import PostgresNIO
import ServiceKit

/// Drives the real engine code (worker, processor, SQL) against a test database, synchronously:
/// `drain()` applies everything queued and returns how many events it took.
struct EngineHarness {
    let db: TestDatabase
    let worker: QueueWorker
    let processor: BatchProcessor
    let components: EngineComponents

    /// The engine as its settings build it (EngineComponents), with the repository's config files;
    /// `extra` adds or overrides settings (EMBEDDING_MODEL_DIR for the hybrid analyser).
    init(db: TestDatabase, _ extra: [String: String] = [:]) throws {
        self.db = db
        let files = ["LEAD_SCORING_FILE": RepositoryPaths.root.appendingPathComponent("config/lead_scoring.yaml").path,
                     "INTENT_EXEMPLARS_FILE": RepositoryPaths.root.appendingPathComponent("config/intent-exemplars.txt").path]
        let environment = try db.serviceEnvironment(EngineService.name, files.merging(extra) { _, override in override })
        components = try EngineComponents(environment)
        processor = components.processor
        worker = QueueWorker(client: db.client, processor: processor, config: components.config, signal: WakeSignal(),
                             metrics: environment.metrics, logger: TestDatabase.logger)
    }

    @discardableResult
    func drain() async throws -> Int { try await worker.drainReady() }

    /// The surviving profile an identity belongs to.
    func profile(_ kind: String, _ value: String) async throws -> UUID? {
        try await db.scalar("SELECT profile_id FROM profile_identities WHERE kind = \(kind) AND value = \(value)", as: UUID.self)
    }

    func count(_ query: PostgresQuery) async throws -> Int {
        try await db.scalar(query, as: Int.self) ?? -1
    }
}

/// Builds Segment events with explicit times, for posting to the collector.
enum Events {
    static let style = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
    static let base = Date(timeIntervalSince1970: 1_764_000_000)  // a fixed Monday-ish moment in 2025

    static func at(_ minutes: Double) -> String { base.addingTimeInterval(minutes * 60).formatted(style) }

    static func page(_ anonymousID: String, _ url: String, minute: Double, id: String? = nil, title: String? = nil, context: [String: Any] = [:]) -> [String: Any] {
        var event: [String: Any] = ["type": "page", "anonymousId": anonymousID, "timestamp": at(minute),
                                    "properties": ["url": url, "path": URLComponents(string: url)?.path ?? "/", "title": title ?? url]]
        if let id { event["messageId"] = id }
        if !context.isEmpty { event["context"] = context }
        return event
    }

    static func identify(_ anonymousID: String?, userID: String? = nil, traits: [String: Any], minute: Double, id: String? = nil) -> [String: Any] {
        var event: [String: Any] = ["type": "identify", "traits": traits, "timestamp": at(minute)]
        if let anonymousID { event["anonymousId"] = anonymousID }
        if let userID { event["userId"] = userID }
        if let id { event["messageId"] = id }
        return event
    }
}
