import Foundation

/// The difference of two conversion rates with a normal-approximation confidence interval
/// (unpooled standard error): p₁ − p₂ ± z·√(p₁(1−p₁)/n₁ + p₂(1−p₂)/n₂).
struct TwoProportionInterval: Sendable, Equatable {
    let difference: Double
    let low: Double
    let high: Double

    /// z for a two-sided 95 % interval.
    static let z95 = 1.959964

    /// nil when either group is empty (no rate to compare).
    init?(successes1: Int, trials1: Int, successes2: Int, trials2: Int, z: Double = z95) {
        guard trials1 > 0, trials2 > 0 else { return nil }
        let p1 = Double(successes1) / Double(trials1)
        let p2 = Double(successes2) / Double(trials2)
        let standardError = (p1 * (1 - p1) / Double(trials1) + p2 * (1 - p2) / Double(trials2)).squareRoot()
        difference = p1 - p2
        low = difference - z * standardError
        high = difference + z * standardError
    }
}
