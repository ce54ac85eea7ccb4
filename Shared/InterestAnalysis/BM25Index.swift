import Foundation
import ProfileModel

/// Okapi BM25 over the catalog items' texts (name, description, keywords, synonyms): ranks items
/// for a message by the rarer words they share, which settles phrases shared by several items
/// and finds items described but not named.
struct BM25Index: Sendable {
    private struct Document: Sendable {
        let target: InterestTarget
        let frequencies: [String: Int]
        let length: Int
    }

    private let documents: [Document]
    private let idf: [String: Double]
    private let averageLength: Double
    private static let k1 = 1.2
    private static let b = 0.75

    init(documents: [(InterestTarget, String)]) {
        self.documents = documents.map { target, text in
            let stems = TextNormalizer.tokens(text).filter { !StopWords.all.contains($0.text) }.map(\.stem)
            return Document(target: target, frequencies: stems.reduce(into: [:]) { $0[$1, default: 0] += 1 }, length: stems.count)
        }
        let n = Double(max(self.documents.count, 1))
        var frequencyOfTerm: [String: Int] = [:]
        for document in self.documents { for term in document.frequencies.keys { frequencyOfTerm[term, default: 0] += 1 } }
        self.idf = frequencyOfTerm.mapValues { log(1 + (n - Double($0) + 0.5) / (Double($0) + 0.5)) }
        self.averageLength = self.documents.isEmpty ? 1 : Double(self.documents.map(\.length).reduce(0, +)) / n
    }

    /// Scores of the items that share at least one term with the query, with how many distinct
    /// query terms each shares.
    func scores(for stems: [String]) -> [InterestTarget: (score: Double, terms: Int)] {
        let terms = Set(stems)
        var result: [InterestTarget: (score: Double, terms: Int)] = [:]
        for document in documents {
            var score = 0.0
            var shared = 0
            for term in terms {
                guard let tf = document.frequencies[term].map(Double.init), let idf = idf[term] else { continue }
                shared += 1
                score += idf * tf * (Self.k1 + 1) / (tf + Self.k1 * (1 - Self.b + Self.b * Double(document.length) / averageLength))
            }
            if shared > 0 { result[document.target] = (score, shared) }
        }
        return result
    }

    /// The inverse document frequency of a term (0 for unknown terms).
    func inverseFrequency(_ term: String) -> Double { idf[term] ?? 0 }
}
