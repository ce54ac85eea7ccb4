import CBLAS
import Foundation

/// Multinomial logistic regression from sentence vectors to intents (and "none"), trained on the
/// exemplars when the analyser first needs it: unlike a vote of the nearest exemplars, it learns
/// which directions of the embedding space separate the intents, so a sentence unlike any single
/// exemplar still lands on the right side. Training is deterministic (full-batch gradient descent
/// from zero weights, matrix products through BLAS) and takes milliseconds for a few hundred exemplars.
struct IntentRegression: Sendable {
    /// Class order: the intents, then "none".
    static let classes: [ChatIntent?] = ChatIntent.allCases.map { Optional($0) } + [nil]

    /// classes × dimensions, row-major.
    private let weights: [Float]
    private let biases: [Float]
    private let dimensions: Int

    init(exemplars: [IntentExemplars.Exemplar], vectors: [[Float]], iterations: Int = 300, learningRate: Float = 2, l2: Float = 0.001) {
        let k = Self.classes.count, n = vectors.count, d = vectors.first?.count ?? 0
        dimensions = d
        let inputs = vectors.flatMap { $0 }
        var weights = [Float](repeating: 0, count: k * d)
        var biases = [Float](repeating: 0, count: k)
        let labels = exemplars.map { exemplar in Self.classes.firstIndex { $0 == exemplar.intent } ?? k - 1 }
        // Each class weighs the same however many exemplars it has.
        var counts = [Float](repeating: 0, count: k)
        for label in labels { counts[label] += 1 }
        let sampleWeights = labels.map { 1 / (counts[$0] * Float(k)) }
        var logits = [Float](repeating: 0, count: n * k)
        var gradient = [Float](repeating: 0, count: k * d)
        for _ in 0..<iterations where n > 0 && d > 0 {
            // logits = inputs · weightsᵀ
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(n), Int32(k), Int32(d), 1, inputs, Int32(d), weights, Int32(d),
                        0, &logits, Int32(k))
            var biasGradient = [Float](repeating: 0, count: k)
            for row in 0..<n {
                let probabilities = Self.softmax(Array(logits[row * k..<(row + 1) * k]), biases)
                for c in 0..<k {
                    let error = (probabilities[c] - (labels[row] == c ? 1 : 0)) * sampleWeights[row]
                    logits[row * k + c] = error
                    biasGradient[c] += error
                }
            }
            // gradient = errorsᵀ · inputs (the errors overwrote the logits)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(k), Int32(d), Int32(n), 1, logits, Int32(k), inputs, Int32(d),
                        0, &gradient, Int32(d))
            for index in 0..<weights.count { weights[index] -= learningRate * (gradient[index] + l2 * weights[index]) }
            for c in 0..<k { biases[c] -= learningRate * biasGradient[c] }
        }
        self.weights = weights
        self.biases = biases
    }

    /// The probability of each class of `classes` for a sentence vector.
    func probabilities(_ vector: [Float]) -> [Float] {
        let k = Self.classes.count
        var logits = [Float](repeating: 0, count: k)
        guard vector.count == dimensions, dimensions > 0 else { return Self.softmax(logits, biases) }
        cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(k), Int32(dimensions), 1, weights, Int32(dimensions), vector, 1, 0, &logits, 1)
        return Self.softmax(logits, biases)
    }

    private static func softmax(_ logits: [Float], _ biases: [Float]) -> [Float] {
        let shifted = zip(logits, biases).map { $0 + $1 }
        let top = shifted.max() ?? 0
        let exponents = shifted.map { exp($0 - top) }
        let total = exponents.reduce(0, +)
        return exponents.map { $0 / total }
    }
}
