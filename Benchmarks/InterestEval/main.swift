import Foundation
import InterestAnalysis
import ProfileModel

// `interest-eval [--set FILE] [--catalog FILE] [--verbose]`: scores the offline analyser on the
// labelled conversations; run from the repository root.
var setPath = "Tests/interest-eval/conversations.txt"
var catalogPath = "config/demo-catalog.yaml"
var verbose = false
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let argument = arguments.next() {
    switch argument {
    case "--set": setPath = arguments.next() ?? setPath
    case "--catalog": catalogPath = arguments.next() ?? catalogPath
    case "--verbose", "-v": verbose = true
    case "--help", "-h":
        print("usage: interest-eval [--set FILE] [--catalog FILE] [--verbose]")
        exit(0)
    default:
        FileHandle.standardError.write(Data("interest-eval: unknown argument \(argument)\n".utf8))
        exit(2)
    }
}

do {
    let file = try CatalogFile(path: catalogPath)
    guard file.rejections.isEmpty else {
        FileHandle.standardError.write(Data("interest-eval: catalog rows rejected:\n\(file.rejections.map(\.description).joined(separator: "\n"))\n".utf8))
        exit(1)
    }
    let evaluation = try InterestEvaluation(text: String(contentsOfFile: setPath, encoding: .utf8))
    let unknown = evaluation.unknownItems(in: file.catalog)
    guard unknown.isEmpty else {
        FileHandle.standardError.write(Data("interest-eval: labels name unknown items: \(unknown.sorted())\n".utf8))
        exit(1)
    }
    let report = await evaluation.run(OfflineChatAnalyzer(), catalog: CatalogIndex(catalog: file.catalog))
    if verbose {
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
    func percent(_ value: Double) -> String { String(format: "%.3f", value) }
    print("conversations: \(report.outcomes.count)")
    print("interests: precision \(percent(report.precision))  recall \(percent(report.recall))  F1 \(percent(report.f1))"
          + "  (tp \(report.truePositives), fp \(report.falsePositives), fn \(report.falseNegatives))")
    print("intents: accuracy \(percent(report.intentAccuracy))")
    for intent in ChatIntent.allCases {
        if let (correct, total) = report.intentBreakdown[intent] { print("  \(intent.rawValue): \(correct)/\(total)") }
    }
} catch {
    FileHandle.standardError.write(Data("interest-eval: \(error)\n".utf8))
    exit(1)
}
