import Foundation
import ProfileModel

/// What scoring needs to know about a profile besides its fields.
struct ScoringSignals: Sendable {
    var metrics: [LeadScoringConfig.Metric: Double] = [:]
    var lastActivity: Date?
    /// Latest detection time per chat intent.
    var intents: [String: Date] = [:]
    var topInterestConfidence: Double = 0
    var topInterestAt: Date?
}

/// The lead score, the engagement score and the breakdown behind them.
struct LeadScore: Sendable, Equatable {
    var lead: Int
    var engagement: Int
    var breakdown: [JSONValue]
    var stage: String
    var stageReason: String?
}

/// Applies `lead_scoring.yaml` to one profile. Pure: the same inputs and `now` give the same score.
struct LeadScorer: Sendable {
    let config: LeadScoringConfig
    let now: Date

    func score(fields: [String: JSONValue], signals: ScoringSignals, currentStage: String) -> LeadScore {
        var breakdown: [JSONValue] = []
        var total = 0.0
        var engagementTotal = 0.0
        func add(_ section: String, _ rule: String, _ points: Double, decay: Double = 1) {
            let value = (points * decay * 10).rounded() / 10
            guard value != 0 else { return }
            total += value
            if section == "engagement" { engagementTotal += value }
            var entry: [String: JSONValue] = ["section": .string(section), "rule": .string(rule), "points": .number(value)]
            if decay < 1 { entry["decay"] = .number((decay * 100).rounded() / 100) }
            breakdown.append(.object(entry))
        }
        for rule in config.fit where matches(rule, fields[rule.field]) {
            add("fit", rule.name, rule.points)
        }
        let activityDecay = decay(since: signals.lastActivity)
        for rule in config.engagement {
            let units = (signals.metrics[rule.metric] ?? 0) / rule.per
            add("engagement", rule.name, min(units.rounded(.down) * rule.points, rule.max), decay: activityDecay)
        }
        for rule in config.intent {
            if let intent = rule.intent, let seen = signals.intents[intent] {
                add("intent", rule.name, rule.points, decay: decay(since: seen))
            } else if let threshold = rule.interestMinConfidence, signals.topInterestConfidence >= threshold {
                add("intent", rule.name, rule.points, decay: decay(since: signals.topInterestAt))
            }
        }
        let lead = Int(max(0, min(100, total.rounded())))
        let engagement = Int(max(0, min(100, (engagementTotal / config.engagementMax * 100).rounded())))
        let (stage, reason) = nextStage(current: currentStage, lead: lead, engagement: engagement, fields: fields)
        return LeadScore(lead: lead, engagement: engagement, breakdown: breakdown, stage: stage, stageReason: reason)
    }

    /// Half-life decay by the age of the evidence; evidence without a time does not decay.
    private func decay(since time: Date?) -> Double {
        guard let time else { return 1 }
        let days = max(0, now.timeIntervalSince(time)) / 86_400
        return pow(0.5, days / config.decayHalfLifeDays)
    }

    private func matches(_ rule: LeadScoringConfig.FieldRule, _ value: JSONValue?) -> Bool {
        if let present = rule.present { return (value != nil && value != .null) == present }
        guard let value else { return false }
        let text = value.stringValue ?? value["name"]?.stringValue ?? value.doubleValue.map { String($0) } ?? ""
        if let options = rule.in { return options.contains { $0.caseInsensitiveCompare(text) == .orderedSame } }
        if let pattern = rule.matches { return text.range(of: pattern, options: .regularExpression) != nil }
        if let domains = rule.domainIn, let at = text.lastIndex(of: "@") {
            let domain = text[text.index(after: at)...].lowercased()
            return domains.contains { domain == $0.lowercased() || domain.hasSuffix("." + $0.lowercased()) }
        }
        return false
    }

    /// The highest configured stage whose conditions hold; stages never move backwards.
    private func nextStage(current: String, lead: Int, engagement: Int, fields: [String: JSONValue]) -> (String, String?) {
        let order = LeadScoringConfig.stageOrder
        var best = current
        var reason: String?
        for rule in config.stages {
            guard let rank = order.firstIndex(of: rule.stage), let bestRank = order.firstIndex(of: best), rank > bestRank else { continue }
            if let minimum = rule.minScore, lead < minimum { continue }
            if let minimum = rule.minEngagement, engagement < minimum { continue }
            if let required = rule.requires, required.contains(where: { fields[$0] == nil || fields[$0] == .null }) { continue }
            var because: [String] = []
            if let minimum = rule.minScore { because.append("lead score \(lead) ≥ \(minimum)") }
            if let minimum = rule.minEngagement { because.append("engagement \(engagement) ≥ \(minimum)") }
            if let required = rule.requires, !required.isEmpty { because.append("has \(required.joined(separator: ", "))") }
            best = rule.stage
            reason = because.joined(separator: "; ")
        }
        return (best, reason)
    }
}
