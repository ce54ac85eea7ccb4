import Foundation
import NIOSSL
import PostgresNIO

/// TLS to PostgreSQL as DATABASE_URL's `sslmode` and `sslrootcert` ask for it, with libpq's meaning
/// (https://www.postgresql.org/docs/15/libpq-ssl.html), so a URL that works with psql protects the
/// connection the same way here, or is refused at start.
public struct DatabaseTLS: Sendable, Equatable {
    /// libpq's `sslmode` values.
    public enum Mode: String, Sendable, CaseIterable {
        /// No TLS.
        case disable
        /// libpq tries a plain connection first and TLS if the server insists. postgres-nio cannot
        /// start plain and then switch, so this behaves as `prefer`: TLS first, which is the safer order.
        case allow
        /// TLS when the server offers it, plain otherwise (libpq's default); the certificate is
        /// checked only against a given `sslrootcert`. Unlike libpq, a failed TLS handshake is not
        /// retried without TLS.
        case prefer
        /// TLS or no connection; the certificate is not checked unless `sslrootcert` is given,
        /// in which case it is checked as for `verify-ca` (as libpq does when it finds a root file).
        case require
        /// TLS, and the server's certificate must chain to `sslrootcert`.
        case verifyCA = "verify-ca"
        /// As `verify-ca`, and the certificate must name the host of the URL (DNS name or IP address).
        case verifyFull = "verify-full"
    }

    /// Where the certificates that may sign the server's come from (`sslrootcert`).
    public enum RootCertificates: Sendable, Equatable {
        /// A PEM file of CA certificates.
        case file(String)
        /// The operating system's trust store (`sslrootcert=system`, as in libpq 16).
        case system
    }

    public var mode: Mode
    public var rootCertificates: RootCertificates?

    public init(mode: Mode, rootCertificates: RootCertificates? = nil) {
        self.mode = mode
        self.rootCertificates = rootCertificates
    }

    /// Checks `sslmode` and `sslrootcert` of `variable`: an unknown mode, a verifying mode without
    /// root certificates or a root file that cannot be read is a configuration error, never TLS off.
    public init(sslmode: String?, sslrootcert: String?, variable: String) throws {
        // Without sslmode libpq prefers TLS; so do we.
        let name = sslmode ?? Mode.prefer.rawValue
        guard let mode = Mode(rawValue: name) else {
            throw ConfigError(variable: variable, message: "sslmode=\(name) is not one of \(Mode.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        var roots: RootCertificates?
        switch sslrootcert {
        case nil, "": roots = nil
        case "system":
            // libpq 16 refuses the system store with a weaker mode: any public CA could then vouch
            // for any host name, so only the host name check makes it meaningful.
            guard mode == .verifyFull else {
                throw ConfigError(variable: variable, message: "sslrootcert=system needs sslmode=verify-full (got sslmode=\(name))")
            }
            roots = .system
        case let path?:
            guard FileManager.default.isReadableFile(atPath: path) else {
                throw ConfigError(variable: variable, message: "sslrootcert=\(path) cannot be read")
            }
            roots = .file(path)
        }
        // libpq falls back to ~/.postgresql/root.crt; a service's home folder is no place for its
        // trust anchors, so the file is named explicitly.
        if roots == nil, mode == .verifyCA || mode == .verifyFull {
            throw ConfigError(variable: variable,
                              message: "sslmode=\(name) needs sslrootcert=<CA certificate file> (or sslrootcert=system with verify-full)")
        }
        self.init(mode: mode, rootCertificates: roots)
    }

    /// The NIOSSL settings of the modes that use TLS; nil for `disable`.
    public var configuration: TLSConfiguration? {
        guard mode != .disable else { return nil }
        var configuration = TLSConfiguration.makeClientConfiguration()
        switch rootCertificates {
        case .file(let path): configuration.trustRoots = .file(path)
        case .system: configuration.trustRoots = .default
        case nil: break
        }
        switch (mode, rootCertificates) {
        case (.verifyFull, _): configuration.certificateVerification = .fullVerification
        case (_, _?): configuration.certificateVerification = .noHostnameVerification
        default: configuration.certificateVerification = .none
        }
        return configuration
    }

    /// For `PostgresClient`, the pool every service queries through.
    public var client: PostgresClient.Configuration.TLS {
        guard let configuration else { return .disable }
        switch mode {
        case .allow, .prefer: return .prefer(configuration)
        default: return .require(configuration)
        }
    }

    /// For a single `PostgresConnection` (LISTEN), the same mapping.
    public func connection() throws -> PostgresConnection.Configuration.TLS {
        guard let configuration else { return .disable }
        let context = try NIOSSLContext(configuration: configuration)
        switch mode {
        case .allow, .prefer: return .prefer(context)
        default: return .require(context)
        }
    }
}
