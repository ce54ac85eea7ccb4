import Foundation

/// A PostgreSQL cluster with TLS on and a certificate from a CA made for the test, run by
/// `scripts/tls-test-server` (openssl and the PostgreSQL binaries; it installs them as root on
/// Debian, as CI runs). A missing prerequisite fails the test with the script's message.
struct TLSTestServer: Sendable {
    let port: Int
    /// The CA that signed the server's certificate, which names only `localhost`.
    let caFile: String
    /// A CA that signed nothing the server presents.
    let otherCAFile: String

    static let script = RepositoryPaths.root.appendingPathComponent("scripts/tls-test-server").path

    /// Starts a cluster, runs `body`, then stops the cluster and removes its folder.
    static func with<T: Sendable>(_ body: @Sendable (TLSTestServer) async throws -> T) async throws -> T {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pb-tls-" + UUID().uuidString.prefix(8).lowercased()).path
        let output = try await run("start", folder)
        guard let port = Int(output.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw TestSetupError("\(script) start printed no port: \(output)")
        }
        let server = TLSTestServer(port: port, caFile: folder + "/certs/ca.crt", otherCAFile: folder + "/certs/other-ca.crt")
        let result: Result<T, any Error>
        do { result = .success(try await body(server)) } catch { result = .failure(error) }
        _ = try await run("stop", folder)
        return try result.get()
    }

    /// `postgres://postgres@host:port/postgres` with `query` appended.
    func url(host: String, _ query: String) -> String {
        "postgres://postgres@\(host):\(port)/postgres?\(query)"
    }

    /// Runs the script without blocking a thread of the test's executor; its standard output.
    private static func run(_ arguments: String...) async throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [script] + arguments
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            process.terminationHandler = { _ in continuation.resume() }
            do { try process.run() } catch { continuation.resume(throwing: error) }
        }
        // Read after the wait, which also keeps `process` alive while its child runs.
        let status = process.terminationStatus
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        guard status == 0 else {
            let reason = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            throw TestSetupError("\(script) \(arguments.joined(separator: " ")) failed (\(status)): \(reason)")
        }
        return text
    }
}
