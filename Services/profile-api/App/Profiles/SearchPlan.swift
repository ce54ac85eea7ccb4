import Foundation

/// Which shape `GET /v1/profiles` runs in when a condition has an index of its own (fields,
/// full text, interest, category, segment), decided from the planner's estimate of the matches.
///
/// A page can be found two ways. Walking the sort index (`created_at`, …) and testing each profile
/// reads about `page × profiles / matches` rows: cheap when matches are many. Collecting the
/// matches through their own index (GIN bitmap, interest index) and sorting them reads `matches`
/// rows: cheap when they are few. PostgreSQL makes this choice itself, but it prices a walked row
/// as if the heap page were already cached and a bitmap row as a random read, so it walks until
/// the matches are very few: with 3,200 matches in 1,000,000 profiles it walked 18,000 rows
/// (18,290 buffers, 97 ms) where collecting took 3,222 rows (1,984 buffers, 44 ms;
/// docs/BENCHMARKS.md). Here the choice uses measured costs instead: a collected row costs about
/// `collectedRowCost` walked rows, so collecting wins while `matches × collectedRowCost <
/// page × profiles / matches`.
enum SearchPlan {
    enum Shape: Equatable, Sendable {
        case walk, topN
        /// Collect at most this many matches, sorting them for the page; walk if there are more.
        case collectUpTo(Int)
    }

    /// Slugs resolved to ids before the search (see `ProfileFilter.namesQuery`).
    struct Names: Sendable {
        var itemIDs: [Int64] = []
        var categoryIDs: [Int64] = []
        var segmentIDs: [Int64] = []
        /// pg_class.reltuples of visitor_profiles.
        var profiles: Double = 0
    }

    /// Measured at 1,000,000 profiles, all buffers hit: a bitmap heap row with its recheck took
    /// 11 µs (plus 8 ms for the GIN scan), an index-walk row with its filter 5.4 µs. With it the
    /// crossover is near √(page × profiles / 2): 5,000 matches for pages of 50 among 1,000,000.
    static let collectedRowCost = 2.0

    static func shape(estimatedMatches: Double, profiles: Double, pageSize: Int) -> Shape {
        let matches = max(estimatedMatches, 1)
        return matches * collectedRowCost < Double(pageSize) * max(profiles, matches) / matches ? .topN : .walk
    }

    /// How many matches to collect for a condition the planner cannot estimate (a `fields`
    /// containment): from this many on, `shape` walks whatever the true number, so collecting
    /// further would only cost. At least 1,000, so a table whose statistics are not gathered yet
    /// is still collected usefully.
    static func collectionCap(profiles: Double, pageSize: Int) -> Int {
        max(1_000, Int((Double(pageSize) * max(profiles, 0) / collectedRowCost).squareRoot()) + 1)
    }

    /// "Plan Rows" of the top node of an `EXPLAIN (FORMAT JSON)` answer.
    static func estimatedRows(explain json: String) -> Double? {
        guard let plans = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]],
              let plan = plans.first?["Plan"] as? [String: Any] else { return nil }
        return (plan["Plan Rows"] as? NSNumber)?.doubleValue
    }
}
