import ArgumentParser
import Foundation
import Logging
import PostgresNIO

/// What each executable plugs into the shared command line: its name, how it serves, and any
/// extra admin subcommands.
public protocol ServiceEntry {
    static var name: String { get }
    static var abstract: String { get }
    static var extraCommands: [any ParsableCommand.Type] { get }
    /// Runs the service until SIGTERM/SIGINT; throws if it cannot start.
    static func serve(_ environment: ServiceEnvironment) async throws
}

extension ServiceEntry {
    public static var extraCommands: [any ParsableCommand.Type] { [] }
}

/// `<service> [serve|migrate|…] [--help]`.
public struct ServiceCommand<Entry: ServiceEntry>: AsyncParsableCommand {
    public static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: Entry.name,
            abstract: Entry.abstract,
            discussion: "Configured by environment variables (DATABASE_URL, BIND_HOST, ports, …); see README.md.",
            subcommands: [ServeCommand<Entry>.self, MigrateCommand<Entry>.self] + Entry.extraCommands,
            defaultSubcommand: ServeCommand<Entry>.self)
    }

    public init() {}

    /// Parses the command line and runs the chosen subcommand asynchronously. (Calling `main()` from
    /// top-level code picks ParsableCommand's synchronous overload, which cannot run async commands.)
    public static func runMain() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}

/// Runs the service.
public struct ServeCommand<Entry: ServiceEntry>: AsyncParsableCommand {
    public static var configuration: CommandConfiguration {
        CommandConfiguration(commandName: "serve", abstract: "Run the \(Entry.name) service (the default).")
    }

    public init() {}

    public func run() async throws {
        try await runReportingErrors(service: Entry.name) {
            let environment = try bootstrappedEnvironment(service: Entry.name)
            environment.logger.info("starting", metadata: ["database": "\(environment.common.database.redacted)"])
            try await Entry.serve(environment)
            environment.logger.info("stopped")
        }
    }
}

/// Applies the SQL migrations; safe to run from several instances at once.
public struct MigrateCommand<Entry: ServiceEntry>: AsyncParsableCommand {
    public static var configuration: CommandConfiguration {
        CommandConfiguration(commandName: "migrate", abstract: "Apply the database migrations in SQL_DIR and exit.")
    }

    public init() {}

    public func run() async throws {
        try await runReportingErrors(service: Entry.name) {
            let environment = try bootstrappedEnvironment(service: Entry.name)
            let applied = try await withDatabase(environment) { client in
                let applied = try await environment.migrationRunner.migrate(client)
                try await ServiceRoles.setPasswords(from: environment.reader, client, logger: environment.logger)
                return applied
            }
            let summary = applied.isEmpty ? "schema already at version \(environment.expectedSchemaVersion)" : "applied migrations \(applied.map(String.init).joined(separator: ", "))"
            print("\(Entry.name) migrate: \(summary)")
        }
    }
}

/// Reads the environment and installs the log handler; configuration errors surface here.
public func bootstrappedEnvironment(service: String) throws -> ServiceEnvironment {
    let reader = EnvironmentReader()
    let common = try CommonConfig(environment: reader)
    LoggingSetup.bootstrap(service: service, level: common.logLevel, format: common.logFormat)
    return try ServiceEnvironment(serviceName: service, reader: reader)
}

/// Runs `body` with a running Postgres client, for one-shot admin commands.
public func withDatabase<T: Sendable>(_ environment: ServiceEnvironment, _ body: @escaping @Sendable (PostgresClient) async throws -> T) async throws -> T {
    let client = environment.makeClient(maximumConnections: 4)
    return try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask {
            await client.run()
            return nil
        }
        defer { group.cancelAll() }
        // Let run() start before the first lease, which otherwise logs a warning.
        try await Task.sleep(for: .milliseconds(20))
        return try await body(client)
    }
}

/// Prints a one-line reason and exits non-zero instead of a stack of Swift error text.
func runReportingErrors(service: String, _ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as ExitCode {
        throw error
    } catch {
        FileHandle.standardError.write(Data("\(service): \(describeDatabaseError(error))\n".utf8))
        throw ExitCode(1)
    }
}
