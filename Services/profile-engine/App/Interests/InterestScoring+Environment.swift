import InterestAnalysis
import ServiceKit

extension InterestScoring {
    /// The settings from the environment (documented in the README), with the defaults of `init`.
    init(environment: EnvironmentReader) throws {
        self.init(chatHalfLifeDays: try environment.double("INTEREST_CHAT_HALF_LIFE_DAYS", default: 30, range: 0.01...3650),
                  pageHalfLifeDays: try environment.double("INTEREST_PAGE_HALF_LIFE_DAYS", default: 14, range: 0.01...3650),
                  tagThreshold: try environment.double("INTEREST_TAG_THRESHOLD", default: 0.5, range: 0...1))
    }
}
