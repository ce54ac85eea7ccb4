import ArgumentParser
import Foundation
import Hummingbird
import InterestAnalysis
import LLMAnalysis
import ProfileModel
import ServiceKit

/// The profile engine: consumes the event queue and builds profiles. Its HTTP port serves only
/// health, readiness and metrics.
public enum EngineService: ServiceEntry {
    public static let name = "profile-engine"
    public static let abstract = "Builds visitor profiles from the event queue (HTTP only for health and metrics)."
    public static var extraCommands: [any ParsableCommand.Type] { [ReplayCommand.self, SegmentsCommand.self, ScoresCommand.self, AnalyticsCommand.self] }

    public static func buildApplication(_ environment: ServiceEnvironment) throws -> some ApplicationProtocol {
        let components = try EngineComponents(environment)
        let config = components.config, processor = components.processor
        let client = environment.makeClient(maximumConnections: max(environment.common.databasePoolSize, config.workers * 2 + 2))
        let router = environment.makeRouter(client: client)
        let signal = WakeSignal()
        let workers = (0..<config.workers).map { _ in
            QueueWorker(client: client, processor: processor, config: config, signal: signal, metrics: environment.metrics, logger: environment.logger)
        }
        let listener = NotificationListener(database: environment.common.database, channel: NotificationChannel.eventsQueued.rawValue, signal: signal,
                                            logger: environment.logger)
        let maintenance = PartitionMaintenance(client: client, logger: environment.logger)
        let statistics = GrowingTableStatistics(client: client, logger: environment.logger)
        let segments = SegmentMaintenance(client: client, processor: processor,
                                          logger: environment.logger)
        let analytics = AnalyticsMaintenance(rollups: AnalyticsRollups(client: client, logger: environment.logger),
                                             timeZones: config.analyticsTimeZones, intervalSeconds: config.analyticsRefreshSeconds,
                                             days: config.analyticsRefreshDays, journeyIntervalSeconds: config.analyticsJourneyRefreshSeconds,
                                             logger: environment.logger)
        let remaps = CatalogRemapWorker(client: client, analyzer: components.analyzers.reanalysis,
                                        embeddings: components.processor.interests.embeddings, scoring: components.interestScoring,
                                        logger: environment.logger)
        let erasureSignal = WakeSignal()
        let erasureListener = NotificationListener(database: environment.common.database, channel: NotificationChannel.erasureRequested.rawValue,
                                                   signal: erasureSignal, logger: environment.logger)
        let erasures = ErasureWorker(client: client, signal: erasureSignal, logger: environment.logger)
        let profileCommandSignal = WakeSignal()
        let profileCommandListener = NotificationListener(database: environment.common.database, channel: NotificationChannel.profileCommanded.rawValue,
                                                          signal: profileCommandSignal, logger: environment.logger)
        let profileCommands = ProfileCommandWorker(client: client, signal: profileCommandSignal, logger: environment.logger)
        return environment.makeApplication(router: router, port: config.port, client: client,
                                           services: [listener, erasureListener, profileCommandListener, maintenance, statistics, segments, analytics,
                                                      remaps, erasures, profileCommands] + workers)
    }

    public static func serve(_ environment: ServiceEnvironment) async throws {
        try await buildApplication(environment).runService()
    }
}

/// `profile-engine replay`: puts dead-lettered events back on the queue.
struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "replay", abstract: "Re-queue dead-lettered events (all, or by --id).")

    @Option(name: .long, help: "A dead_letters.id to replay (repeatable); all when omitted.")
    var id: [Int64] = []

    func run() async throws {
        let environment = try bootstrappedEnvironment(service: EngineService.name)
        let ids = id.isEmpty ? nil : id
        let count = try await withDatabase(environment) { client in
            try await QueueRepository.replay(ids: ids, client: client, logger: environment.logger)
        }
        print("profile-engine replay: re-queued \(count) event(s)")
    }
}

/// `profile-engine segments reevaluate`: re-evaluates every profile's segments.
struct SegmentsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "segments", abstract: "Segment administration.",
                                                    subcommands: [Reevaluate.self])

    struct Reevaluate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Re-evaluate every profile's segments (after a definition changed, say).")

        func run() async throws {
            let environment = try bootstrappedEnvironment(service: EngineService.name)
            let count = try await withDatabase(environment) { client in
                try await SegmentEvaluator(logger: environment.logger).reevaluateAll(client)
            }
            print("profile-engine segments reevaluate: evaluated \(count) profiles")
        }
    }
}

/// `profile-engine scores recompute`: recomputes every profile's scores now (the engine also does it hourly).
struct ScoresCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "scores", abstract: "Lead score administration.",
                                                    subcommands: [Recompute.self])

    struct Recompute: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Recompute the lead and engagement scores (with decay) of every profile.")

        func run() async throws {
            let environment = try bootstrappedEnvironment(service: EngineService.name)
            let processor = try EngineComponents(environment).processor
            let result = try await withDatabase(environment) { client in try await processor.rescoreAll(client) }
            print("profile-engine scores recompute: \(result.seen) profiles, \(result.changed) changed")
        }
    }
}

/// `profile-engine analytics rebuild`: recomputes every analytics rollup from the raw tables.
struct AnalyticsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "analytics", abstract: "Analytics rollup administration.",
                                                    subcommands: [Rebuild.self])

    struct Rebuild: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Register ANALYTICS_TIME_ZONES and recompute every rollup day.")

        func run() async throws {
            let environment = try bootstrappedEnvironment(service: EngineService.name)
            let config = try EngineConfig(environment: environment.reader)
            let started = Date()
            let rows = try await withDatabase(environment) { client in
                let rollups = AnalyticsRollups(client: client, logger: environment.logger)
                try await rollups.register(timeZones: config.analyticsTimeZones)
                return try await rollups.rebuild()
            }
            print("profile-engine analytics rebuild: wrote \(rows) rollup rows in \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
        }
    }
}
