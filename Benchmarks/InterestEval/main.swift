import Foundation
import InterestAnalysis
import ProfileModel
import TextEmbedding

// `interest-eval [--set FILE --catalog FILE | --all] [--analyzer keyword|hybrid] [--model-dir DIR]
//  [--exemplars FILE] [--param name=value]… [--verbose]`: scores an analyser on labelled
// conversations; run from the repository root. `--all` reports the held-out sets, the
// development sets and the demo set (tuned on) one after another.
var setPath = "Tests/interest-eval/conversations.txt"
var catalogPath = "config/demo-catalog.yaml"
var analyzerName = "keyword"
var modelDirectory = ProcessInfo.processInfo.environment["EMBEDDING_MODEL_DIR"] ?? ".models/all-MiniLM-L6-v2"
var exemplarsPath = "config/intent-exemplars.txt"
var parameters = HybridParameters()
var all = false
var verbose = false
var trace = false

func fail(_ message: String, code: Int32 = 1) -> Never {
    FileHandle.standardError.write(Data("interest-eval: \(message)\n".utf8))
    exit(code)
}

var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let argument = arguments.next() {
    switch argument {
    case "--set": setPath = arguments.next() ?? setPath
    case "--catalog": catalogPath = arguments.next() ?? catalogPath
    case "--analyzer": analyzerName = arguments.next() ?? analyzerName
    case "--model-dir": modelDirectory = arguments.next() ?? modelDirectory
    case "--exemplars": exemplarsPath = arguments.next() ?? exemplarsPath
    case "--param":
        do { try parameters.set(arguments.next() ?? "") } catch { fail("\(error)", code: 2) }
    case "--all": all = true
    case "--verbose", "-v": verbose = true
    case "--trace": trace = true
    case "--help", "-h":
        print("usage: interest-eval [--set FILE --catalog FILE | --all] [--analyzer keyword|hybrid] [--model-dir DIR] [--exemplars FILE] [--param name=value]... [--verbose]")
        exit(0)
    default: fail("unknown argument \(argument)", code: 2)
    }
}

let analyzer: any ChatAnalyzer
switch analyzerName {
case "keyword": analyzer = OfflineChatAnalyzer()
case "hybrid":
    do {
        let embedder = try MiniLMEmbedder(modelDirectory: URL(fileURLWithPath: modelDirectory))
        analyzer = HybridChatAnalyzer(embedder: embedder, exemplars: try IntentExemplars(contentsOf: URL(fileURLWithPath: exemplarsPath)),
                                      parameters: parameters)
    } catch { fail("\(error)") }
default: fail("unknown analyser \(analyzerName) (keyword or hybrid)", code: 2)
}

/// The sets `--all` reports: held out first (the headline), then development, then the tuned demo set.
func allSets() -> [(name: String, set: String, catalog: String)] {
    var sets: [(String, String, String)] = []
    for (folder, label) in [("Tests/interest-eval/sets", "held out"), ("Tests/interest-eval/dev", "development")] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        for name in names.sorted() where FileManager.default.fileExists(atPath: "\(folder)/\(name)/conversations.txt") {
            sets.append(("\(name) (\(label))", "\(folder)/\(name)/conversations.txt", "\(folder)/\(name)/catalog.yaml"))
        }
    }
    sets.append(("demo software (tuned on)", "Tests/interest-eval/conversations.txt", "config/demo-catalog.yaml"))
    return sets
}

func percent(_ value: Double) -> String { String(format: "%.3f", value) }

func evaluate(set: String, catalog: String) async throws -> InterestEvaluation.Report {
    let file = try CatalogFile(path: catalog)
    guard file.rejections.isEmpty else { fail("catalog rows rejected:\n\(file.rejections.map(\.description).joined(separator: "\n"))") }
    let evaluation = try InterestEvaluation(text: String(contentsOfFile: set, encoding: .utf8))
    let unknown = evaluation.unknownItems(in: file.catalog)
    guard unknown.isEmpty else { fail("labels name unknown items: \(unknown.sorted())") }
    return await evaluation.run(analyzer, catalog: CatalogIndex(catalog: file.catalog))
}

func printMisses(_ report: InterestEvaluation.Report) {
    for outcome in report.outcomes {
        let expected = outcome.conversation.items, predicted = outcome.predictedItems
        guard expected != predicted || outcome.predictedIntent != outcome.conversation.intent else { continue }
        var line = "\(outcome.conversation.id):"
        if outcome.predictedIntent != outcome.conversation.intent {
            line += " intent \(outcome.conversation.intent.rawValue) → \(outcome.predictedIntent.rawValue);"
        }
        if !expected.subtracting(predicted).isEmpty { line += " missed \(expected.subtracting(predicted).sorted());" }
        if !predicted.subtracting(expected).isEmpty { line += " extra \(predicted.subtracting(expected).sorted());" }
        print(line)
    }
    print("")
}

do {
    if all {
        print("analyser: \(analyzerName)")
        print("| set | conversations | interest precision | recall | F1 | intent accuracy |")
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        for entry in allSets() {
            let report = try await evaluate(set: entry.set, catalog: entry.catalog)
            print("| \(entry.name) | \(report.outcomes.count) | \(percent(report.precision)) | \(percent(report.recall)) | \(percent(report.f1)) | \(percent(report.intentAccuracy)) |")
        }
    } else {
        let report = try await evaluate(set: setPath, catalog: catalogPath)
        if verbose { printMisses(report) }
        if trace, let hybrid = analyzer as? HybridChatAnalyzer {
            let catalog = try CatalogFile(path: catalogPath).catalog
            for outcome in report.outcomes where outcome.predictedItems != outcome.conversation.items
                || outcome.predictedIntent != outcome.conversation.intent {
                print("\(outcome.conversation.id) | \(outcome.conversation.intent.rawValue) → \(outcome.predictedIntent.rawValue) | \(outcome.conversation.items.sorted()) → \(outcome.predictedItems.sorted())")
                for turn in outcome.conversation.turns where turn.role == .user {
                    for line in try await hybrid.trace(turn.text, catalog: catalog) { print(line) }
                }
            }
        }
        print("conversations: \(report.outcomes.count)")
        print("interests: precision \(percent(report.precision))  recall \(percent(report.recall))  F1 \(percent(report.f1))"
              + "  (tp \(report.truePositives), fp \(report.falsePositives), fn \(report.falseNegatives))")
        print("intents: accuracy \(percent(report.intentAccuracy))")
        for intent in ChatIntent.allCases {
            if let (correct, total) = report.intentBreakdown[intent] { print("  \(intent.rawValue): \(correct)/\(total)") }
        }
    }
} catch {
    fail("\(error)")
}
