import CBLAS
import Foundation

/// A BERT encoder with mean pooling and L2 normalisation, i.e. what sentence-transformers runs for
/// all-MiniLM-L6-v2, computed on the CPU with BLAS.
struct BERTEncoder: Sendable {
    let configuration: BERTConfiguration

    /// Where a tensor starts in `parameters`.
    private struct Slice: Sendable {
        let offset: Int
    }

    private struct Layer: Sendable {
        /// Query, key and value weights stacked into one [3H, H] matrix: one product instead of three.
        let qkvWeight: Slice
        let qkvBias: Slice
        let attentionOutputWeight: Slice
        let attentionOutputBias: Slice
        let attentionNormWeight: Slice
        let attentionNormBias: Slice
        let intermediateWeight: Slice
        let intermediateBias: Slice
        let outputWeight: Slice
        let outputBias: Slice
        let outputNormWeight: Slice
        let outputNormBias: Slice
    }

    /// Every weight in one buffer, so the forward pass needs a single pointer to all of them.
    private let parameters: [Float]
    private let wordEmbeddings: Slice
    private let positionEmbeddings: Slice
    private let tokenTypeEmbeddings: Slice
    private let embeddingNormWeight: Slice
    private let embeddingNormBias: Slice
    private let layers: [Layer]

    /// Copies the weights out of `weights`, checking every tensor's dtype and shape against `configuration`.
    init(configuration: BERTConfiguration, weights: SafetensorsFile) throws {
        // Each call's products run on the calling thread. OpenBLAS's own thread pool deadlocked
        // the test process when several threads called sgemm at once while others forked, and
        // callers already run one embedding per thread.
        openblas_set_num_threads(1)
        let h = configuration.hiddenSize
        let i = configuration.intermediateSize
        // BertModel checkpoints name tensors "embeddings.…"; BertForMaskedLM and friends "bert.embeddings.…".
        let prefix = weights.tensors["embeddings.word_embeddings.weight"] == nil
            && weights.tensors["bert.embeddings.word_embeddings.weight"] != nil ? "bert." : ""

        var plan: [(names: [String], shape: [Int])] = []
        var total = 0
        func slice(_ names: [String], _ shape: [Int]) -> Slice {
            let count = shape.reduce(1, *) * names.count
            plan.append((names.map { prefix + $0 }, shape))
            defer { total += count }
            return Slice(offset: total)
        }
        wordEmbeddings = slice(["embeddings.word_embeddings.weight"], [configuration.vocabularySize, h])
        positionEmbeddings = slice(["embeddings.position_embeddings.weight"], [configuration.maxPositionEmbeddings, h])
        tokenTypeEmbeddings = slice(["embeddings.token_type_embeddings.weight"], [configuration.tokenTypeCount, h])
        embeddingNormWeight = slice(["embeddings.LayerNorm.weight"], [h])
        embeddingNormBias = slice(["embeddings.LayerNorm.bias"], [h])
        var layers: [Layer] = []
        for index in 0 ..< configuration.layerCount {
            let p = "encoder.layer.\(index)."
            let attention = p + "attention.self."
            layers.append(Layer(
                qkvWeight: slice([attention + "query.weight", attention + "key.weight", attention + "value.weight"], [h, h]),
                qkvBias: slice([attention + "query.bias", attention + "key.bias", attention + "value.bias"], [h]),
                attentionOutputWeight: slice([p + "attention.output.dense.weight"], [h, h]),
                attentionOutputBias: slice([p + "attention.output.dense.bias"], [h]),
                attentionNormWeight: slice([p + "attention.output.LayerNorm.weight"], [h]),
                attentionNormBias: slice([p + "attention.output.LayerNorm.bias"], [h]),
                intermediateWeight: slice([p + "intermediate.dense.weight"], [i, h]),
                intermediateBias: slice([p + "intermediate.dense.bias"], [i]),
                outputWeight: slice([p + "output.dense.weight"], [h, i]),
                outputBias: slice([p + "output.dense.bias"], [h]),
                outputNormWeight: slice([p + "output.LayerNorm.weight"], [h]),
                outputNormBias: slice([p + "output.LayerNorm.bias"], [h])))
        }
        self.layers = layers
        // Every tensor is checked before anything is allocated: a config.json with absurd sizes
        // then fails on the first shape instead of asking for terabytes.
        let tensors = try plan.flatMap { names, shape in try names.map { try weights.floatTensor($0, shape: shape) } }
        parameters = [Float](unsafeUninitializedCapacity: total) { buffer, initialized in
            var offset = 0
            for tensor in tensors {
                let count = tensor.byteRange.count / 4
                weights.copyFloats(of: tensor, into: UnsafeMutableBufferPointer(rebasing: buffer[offset ..< offset + count]))
                offset += count
            }
            initialized = total
        }
        self.configuration = configuration
    }

