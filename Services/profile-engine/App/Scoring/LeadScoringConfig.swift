import Foundation
import ProfileModel
import ServiceKit
import Yams

/// `config/lead_scoring.yaml`, decoded and checked at start (a bad file stops the engine).
struct LeadScoringConfig: Decodable, Sendable {
    struct FieldRule: Decodable, Sendable {
        let name: String
        let field: String
        let `in`: [String]?
        let matches: String?
        let present: Bool?
        let domainIn: [String]?
        let points: Double
    }

    struct MetricRule: Decodable, Sendable {
        let name: String
        let metric: Metric
        let per: Double
        let points: Double
        let max: Double
    }

    enum Metric: String, Decodable, Sendable, CaseIterable {
        case sessionsCount = "sessions_count", pageViewsCount = "page_views_count", totalTimeSeconds = "total_time_seconds"
        case returnVisits = "return_visits", pricingPageViews = "pricing_page_views", chatMessages = "chat_messages"
    }

    struct IntentRule: Decodable, Sendable {
        let name: String
        let intent: String?
        let interestMinConfidence: Double?
        let points: Double
    }

    struct StageRule: Decodable, Sendable {
        let stage: String
        let minScore: Int?
        let minEngagement: Int?
        let requires: [String]?
    }

    let version: Int
    let decayHalfLifeDays: Double
    let pricingPath: String
    let engagementMax: Double
    let fit: [FieldRule]
    let engagement: [MetricRule]
    let intent: [IntentRule]
    let stages: [StageRule]

    static let stageOrder = LeadStage.names

    static func load(path: String, registry: FieldRegistry) throws -> LeadScoringConfig {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError(variable: "LEAD_SCORING_FILE", message: "cannot read '\(path)': \(error.localizedDescription)")
        }
        return try parse(text, file: path, registry: registry)
    }

    static func parse(_ text: String, file: String, registry: FieldRegistry) throws -> LeadScoringConfig {
        let decoder = YAMLDecoder()
        let config: LeadScoringConfig
        do {
            config = try decoder.decode(LeadScoringConfig.self, from: text, userInfo: [:])
        } catch let DecodingError.keyNotFound(key, context) {
            throw ConfigError(variable: "LEAD_SCORING_FILE", message: "\(file): missing '\(key.stringValue)' at \(path(context.codingPath))")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.dataCorrupted(context) {
            throw ConfigError(variable: "LEAD_SCORING_FILE", message: "\(file): \(context.debugDescription) at \(path(context.codingPath))")
        } catch {
            throw ConfigError(variable: "LEAD_SCORING_FILE", message: "\(file): \(error)")
        }
        func fail(_ message: String) -> ConfigError { ConfigError(variable: "LEAD_SCORING_FILE", message: "\(file): \(message)") }
        guard config.decayHalfLifeDays > 0, config.engagementMax > 0 else { throw fail("decay_half_life_days and engagement_max must be positive") }
        guard (try? NSRegularExpression(pattern: config.pricingPath)) != nil else { throw fail("pricing_path is not a valid regular expression") }
        for rule in config.fit {
            guard registry[rule.field] != nil else { throw fail("fit rule '\(rule.name)' uses unknown field '\(rule.field)'") }
            let matchers = [rule.in != nil, rule.matches != nil, rule.present != nil, rule.domainIn != nil].filter { $0 }.count
            guard matchers == 1 else { throw fail("fit rule '\(rule.name)' needs exactly one of in, matches, present, domain_in") }
            if let pattern = rule.matches, (try? NSRegularExpression(pattern: pattern)) == nil {
                throw fail("fit rule '\(rule.name)': '\(pattern)' is not a valid regular expression")
            }
        }
        for rule in config.engagement where rule.per <= 0 || rule.max < 0 {
            throw fail("engagement rule '\(rule.name)' needs per > 0 and max >= 0")
        }
        for rule in config.intent where (rule.intent == nil) == (rule.interestMinConfidence == nil) {
            throw fail("intent rule '\(rule.name)' needs exactly one of intent, interest_min_confidence")
        }
        for stage in config.stages {
            guard stageOrder.contains(stage.stage) else { throw fail("unknown stage '\(stage.stage)' (one of \(stageOrder.joined(separator: ", ")))") }
            for field in stage.requires ?? [] where registry[field] == nil {
                throw fail("stage '\(stage.stage)' requires unknown field '\(field)'")
            }
        }
        return config
    }

    private static func path(_ codingPath: [any CodingKey]) -> String {
        codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
    }

    enum CodingKeys: String, CodingKey {
        case version, fit, engagement, intent, stages
        case decayHalfLifeDays = "decay_half_life_days", pricingPath = "pricing_path", engagementMax = "engagement_max"
    }
}

extension LeadScoringConfig.FieldRule {
    enum CodingKeys: String, CodingKey { case name, field, `in`, matches, present, points, domainIn = "domain_in" }
}

extension LeadScoringConfig.IntentRule {
    enum CodingKeys: String, CodingKey { case name, intent, points, interestMinConfidence = "interest_min_confidence" }
}

extension LeadScoringConfig.StageRule {
    enum CodingKeys: String, CodingKey { case stage, requires, minScore = "min_score", minEngagement = "min_engagement" }
}
