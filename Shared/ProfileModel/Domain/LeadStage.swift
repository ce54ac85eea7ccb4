/// A profile's place in the lead funnel (`visitor_profiles.stage`, `stage_transitions`), in funnel
/// order: each stage is further along than the ones before it.
public enum LeadStage: String, Sendable, CaseIterable, Codable, Comparable {
    case anonymous, known, engaged, mql, sql, customer

    /// The stage names in funnel order, as the schema's CHECK constraints list them.
    public static let names: [String] = allCases.map(\.rawValue)

    public static func < (lhs: LeadStage, rhs: LeadStage) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}