    /// One unit vector per sequence. Every id must be below the vocabulary size and every
    /// sequence between 1 and max_position_embeddings long (the tokenizer sees to both).
    func embed(_ sequences: [[Int32]]) -> [[Float]] {
        let lengths = sequences.map(\.count)
        let tokens = lengths.reduce(0, +)
        guard tokens > 0 else { return sequences.map { _ in [Float](repeating: 0, count: configuration.hiddenSize) } }
        return parameters.withUnsafeBufferPointer { parameters in
            let base = parameters.baseAddress!
            let workspace = Workspace(tokens: tokens, longest: lengths.max()!, configuration: configuration)
            defer { workspace.deallocate() }
            embedTokens(sequences, base: base, into: workspace.hidden)
            for layer in layers {
                runLayer(layer, lengths: lengths, base: base, workspace: workspace)
            }
            return meanPooledUnitVectors(workspace.hidden, lengths: lengths)
        }
    }

    // MARK: Forward pass

    /// Scratch buffers for one call, sized for all of its tokens.
    private struct Workspace {
        let hidden: UnsafeMutablePointer<Float>      // [T, H], the layers' input and output
        let qkv: UnsafeMutablePointer<Float>         // [T, 3H]
        let context: UnsafeMutablePointer<Float>     // [T, H]
        let projected: UnsafeMutablePointer<Float>   // [T, H]
        let intermediate: UnsafeMutablePointer<Float> // [T, I]
        let scores: UnsafeMutablePointer<Float>      // [L, L] for the longest sequence

        init(tokens: Int, longest: Int, configuration: BERTConfiguration) {
            let h = configuration.hiddenSize
            hidden = .allocate(capacity: tokens * h)
            qkv = .allocate(capacity: tokens * 3 * h)
            context = .allocate(capacity: tokens * h)
            projected = .allocate(capacity: tokens * h)
            intermediate = .allocate(capacity: tokens * configuration.intermediateSize)
            scores = .allocate(capacity: longest * longest)
        }

        func deallocate() {
            for buffer in [hidden, qkv, context, projected, intermediate, scores] { buffer.deallocate() }
        }
    }

    /// Word + position + token type 0 embeddings, layer-normalised. Sequences are packed one
    /// after another with no padding, so a batch computes exactly what each text would alone.
    private func embedTokens(_ sequences: [[Int32]], base: UnsafePointer<Float>, into hidden: UnsafeMutablePointer<Float>) {
        let h = configuration.hiddenSize
        let words = base + wordEmbeddings.offset
        let positions = base + positionEmbeddings.offset
        let tokenType = base + tokenTypeEmbeddings.offset
        var row = hidden
        for sequence in sequences {
            for (position, id) in sequence.enumerated() {
                let word = words + Int(id) * h
                let place = positions + position * h
                for k in 0 ..< h { row[k] = word[k] + place[k] + tokenType[k] }
                layerNormalize(row, weight: base + embeddingNormWeight.offset, bias: base + embeddingNormBias.offset)
                row += h
            }
        }
    }

    private func runLayer(_ layer: Layer, lengths: [Int], base: UnsafePointer<Float>, workspace: Workspace) {
        let h = configuration.hiddenSize
        let tokens = lengths.reduce(0, +)
        let heads = configuration.attentionHeadCount
        let d = configuration.headSize
        let scale = 1 / Float(d).squareRoot()

        linear(workspace.hidden, rows: tokens, inputs: h, weight: base + layer.qkvWeight.offset,
               bias: base + layer.qkvBias.offset, outputs: 3 * h, into: workspace.qkv)
        var start = 0
        for length in lengths {
            for head in 0 ..< heads {
                let query = workspace.qkv + start * 3 * h + head * d
                attend(query: query, length: length, scale: scale, scores: workspace.scores,
                       into: workspace.context + start * h + head * d)
            }
            start += length
        }
        linear(workspace.context, rows: tokens, inputs: h, weight: base + layer.attentionOutputWeight.offset,
               bias: base + layer.attentionOutputBias.offset, outputs: h, into: workspace.projected)
        addAndNormalize(workspace.projected, residual: workspace.hidden, rows: tokens,
                        weight: base + layer.attentionNormWeight.offset, bias: base + layer.attentionNormBias.offset)

        let i = configuration.intermediateSize
        linear(workspace.hidden, rows: tokens, inputs: h, weight: base + layer.intermediateWeight.offset,
               bias: base + layer.intermediateBias.offset, outputs: i, into: workspace.intermediate)
        gelu(workspace.intermediate, count: tokens * i)
        linear(workspace.intermediate, rows: tokens, inputs: i, weight: base + layer.outputWeight.offset,
               bias: base + layer.outputBias.offset, outputs: h, into: workspace.projected)
        addAndNormalize(workspace.projected, residual: workspace.hidden, rows: tokens,
                        weight: base + layer.outputNormWeight.offset, bias: base + layer.outputNormBias.offset)
    }

