import Foundation
import InterestAnalysis
import ProfileModel
import TextEmbedding

// `bench-interests [--analyzer keyword|hybrid] [--items N] [--messages N]`: messages analysed per
// second against a synthetic catalog of N items (default 500) built from the demo catalog's
// vocabulary, so that phrases overlap as they do in a real catalog; for the hybrid analyser also
// the time to embed the catalog and the process's resident memory with the model loaded. One
// core (OPENBLAS_NUM_THREADS=1). Run with `-c release`.
var itemCount = 500
var messageCount = 20_000
var analyzerName = "keyword"
/// Conversations (of one message each) per analyser call, as one engine batch hands them over.
var perCall = 1
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let argument = arguments.next() {
    switch argument {
    case "--items": itemCount = Int(arguments.next() ?? "") ?? itemCount
    case "--messages": messageCount = Int(arguments.next() ?? "") ?? messageCount
    case "--analyzer": analyzerName = arguments.next() ?? analyzerName
    case "--per-call": perCall = max(1, Int(arguments.next() ?? "") ?? perCall)
    default:
        print("usage: bench-interests [--analyzer keyword|hybrid] [--items N] [--messages N] [--per-call N]")
        exit(2)
    }
}

let demo = try CatalogFile(path: "config/demo-catalog.yaml").catalog
let evaluation = try InterestEvaluation(text: String(contentsOfFile: "Tests/interest-eval/conversations.txt", encoding: .utf8))
let messages = evaluation.conversations.flatMap(\.turns).filter { $0.role == .user }.map(\.text)

// Variants of each demo item: the same words under new slugs and names, plus a numbered
// product line word, so the index holds N items with realistic overlap.
let lines = ["Cloud", "Pro", "Edge", "Team", "Enterprise", "Lite", "Plus", "Flow", "Hub", "One", "Max", "Go", "Studio", "Suite", "Core"]
var items: [CatalogItem] = []
for n in 0..<itemCount {
    var item = demo.items[n % demo.items.count]
    let variant = n / demo.items.count
    if variant > 0 {
        let line = lines[variant % lines.count]
        item = CatalogItem(slug: "\(item.slug)-\(variant)", kind: item.kind, name: "\(item.name) \(line) \(variant)", categorySlug: item.categorySlug,
                           description: item.description, keywords: item.keywords.map { "\($0) \(line.lowercased())" },
                           synonyms: item.synonyms.map { "\(line.lowercased()) \($0)" }, urlPatterns: item.urlPatterns.map { "/\(line.lowercased())\($0)" })
    }
    items.append(item)
}
let catalog = Catalog(categories: demo.categories, items: items)
let buildStart = ContinuousClock.now
let index = CatalogIndex(catalog: catalog)
let buildTime = ContinuousClock.now - buildStart

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

/// VmRSS of this process, in MiB.
func residentMiB() -> Double {
    let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
    return (Double(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) / 1024
}

print("catalog: \(catalog.items.count) items, \(catalog.categories.count) categories; index built in \(buildTime)")
let analyzer: any ChatAnalyzer
switch analyzerName {
case "keyword": analyzer = OfflineChatAnalyzer()
case "hybrid":
    let before = residentMiB()
    let directory = ProcessInfo.processInfo.environment["EMBEDDING_MODEL_DIR"] ?? ".models/all-MiniLM-L6-v2"
    let embedder = try MiniLMEmbedder(modelDirectory: URL(fileURLWithPath: directory))
    let hybrid = HybridChatAnalyzer(embedder: embedder, exemplars: try IntentExemplars(contentsOf: URL(fileURLWithPath: "config/intent-exemplars.txt")))
    let exemplarStart = ContinuousClock.now
    _ = await hybrid.analyze([ChatTurn(role: .user, text: "hello")], catalog: CatalogIndex(catalog: .empty))
    let exemplarTime = ContinuousClock.now - exemplarStart
    let embedStart = ContinuousClock.now
    let semantic = try await hybrid.prepareSemanticCatalog(catalog, known: [:])
    let embedTime = ContinuousClock.now - embedStart
    let texts = semantic.items.map(\.texts.count).reduce(0, +)
    print(String(format: "model loaded: RSS %.0f MiB (%.0f MiB before loading); exemplars embedded and regression trained in %.2f s",
                 residentMiB(), before, seconds(exemplarTime)))
    print(String(format: "catalog embedded: %d items, %d texts in %.2f s (%.0f texts/s)", semantic.items.count, texts, seconds(embedTime),
                 Double(texts) / seconds(embedTime)))
    analyzer = hybrid
default:
    print("unknown analyser \(analyzerName)")
    exit(2)
}

// Conversations of one message each, as the engine sees a chat event's new visitor messages.
var mentions = 0
let start = ContinuousClock.now
for first in stride(from: 0, to: messageCount, by: perCall) {
    let conversations = (first..<min(messageCount, first + perCall)).map { [ChatTurn(role: .user, text: messages[$0 % messages.count])] }
    for analysis in await analyzer.analyze(conversations: conversations, catalog: index) { mentions += analysis.messages[0].mentions.count }
}
let elapsed = seconds(ContinuousClock.now - start)
print("analysed \(messageCount) messages (\(messages.count) distinct, avg \(messages.map(\.count).reduce(0, +) / max(1, messages.count)) chars) in "
      + String(format: "%.2f s, %d per call: %.0f messages/s (%d mentions); RSS %.0f MiB", elapsed, perCall, Double(messageCount) / elapsed, mentions, residentMiB()))

if analyzerName == "hybrid", let hybrid = analyzer as? HybridChatAnalyzer, let model = hybrid.embedder as? MiniLMEmbedder {
    // The embedding alone: each distinct message on its own, then all of them in one call.
    let single = ContinuousClock.now
    for message in messages { _ = model.embedOnCurrentThread([message]) }
    let singleTime = seconds(ContinuousClock.now - single)
    let batched = ContinuousClock.now
    _ = model.embedOnCurrentThread(messages)
    let batchedTime = seconds(ContinuousClock.now - batched)
    let tokens = messages.map { model.tokenizer.tokenIDs($0).count }.reduce(0, +)
    print(String(format: "embedding alone: %.1f ms a message one by one, %.1f ms batched (%d messages, %.0f tokens each)",
                 singleTime * 1000 / Double(messages.count), batchedTime * 1000 / Double(messages.count), messages.count,
                 Double(tokens) / Double(messages.count)))
}
