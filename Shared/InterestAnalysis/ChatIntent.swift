/// What a visitor wants from a conversation. The order of `allCases` is the precedence used when a
/// conversation shows several (the most commercially decisive first).
public enum ChatIntent: String, Sendable, Codable, CaseIterable {
    case purchaseIntent = "purchase_intent"
    case demoRequest = "demo_request"
    case competitorComparison = "competitor_comparison"
    case pricingInquiry = "pricing_inquiry"
    case supportProblem = "support_problem"
    case jobSeeker = "job_seeker"
    case notInterested = "not_interested"
    case generalResearch = "general_research"

    var precedence: Int { Self.allCases.firstIndex(of: self) ?? Self.allCases.count }
}