    /// One head of self-attention for one sequence: softmax(Q Kᵀ / √d) V, where Q, K and V are this
    /// head's columns of the qkv rows (row stride 3H).
    private func attend(query: UnsafePointer<Float>, length: Int, scale: Float, scores: UnsafeMutablePointer<Float>,
                        into output: UnsafeMutablePointer<Float>) {
        let h = configuration.hiddenSize
        let d = configuration.headSize
        let key = query + h
        let value = query + 2 * h
        // Separate products per sequence and head: each query then sees only its own sequence's
        // keys, which is what an attention mask over padding would achieve.
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(length), Int32(length), Int32(d),
                    scale, query, Int32(3 * h), key, Int32(3 * h), 0, scores, Int32(length))
        softmaxRows(scores, rows: length)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(length), Int32(d), Int32(length),
                    1, scores, Int32(length), value, Int32(3 * h), 0, output, Int32(h))
    }

    /// output = input · weightᵀ + bias, with weight stored [outputs, inputs] as PyTorch's Linear keeps it.
    private func linear(_ input: UnsafePointer<Float>, rows: Int, inputs: Int, weight: UnsafePointer<Float>,
                        bias: UnsafePointer<Float>, outputs: Int, into output: UnsafeMutablePointer<Float>) {
        for row in 0 ..< rows { (output + row * outputs).update(from: bias, count: outputs) }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(outputs), Int32(inputs),
                    1, input, Int32(inputs), weight, Int32(inputs), 1, output, Int32(outputs))
    }

    /// hidden = LayerNorm(sum + hidden), row by row; the sum buffer is consumed.
    private func addAndNormalize(_ sum: UnsafeMutablePointer<Float>, residual hidden: UnsafeMutablePointer<Float>,
                                 rows: Int, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>) {
        let h = configuration.hiddenSize
        for row in 0 ..< rows {
            let target = hidden + row * h
            let source = sum + row * h
            for k in 0 ..< h { target[k] += source[k] }
            layerNormalize(target, weight: weight, bias: bias)
        }
    }

    private func layerNormalize(_ row: UnsafeMutablePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>) {
        let h = configuration.hiddenSize
        let mean = Self.sum(row, count: h) / Float(h)
        // Biased variance, as torch.nn.LayerNorm.
        let variance = Self.sumOfSquares(row, count: h, around: mean) / Float(h)
        let inverse = 1 / (variance + configuration.layerNormEpsilon).squareRoot()
        for k in 0 ..< h { row[k] = (row[k] - mean) * inverse * weight[k] + bias[k] }
    }

    private func softmaxRows(_ scores: UnsafeMutablePointer<Float>, rows: Int) {
        for row in 0 ..< rows {
            let values = scores + row * rows
            let largest = Self.maximum(values, count: rows)
            for k in 0 ..< rows { values[k] = Self.exponential(values[k] - largest) }
            let inverse = 1 / Self.sum(values, count: rows)
            for k in 0 ..< rows { values[k] *= inverse }
        }
    }

    /// e^x for x ≤ 0 (softmax's shifted scores), within 1.5 ulp: 2^n · e^r with Cephes' expf
    /// polynomial for e^r. Branch- and call-free, so the loop vectorises; expf calls were an
    /// eighth of a long text's time.
    @inline(__always)
    private static func exponential(_ value: Float) -> Float {
        let x = min(max(value, -87), 0)
        // Adding 1.5·2²³ rounds x·log₂e to the integer n and leaves n in the low mantissa bits.
        let shifted = x * 1.44269504088896341 + 12582912
        let n = shifted - 12582912
        let r = x - n * 0.693359375 + n * 2.12194440e-4
        var p: Float = 1.9875691500e-4
        p = p * r + 1.3981999507e-3
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        let power = Float(bitPattern: (shifted.bitPattern &- 0x4B40_0000 &+ 127) &<< 23)
        return (p * r * r + r + 1) * power
    }

    // The reductions keep eight running results: the compiler may not reorder one float
    // accumulator into vector lanes itself, and the scalar chains were a tenth of a long text's time.

    private static func sum(_ values: UnsafePointer<Float>, count: Int) -> Float {
        var lanes = SIMD8<Float>()
        var k = 0
        while k + 8 <= count {
            lanes += UnsafeRawPointer(values + k).loadUnaligned(as: SIMD8<Float>.self)
            k += 8
        }
        var total = lanes.sum()
        while k < count {
            total += values[k]
            k += 1
        }
        return total
    }

    private static func sumOfSquares(_ values: UnsafePointer<Float>, count: Int, around mean: Float) -> Float {
        var lanes = SIMD8<Float>()
        var k = 0
        while k + 8 <= count {
            let centred = UnsafeRawPointer(values + k).loadUnaligned(as: SIMD8<Float>.self) - mean
            lanes += centred * centred
            k += 8
        }
        var total = lanes.sum()
        while k < count {
            total += (values[k] - mean) * (values[k] - mean)
            k += 1
        }
        return total
    }

    private static func maximum(_ values: UnsafePointer<Float>, count: Int) -> Float {
        var lanes = SIMD8<Float>(repeating: -.infinity)
        var k = 0
        while k + 8 <= count {
            // Not pointwiseMax, which stays an out-of-line generic call in the loop.
            let next = UnsafeRawPointer(values + k).loadUnaligned(as: SIMD8<Float>.self)
            lanes.replace(with: next, where: next .> lanes)
            k += 8
        }
        var largest = lanes.max()
        while k < count {
            largest = max(largest, values[k])
            k += 1
        }
        return largest
    }

    /// GELU in its exact form, x·Φ(x) = ½x(1 + erf(x/√2)), which is what HF's "gelu" means (not the
    /// tanh approximation).
    private func gelu(_ values: UnsafeMutablePointer<Float>, count: Int) {
        for k in 0 ..< count {
            let x = values[k]
            values[k] = 0.5 * x * (1 + Self.erf(x * 0.70710678118654752))
        }
    }

    /// erf as a rational function (the one Eigen and XLA use for float): within 5e-7 of the true
    /// value, and unlike libm's erff it vectorises; erff calls took a third of the forward pass.
    @inline(__always)
    private static func erf(_ value: Float) -> Float {
        // |erf| rounds to 1 in float beyond 4, and the polynomials diverge there.
        let x = min(max(value, -4), 4)
        let x2 = x * x
        var p: Float = -2.72614225801306e-10
        p = p * x2 + 2.77068142495902e-08
        p = p * x2 - 2.10102402082508e-06
        p = p * x2 - 5.69250639462346e-05
        p = p * x2 - 7.34990630326855e-04
        p = p * x2 - 2.95459980854025e-03
        p = p * x2 - 1.60960333262415e-02
        var q: Float = -1.45660718464996e-05
        q = q * x2 - 2.13374055278905e-04
        q = q * x2 - 1.68282697438203e-03
        q = q * x2 - 7.37332916720468e-03
        q = q * x2 - 1.42647390514189e-02
        return x * p / q
    }

    /// Means over each sequence's tokens ([CLS] and [SEP] included, as sentence-transformers
    /// pools), scaled to unit length.
    private func meanPooledUnitVectors(_ hidden: UnsafePointer<Float>, lengths: [Int]) -> [[Float]] {
        let h = configuration.hiddenSize
        var start = 0
        return lengths.map { length in
            defer { start += length }
            return [Float](unsafeUninitializedCapacity: h) { vector, initialized in
                vector.initialize(repeating: 0)
                for token in start ..< start + length {
                    let row = hidden + token * h
                    for k in 0 ..< h { vector[k] += row[k] }
                }
                var squares: Float = 0
                for k in 0 ..< h { squares += vector[k] * vector[k] }
                // The mean's 1/length cancels in the normalisation; the floor is F.normalize's.
                let inverse = 1 / max(squares.squareRoot(), 1e-12)
                for k in 0 ..< h { vector[k] *= inverse }
                initialized = h
            }
        }
    }
}
