import Foundation
import ProfileModel

/// One mention of a catalog target in a message.
public struct InterestMention: Sendable, Equatable {
    public let target: InterestTarget
    /// Strength of this piece of evidence, 0...1 (already lowered for hypotheticals).
    public let score: Double
    /// The visitor rejected the target ("we don't need X").
    public let negated: Bool
    /// Said as a possibility only ("if we ever…", "maybe later").
    public let hypothetical: Bool
    /// The words that matched, for people reading the evidence.
    public let matched: String
    public let snippet: String
    /// What found it (`keyword`, `embedding:<model>`, `llm:<model>`); nil means the analysis's own detector.
    public let detector: String?

    public init(target: InterestTarget, score: Double, negated: Bool, hypothetical: Bool = false, matched: String, snippet: String,
                detector: String? = nil) {
        self.target = target
        self.score = min(1, max(0, score))
        self.negated = negated
        self.hypothetical = hypothetical
        self.matched = matched
        self.snippet = String(snippet.prefix(500))
        self.detector = detector
    }

    func with(detector: String) -> InterestMention {
        InterestMention(target: target, score: score, negated: negated, hypothetical: hypothetical, matched: matched, snippet: snippet, detector: detector)
    }
}

/// An intent found in a message, with the classifier's confidence.
public struct DetectedIntent: Sendable, Equatable {
    public let intent: ChatIntent
    public let confidence: Double
    /// What found it (`embedding:<model>` for the exemplar regression); nil means the analysis's own detector.
    public let detector: String?

    public init(intent: ChatIntent, confidence: Double, detector: String? = nil) {
        self.intent = intent
        self.confidence = min(1, max(0, confidence))
        self.detector = detector
    }
}

/// A detail a visitor volunteered, named after the profile field it is offered to. The value is
/// raw: the field's own validation decides whether it is stored.
public struct ExtractedEntity: Sendable, Equatable {
    public let field: String
    public let value: JSONValue

    public init(field: String, value: JSONValue) {
        self.field = field
        self.value = value
    }
}

/// What an analyser found in one message. Assistant and system messages get an empty analysis.
public struct MessageAnalysis: Sendable, Equatable {
    public var mentions: [InterestMention]
    public var intents: [DetectedIntent]
    public var painPoints: [String]
    public var entities: [ExtractedEntity]

    public init(mentions: [InterestMention] = [], intents: [DetectedIntent] = [], painPoints: [String] = [], entities: [ExtractedEntity] = []) {
        self.mentions = mentions
        self.intents = intents
        self.painPoints = painPoints
        self.entities = entities
    }

    public static let empty = MessageAnalysis()
}

/// The result of analysing a conversation's messages: one `MessageAnalysis` per input message,
/// in order, and the detector that produced it (stored with the evidence).
public struct ChatAnalysis: Sendable, Equatable {
    public var messages: [MessageAnalysis]
    public var detector: String

    public init(messages: [MessageAnalysis], detector: String) {
        self.messages = messages
        self.detector = detector
    }
}
