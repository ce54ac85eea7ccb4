import ArgumentParser
import Foundation
import ProfileModel
import ServiceKit

/// `profile-api catalog import FILE --site SLUG [--dry-run]`: loads a JSON, YAML or CSV catalog
/// into a site, reports rejected rows, and re-maps the interests the changes affect.
struct CatalogCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "catalog", abstract: "Manage a site's product/service catalog.",
                                                    subcommands: [CatalogImportCommand.self])
}

struct CatalogImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import or update a catalog from a .json, .yaml/.yml or .csv file (upsert by slug).",
        discussion: "Rows that fail validation are listed and skipped; the others are imported. Interests affected by changed items are re-mapped.")

    @Argument(help: "The catalog file.")
    var file: String

    @Option(name: .long, help: "The site's slug.")
    var site: String

    @Flag(name: .long, help: "Validate and report without changing anything.")
    var dryRun = false

    func run() async throws {
        guard let format = CatalogFile.Format(path: file) else {
            throw ValidationError("\(file): use a .json, .yaml, .yml or .csv file")
        }
        let text: String
        do { text = try String(contentsOfFile: file, encoding: .utf8) } catch { throw ValidationError("\(file): \(error.localizedDescription)") }
        let environment = try bootstrappedEnvironment(service: ProfileAPIService.name)
        let importer = CatalogImporter(logger: environment.logger)
        let site = self.site, dryRun = self.dryRun
        let result: CatalogImporter.Result
        do {
            result = try await withDatabase(environment) { client in
                try await importer.importCatalog(text: text, format: format, siteSlug: site, dryRun: dryRun, client: client) { print($0) }
            }
        } catch let failure as CatalogImporter.Failure {
            throw ValidationError(failure.description)
        } catch let failure as CatalogFile.ParseError {
            throw ValidationError(failure.description)
        }
        let report = result.report
        let prefix = dryRun ? "dry run (nothing changed): would have " : ""
        print("\(prefix)created \(report.categoriesCreated.count) categories and \(report.itemsCreated.count) items, "
              + "updated \(report.categoriesUpdated.count) categories and \(report.itemsUpdated.count) items, \(report.unchanged) unchanged")
        if let remap = result.remapID {
            print("\(report.changedTargets.count) targets changed: the engine re-maps their interests (catalog_remaps.id \(remap))")
        }
        if !report.rejections.isEmpty {
            print("rejected \(report.rejections.count) rows:")
            for rejection in report.rejections { print("  \(rejection)") }
            throw ExitCode(2)
        }
    }
}
