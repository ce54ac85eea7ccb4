import ArgumentParser
import Foundation

/// `profile-api dashboard hash-password`: turns the administrator's password (read from stdin,
/// never from the command line, where other users and the shell history would see it) into the
/// value of `DASHBOARD_ADMIN_PASSWORD_HASH`.
struct DashboardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "dashboard", abstract: "Dashboard administration.",
                                                    subcommands: [HashPassword.self])

    struct HashPassword: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "hash-password",
            abstract: "Read a password from stdin and print its hash for DASHBOARD_ADMIN_PASSWORD_HASH.",
            discussion: "The first line of stdin is the password (at least \(AdminCredential.minimumPasswordLength) characters). "
                + "On a terminal it is not echoed. Example: profile-api dashboard hash-password < password.txt")

        @Option(help: "PBKDF2-HMAC-SHA256 rounds (at least \(AdminCredential.minimumRounds)).")
        var rounds = AdminCredential.defaultRounds

        func validate() throws {
            guard rounds >= AdminCredential.minimumRounds, rounds <= 100_000_000 else {
                throw ValidationError("--rounds must be in \(AdminCredential.minimumRounds)...100000000")
            }
        }

        func run() async throws {
            let interactive = isatty(STDIN_FILENO) == 1
            if interactive { FileHandle.standardError.write(Data("Password (not shown): ".utf8)) }
            let line = Self.withoutEcho(interactive) { readLine(strippingNewline: true) }
            if interactive { FileHandle.standardError.write(Data("\n".utf8)) }
            guard let password = line, password.count >= AdminCredential.minimumPasswordLength else {
                throw ValidationError("the password must have at least \(AdminCredential.minimumPasswordLength) characters")
            }
            print(try AdminCredential.hash(password: password, rounds: rounds))
        }

        /// Runs `body` with the terminal's echo off when stdin is a terminal.
        private static func withoutEcho<T>(_ interactive: Bool, _ body: () -> T) -> T {
            guard interactive else { return body() }
            var saved = termios()
            tcgetattr(STDIN_FILENO, &saved)
            var quiet = saved
            quiet.c_lflag &= ~tcflag_t(ECHO)
            tcsetattr(STDIN_FILENO, TCSANOW, &quiet)
            defer { tcsetattr(STDIN_FILENO, TCSANOW, &saved) }
            return body()
        }
    }
}
