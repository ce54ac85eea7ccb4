/// A tracked website as the collector needs it: who may write, and its privacy settings.
struct Site: Sendable, Equatable {
    enum ConsentMode: String, Sendable { case none, require, strip }
    enum BotPolicy: String, Sendable { case flag, drop }
    enum IPStorage: String, Sendable { case truncate, none }

    let id: Int64
    let slug: String
    let allowedOrigins: [String]
    let consentMode: ConsentMode
    let honorDNT: Bool
    let honorGPC: Bool
    let botPolicy: BotPolicy
    let ipStorage: IPStorage
    /// Key of the user hashes that verify a browser's identify (NULL in `sites`: none verify).
    let identitySecret: String?

    /// `*` in allowed_origins admits every origin; an empty list admits no browser origin.
    func allows(origin: String) -> Bool {
        allowedOrigins.contains("*") || allowedOrigins.contains(origin)
    }
}
