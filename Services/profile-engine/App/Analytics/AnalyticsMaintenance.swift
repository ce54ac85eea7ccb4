import Logging
import PostgresNIO
import ServiceLifecycle
import Shared

/// Keeps the analytics rollups of recent days current: late events and sessions still open
/// change the last days, so those are recomputed on every tick. Older days only change through
/// a rebuild (`profile-engine analytics rebuild`).
final class AnalyticsMaintenance: Service, Sendable {
    private let rollups: AnalyticsRollups
    private let timeZones: [String]
    private let intervalSeconds: Int
    private let days: Int
    private let journeys: JourneyRefreshSchedule
    private let logger: Logger

    init(rollups: AnalyticsRollups, timeZones: [String], intervalSeconds: Int, days: Int, journeys: JourneyRefreshSchedule, logger: Logger) {
        self.rollups = rollups
        self.timeZones = timeZones
        self.intervalSeconds = intervalSeconds
        self.days = days
        self.journeys = journeys
        self.logger = logger
    }

    func run() async throws {
        var registered = false
        var schedule = journeys
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
