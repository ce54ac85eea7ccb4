import Logging
import PostgresNIO
import ServiceLifecycle

/// Keeps the analytics rollups of recent days current: late events and sessions still open
/// change the last days, so those are recomputed on every tick. Older days only change through
/// a rebuild (`profile-engine analytics rebuild`).
final class AnalyticsMaintenance: Service, Sendable {
    private let rollups: AnalyticsRollups
    private let timeZones: [String]
    private let intervalSeconds: Int
    private let days: Int
    private let journeyIntervalSeconds: Int
    private let logger: Logger

    init(rollups: AnalyticsRollups, timeZones: [String], intervalSeconds: Int, days: Int, journeyIntervalSeconds: Int, logger: Logger) {
        self.rollups = rollups
        self.timeZones = timeZones
        self.intervalSeconds = intervalSeconds
        self.days = days
        self.journeyIntervalSeconds = journeyIntervalSeconds
        self.logger = logger
    }

    func run() async throws {
        var registered = false
        var schedule = JourneyRefreshSchedule(intervalSeconds: journeyIntervalSeconds)
        await repeatUntilShutdown(every: intervalSeconds, logger: logger, failure: "analytics refresh failed") {
            if !registered {
                try await rollups.register(timeZones: timeZones)
                registered = true
            }
            let now = ContinuousClock.now
            let withJourneys = schedule.isDue(at: now)
            let rows = try await rollups.refreshRecent(days: days, journeys: withJourneys)
            if withJourneys { schedule.refreshed(at: now) }
            logger.debug("analytics rollups refreshed", metadata: ["rows": "\(rows)", "journeys": "\(withJourneys)"])
        }
    }
}
