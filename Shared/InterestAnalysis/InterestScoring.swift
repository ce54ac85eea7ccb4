import Foundation
import ProfileModel

/// The confidence math. Every piece of evidence contributes `channel weight × strength × decay`,
/// where decay halves every half-life; contributions combine as a noisy-or,
/// `1 − Π(1 − cᵢ)`, so the result stays in [0, 1], grows with every further piece of evidence
/// (repeat visits) with diminishing returns, and fades as evidence ages. Chat evidence has
/// weight 1 (an explicit "we need X" at strength 0.9 gives 0.9 on its own); a page view at most
/// `pageWeight` (a glance ≈ 0.05, a long read to the bottom 0.35).
public struct InterestScoring: Sendable, Equatable {
    /// Days after which chat evidence counts half (INTEREST_CHAT_HALF_LIFE_DAYS).
    public var chatHalfLifeDays: Double
    /// Days after which page evidence counts half (INTEREST_PAGE_HALF_LIFE_DAYS).
    public var pageHalfLifeDays: Double
    /// What one fully engaged page view is worth next to explicit chat interest.
    public var pageWeight: Double
    /// How much an item's evidence counts toward its category.
    public var categoryRollup: Double
    /// Interests at or above this confidence become profile interest tags (INTEREST_TAG_THRESHOLD).
    public var tagThreshold: Double
    public var maxTags: Int

    public init(chatHalfLifeDays: Double = 30, pageHalfLifeDays: Double = 14, pageWeight: Double = 0.35, categoryRollup: Double = 0.8,
                tagThreshold: Double = 0.5, maxTags: Int = 10) {
        self.chatHalfLifeDays = chatHalfLifeDays
        self.pageHalfLifeDays = pageHalfLifeDays
        self.pageWeight = pageWeight
        self.categoryRollup = categoryRollup
        self.tagThreshold = tagThreshold
        self.maxTags = maxTags
    }

    /// One piece of evidence for one target.
    public struct Evidence: Sendable, Equatable {
        public enum Channel: String, Sendable { case chat, page }
        public let channel: Channel
        public let strength: Double
        public let negated: Bool
        public let at: Date

        public init(channel: Channel, strength: Double, negated: Bool = false, at: Date) {
            self.channel = channel
            self.strength = min(1, max(0, strength))
            self.negated = negated
            self.at = at
        }
    }

    /// The combined interest in one target.
    public struct Combined: Sendable, Equatable {
        public let confidence: Double
        public let chatScore: Double
        public let pageScore: Double
        public let evidenceCount: Int
        public let firstEvidence: Date?
        public let lastEvidence: Date?
        public let negated: Bool
    }

    /// Engagement depth of a page view, 0.15 for a bare view up to 1 for two minutes read to the
    /// bottom: dwell counts with diminishing returns (square root), scroll linearly.
    public func engagement(dwellMilliseconds: Int64, scrollPercent: Int) -> Double {
        let dwell = min(1, sqrt(Double(max(0, dwellMilliseconds)) / 120_000))
        let scroll = Double(min(100, max(0, scrollPercent))) / 100
        return 0.15 + 0.55 * dwell + 0.30 * scroll
    }

    public func decay(_ channel: Evidence.Channel, age: TimeInterval) -> Double {
        let halfLife = (channel == .chat ? chatHalfLifeDays : pageHalfLifeDays) * 86_400
        return halfLife > 0 ? pow(0.5, max(0, age) / halfLife) : 1
    }

    /// Combines a target's evidence as of `now`. When the latest chat evidence rejects the target,
    /// the interest is negated and its confidence is 0: the visitor said no, and pages seen
    /// before that do not outweigh it. A later positive chat mention lifts the rejection, and then
    /// only evidence after the rejection counts.
    public func combine(_ evidence: [Evidence], now: Date) -> Combined {
        let ordered = evidence.sorted { $0.at < $1.at }
        let lastRejection = ordered.last { $0.channel == .chat && $0.negated }?.at
        let lastPositiveChat = ordered.last { $0.channel == .chat && !$0.negated }?.at
        let negated = lastRejection.map { rejection in lastPositiveChat.map { $0 < rejection } ?? true } ?? false
        var remaining = 1.0, chat = 0.0, page = 0.0
        for item in ordered where !item.negated {
            if let lastRejection, item.at <= lastRejection { continue }
            let decayed = item.strength * decay(item.channel, age: now.timeIntervalSince(item.at))
            if item.channel == .chat { chat += decayed } else { page += decayed }
            remaining *= 1 - decayed * (item.channel == .chat ? 1 : pageWeight)
        }
        let confidence = negated ? 0 : min(1, max(0, 1 - remaining))
        return Combined(confidence: confidence, chatScore: chat, pageScore: page, evidenceCount: evidence.count,
                        firstEvidence: ordered.first?.at, lastEvidence: ordered.last?.at, negated: negated)
    }

    /// The evidence of each target with items' positive evidence also counted, scaled by
    /// `categoryRollup`, toward their category.
    public func withCategoryRollup(_ evidence: [InterestTarget: [Evidence]], categoryOfItem: [String: String]) -> [InterestTarget: [Evidence]] {
        var result = evidence
        for (target, list) in evidence {
            guard case .item(let slug) = target, let category = categoryOfItem[slug] else { continue }
            result[.category(category), default: []] += list.filter { !$0.negated }.map {
                Evidence(channel: $0.channel, strength: $0.strength * categoryRollup, at: $0.at)
            }
        }
        return result
    }

    /// Tags for the profile: targets at or above the threshold, strongest first, items before
    /// categories on ties.
    public func tags(_ combined: [InterestTarget: Combined]) -> [String] {
        var seen = Set<String>()
        return combined.filter { !$0.value.negated && $0.value.confidence >= tagThreshold }
            .sorted { lhs, rhs in
                if lhs.value.confidence != rhs.value.confidence { return lhs.value.confidence > rhs.value.confidence }
                if case .item = lhs.key, case .category = rhs.key { return true }
                if case .category = lhs.key, case .item = rhs.key { return false }
                return lhs.key.slug < rhs.key.slug
            }
            .map(\.key.slug).filter { seen.insert($0).inserted }.prefix(maxTags).map { $0 }
    }
}
