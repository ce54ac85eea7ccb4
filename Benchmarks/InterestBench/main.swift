import Foundation
import InterestAnalysis
import ProfileModel

// `bench-interests [--items N] [--messages N]`: messages analysed per second by the offline
// analyser against a synthetic catalog of N items (default 500) built from the demo catalog's
// vocabulary, so that phrases overlap as they do in a real catalog. Run with `-c release`.
var itemCount = 500
var messageCount = 20_000
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let argument = arguments.next() {
    switch argument {
    case "--items": itemCount = Int(arguments.next() ?? "") ?? itemCount
    case "--messages": messageCount = Int(arguments.next() ?? "") ?? messageCount
    default:
        print("usage: bench-interests [--items N] [--messages N]")
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

let analyzer = OfflineChatAnalyzer()
var mentions = 0
let start = ContinuousClock.now
for n in 0..<messageCount {
    mentions += analyzer.analyze(messages[n % messages.count], catalog: index).mentions.count
}
let elapsed = ContinuousClock.now - start
let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
print("catalog: \(catalog.items.count) items, \(catalog.categories.count) categories; index built in \(buildTime)")
print("analysed \(messageCount) messages (\(messages.count) distinct, avg \(messages.map(\.count).reduce(0, +) / max(1, messages.count)) chars) in "
      + String(format: "%.2f s: %.0f messages/s (%d mentions)", seconds, Double(messageCount) / seconds, mentions))
