import ArgumentParser
import Foundation
import ServiceKit

/// `profile-api keys create|list|revoke`: API key administration from a terminal.
struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys", abstract: "Create, list and revoke API keys.",
        subcommands: [Create.self, List.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a key and print its token (shown once).")

        @Option(help: "A name that says who uses the key.") var name: String
        @Option(help: "Comma-separated scopes: \(APIScope.allCases.map(\.rawValue).joined(separator: ", ")).") var scopes: String
        @Option(name: .customLong("rate-limit"), help: "Requests per minute.") var rateLimit: Int = 600

        func validate() throws {
            for scope in scopes.split(separator: ",") where APIScope(rawValue: scope.trimmingCharacters(in: .whitespaces)) == nil {
                throw ValidationError("unknown scope '\(scope)'")
            }
            guard (1...1_000_000).contains(rateLimit) else { throw ValidationError("--rate-limit must be in 1...1000000") }
        }

        func run() async throws {
            let environment = try bootstrappedEnvironment(service: ProfileAPIService.name)
            let scopes = scopes.split(separator: ",").compactMap { APIScope(rawValue: $0.trimmingCharacters(in: .whitespaces)) }
            let (key, token) = try await withDatabase(environment) { [name, rateLimit] client in
                try await client.transaction(logger: environment.logger) { tx in
                    try await APIKeyStore.create(name: name, scopes: scopes, rateLimitPerMinute: rateLimit, on: tx, logger: environment.logger)
                }
            }
            print("created key \(key.prefix) (\(scopes.map(\.rawValue).joined(separator: ","))); token, shown once:")
            print(token)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List keys (never their secrets).")

        func run() async throws {
            let environment = try bootstrappedEnvironment(service: ProfileAPIService.name)
            let keys = try await withDatabase(environment) { client in try await APIKeyStore.list(client: client, logger: environment.logger) }
            for key in keys { print(key.jsonText) }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a key by its prefix.")

        @Argument(help: "The key's prefix (the part after pb_).") var prefix: String

        func run() async throws {
            let environment = try bootstrappedEnvironment(service: ProfileAPIService.name)
            let revoked = try await withDatabase(environment) { [prefix] client in
                try await client.transaction(logger: environment.logger) { tx in
                    try await APIKeyStore.revoke(prefix: prefix, on: tx, logger: environment.logger)
                }
            }
            print(revoked ? "revoked \(prefix)" : "no active key with prefix \(prefix)")
            if !revoked { throw ExitCode(1) }
        }
    }
}
