/// When the every-minute analytics refresh also recomputes the session-path and journey rollups,
/// its costliest part (sql/0011): on the first refresh, then once `intervalSeconds` have passed
/// since the last one that did. A refresh that failed is not counted, so the next one retries.
struct JourneyRefreshSchedule: Sendable {
    let intervalSeconds: Int
    private var last: ContinuousClock.Instant?

    init(intervalSeconds: Int) {
        self.intervalSeconds = intervalSeconds
    }

    func isDue(at now: ContinuousClock.Instant) -> Bool {
        guard let last else { return true }
        return now - last >= .seconds(intervalSeconds)
    }

    mutating func refreshed(at now: ContinuousClock.Instant) {
        last = now
    }
}
